/**
 * Masking's strict mode (issue #13) against real PostgreSQL 15 through the gateway: a
 * table-driven evasion suite (aliases, functions, casts, row_to_json, substr/left prefixes,
 * predicates, ORDER BY, GROUP BY, join conditions, whole rows, CTEs, subqueries, views,
 * prepared statements) where the client gets a masked value or a refusal for each, and a scan
 * of the stored recordings, the query log and the search index finds no masked value in clear;
 * then a corpus of ordinary statements that run unchanged.
 *
 * The policy has column rules only (no value rules), so nothing but strict mode stands between
 * a trick and the value: with `basic` every refused case below returns it in clear.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toQueryLog } from '../../shared/recording/queryLog.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import {
  type PostgresResource,
  type PostgresTestBed,
  startPostgresTestBed,
} from '../harness/postgresTestBed.ts';

const SECRETS = [
  'alice@example.com',
  'bob@example.org',
  '123-45-6789',
  '987-65-4321',
  '4111111111111111',
];
/** Parts of them a prefix trick would show. */
const PREFIXES = ['123-4', '987-6', 'alice@', 'bob@'];

/** Each: a query, and what the client must see — the masked rows, or a refusal naming `rule`. */
type Case =
  | { name: string; sql: string; values?: unknown[]; rows: unknown[][] }
  | { name: string; sql: string; values?: unknown[]; refused: string; mentions: string };

// biome-ignore format: one case a line reads as a table
const CASES: Case[] = [
  { name: 'plain output', sql: 'SELECT id, ssn, email FROM customers ORDER BY id', rows: [[1, '****', '****'], [2, '****', '****']] },
  { name: 'qualified through an alias', sql: 'SELECT c.ssn FROM public.customers c WHERE c.id = 1', rows: [['****']] },
  { name: 'SELECT *', sql: 'SELECT * FROM customers WHERE id = 1', rows: [[1, 'Alice', '****', '****', '****']] },
  { name: 'column alias', sql: 'SELECT ssn AS x FROM customers', refused: 'ssn-column', mentions: 'renamed to "x"' },
  { name: 'function', sql: 'SELECT upper(email) FROM customers', refused: 'email-column', mentions: 'upper()' },
  { name: 'cast', sql: 'SELECT ssn::varchar(20) FROM customers', refused: 'ssn-column', mentions: 'a cast' },
  { name: 'concatenation', sql: "SELECT ssn || '' FROM customers", refused: 'ssn-column', mentions: 'an expression' },
  { name: 'row_to_json', sql: 'SELECT row_to_json(c) FROM customers c', refused: 'strict_lineage', mentions: 'whole row' },
  { name: 'whole row as a value', sql: 'SELECT c FROM customers c', refused: 'strict_lineage', mentions: 'whole row' },
  { name: 'c.* inside an expression', sql: 'SELECT to_json(c.*) FROM customers c', refused: 'strict_lineage', mentions: 'c.*' },
  { name: 'substr prefix', sql: 'SELECT substr(ssn, 1, 5) FROM customers', refused: 'ssn-column', mentions: 'substr()' },
  { name: 'left prefix', sql: 'SELECT left(email, 6) FROM customers', refused: 'email-column', mentions: 'left()' },
  { name: 'predicate inference', sql: "SELECT id FROM customers WHERE ssn LIKE '123-4%'", refused: 'ssn-column', mentions: 'WHERE' },
  { name: 'ORDER BY', sql: 'SELECT id FROM customers ORDER BY ssn', refused: 'ssn-column', mentions: 'ORDER BY' },
  { name: 'ORDER BY position', sql: 'SELECT ssn FROM customers ORDER BY 1', refused: 'ssn-column', mentions: 'ORDER BY' },
  { name: 'GROUP BY', sql: 'SELECT ssn, count(*) FROM customers GROUP BY ssn', refused: 'ssn-column', mentions: 'GROUP BY' },
  { name: 'join ON', sql: 'SELECT o.id FROM orders o JOIN customers c ON c.card = o.note', refused: 'card-column', mentions: 'join condition' },
  { name: 'CTE renaming', sql: 'WITH s(x) AS (SELECT ssn FROM customers) SELECT x FROM s', refused: 'ssn-column', mentions: 'renamed to "x"' },
  { name: 'CTE passing through', sql: 'WITH s AS (SELECT id, ssn FROM customers) SELECT * FROM s ORDER BY id', rows: [[1, '****'], [2, '****']] },
  { name: 'subquery renaming', sql: 'SELECT * FROM (SELECT email AS contact FROM customers) s', refused: 'email-column', mentions: 'renamed' },
  { name: 'scalar subquery', sql: 'SELECT (SELECT ssn FROM customers WHERE id = 1) AS x', refused: 'ssn-column', mentions: 'a value passed on' },
  { name: 'UNION into an unmasked name', sql: 'SELECT name FROM customers UNION SELECT ssn FROM customers', refused: 'ssn-column', mentions: 'a value passed on' },
  { name: 'view renaming, created in the session', sql: 'CREATE VIEW contacts AS SELECT email AS contact FROM customers', refused: 'email-column', mentions: 'renamed' },
  { name: 'a view that renames a masked column', sql: 'SELECT * FROM contact_list', refused: 'email-column', mentions: 'the view public.contact_list is refused' },
  { name: 'a view that shows it under its name', sql: 'SELECT * FROM public.ssn_list ORDER BY id', rows: [[1, '****'], [2, '****']] },
  { name: 'copy into another table', sql: 'INSERT INTO orders (id, note) SELECT id + 10, ssn FROM customers', refused: 'ssn-column', mentions: 'a value passed on' },
  { name: 'rename the column', sql: 'ALTER TABLE customers RENAME COLUMN ssn TO x', refused: 'ssn-column', mentions: 'rename' },
  { name: 'a function whose body reads the table', sql: 'SELECT leak_ssn(1)', refused: 'strict_functions', mentions: 'leak_ssn()' },
  { name: 'a catalog function that reads a whole table', sql: "SELECT pg_catalog.table_to_xml('customers', true, false, '')", refused: 'strict_functions', mentions: 'table_to_xml()' },
  { name: 'DO block', sql: "DO $$BEGIN RAISE NOTICE '%', (SELECT ssn FROM customers LIMIT 1); END$$", refused: 'strict_functions', mentions: 'DO' },
  { name: 'Parse: predicate with a parameter', sql: 'SELECT id FROM customers WHERE ssn = $1', values: ['000-00-0000'], refused: 'ssn-column', mentions: 'WHERE' },
  { name: 'Parse: function of a masked column', sql: 'SELECT left(ssn, $1) FROM customers', values: [5], refused: 'ssn-column', mentions: 'left()' },
  { name: 'Parse: plain output', sql: 'SELECT ssn FROM customers WHERE id = $1', values: [2], rows: [['****']] },
];

/** Ordinary statements on unmasked columns and tables: strict mode changes nothing. */
// biome-ignore format: one statement a line reads as a table
const ORDINARY: { sql: string; rows?: unknown[][] }[] = [
  { sql: 'SELECT id, name FROM customers ORDER BY name DESC', rows: [[2, 'Bob'], [1, 'Alice']] },
  { sql: "SELECT lower(name), length(name) FROM customers WHERE name LIKE 'A%'", rows: [['alice', 5]] },
  { sql: 'SELECT count(*)::int, max(id) FROM customers', rows: [[2, 2]] },
  { sql: "SELECT 'ssn' AS word, $$email$$ AS dollar /* card */, 1 AS \"select\"", rows: [['ssn', 'email', 1]] },
  { sql: 'SELECT c.name, o.note FROM customers c JOIN orders o ON o.customer_id = c.id ORDER BY o.id', rows: [['Alice', 'first'], ['Bob', 'second']] },
  { sql: 'SELECT name FROM customers WHERE id IN (SELECT customer_id FROM orders) ORDER BY 1', rows: [['Alice'], ['Bob']] },
  { sql: 'SELECT id FROM customers WHERE EXISTS (SELECT * FROM orders WHERE customer_id = customers.id) ORDER BY id', rows: [[1], [2]] },
  { sql: 'SELECT id FROM orders ORDER BY id FOR UPDATE', rows: [[1], [2]] },
  { sql: "INSERT INTO orders VALUES (1, 1, 'again') ON CONFLICT (id) DO UPDATE SET note = EXCLUDED.note" },
  { sql: "UPDATE customers SET name = 'Alice' WHERE id = 1" },
  { sql: "DELETE FROM orders WHERE note = 'none'" },
  { sql: 'SELECT x, now() IS NOT NULL FROM generate_series(1, 2) AS g(x)', rows: [[1, true], [2, true]] },
  { sql: 'SELECT name, row_number() OVER (ORDER BY id)::int FROM customers ORDER BY id', rows: [['Alice', 1], ['Bob', 2]] },
];

describeWithPostgres(
  'Strict masking against a determined user (issue #13, real PostgreSQL 15)',
  () => {
    let bed: PostgresTestBed;
    let resource: PostgresResource;
    const sessions: string[] = [];

    beforeAll(async () => {
      bed = await startPostgresTestBed();
      // No maskingMode: a policy written through the API is strict.
      resource = await bed.addResource('db-strict', {
        policy: {
          masking: [
            { name: 'ssn-column', match: { kind: 'column', pattern: '^ssn$' }, style: 'full' },
            { name: 'email-column', match: { kind: 'column', pattern: '^email$' }, style: 'full' },
            { name: 'card-column', match: { kind: 'column', pattern: '^card$' }, style: 'full' },
          ],
        },
      });
      const setup = new pg.Client({ connectionString: resource.directUrl });
      await setup.connect();
      await setup.query(
        `CREATE TABLE customers (id int PRIMARY KEY, name text, email text, ssn text, card text);
       INSERT INTO customers VALUES (1, 'Alice', 'alice@example.com', '123-45-6789', '4111111111111111'),
                                    (2, 'Bob', 'bob@example.org', '987-65-4321', '5500000000000004');
       CREATE TABLE orders (id int PRIMARY KEY, customer_id int, note text);
       INSERT INTO orders VALUES (1, 1, 'first'), (2, 2, 'second');
       -- Views made before the session, which the gateway reads from the catalog at start.
       CREATE VIEW contact_list AS SELECT id, email AS contact FROM customers;
       CREATE VIEW ssn_list AS SELECT id, ssn FROM customers;
       CREATE FUNCTION leak_ssn(int) RETURNS text LANGUAGE sql AS
         'SELECT ssn FROM customers WHERE id = $1';`,
      );
      await setup.end();
    });
    afterAll(async () => {
      await bed?.close();
    });

    it('the policy reads back as strict', async () => {
      const answer = await bed.gw.request('GET', `/v1/resources/${resource.id}`, {
        token: bed.adminToken,
      });
      expect((answer.json as { policy: { maskingMode: string } }).policy.maskingMode).toBe(
        'strict',
      );
    });

    it('every evasion gets a masked value or a refusal naming the column and rule', async () => {
      const { client, sessionId } = await bed.openPg('db-strict');
      sessions.push(sessionId);
      const seen: string[] = [];
      for (const testCase of CASES) {
        const query = { text: testCase.sql, values: testCase.values, rowMode: 'array' as const };
        const outcome = await client.query(query).then(
          (result) => ({ rows: result.rows as unknown[][] }),
          (error: pg.DatabaseError) => ({ error }),
        );
        seen.push(JSON.stringify(outcome));
        if ('rows' in testCase) {
          expect(outcome, testCase.name).toEqual({ rows: testCase.rows });
        } else {
          expect('error' in outcome, `${testCase.name} must be refused`).toBe(true);
          if (!('error' in outcome)) continue;
          expect(outcome.error.code, testCase.name).toBe('42501');
          expect(outcome.error.message, testCase.name).toContain('blocked by strict masking');
          expect(outcome.error.message, testCase.name).toContain(testCase.mentions);
          if (testCase.refused.endsWith('-column')) {
            expect(outcome.error.message, testCase.name).toContain(`"${testCase.refused}"`);
          }
        }
      }
      await client.end();
      for (const secret of [...SECRETS, ...PREFIXES]) expect(seen.join('\n')).not.toContain(secret);
      // Nothing refused ran: the column is still there under its name, no view was created.
      const check = new pg.Client({ connectionString: resource.directUrl });
      await check.connect();
      const { rows } = await check.query(
        "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'customers' AND column_name = 'ssn'",
      );
      expect(rows).toEqual([{ n: 1 }]);
      expect((await check.query("SELECT to_regclass('contacts') AS v")).rows).toEqual([
        { v: null },
      ]);
      await check.end();
    });

    it('runs ordinary statements unchanged (no false positives)', async () => {
      const { client, sessionId } = await bed.openPg('db-strict');
      sessions.push(sessionId);
      for (const { sql, rows } of ORDINARY) {
        const result = await client.query({ text: sql, rowMode: 'array' });
        if (rows !== undefined) expect(result.rows, sql).toEqual(rows);
      }
      await client.end();
    });

    it("psql's describe commands run (their catalog functions are pg_catalog's)", async () => {
      const session = await bed.newSession('db-strict');
      sessions.push(session.sessionId);
      const result = await bed.psql(session, [
        '-X',
        '-c',
        '\\d customers',
        '-c',
        '\\dv',
        '-c',
        '\\df',
      ]);
      expect(result.stderr, result.stderr).toBe('');
      expect(result.stdout).toMatch(/Table "public\.customers"/);
      expect(result.stdout).toMatch(/contact_list/);
      expect(result.stdout).toMatch(/leak_ssn/);
    });

    it('records each refusal with its rule, and leaves no masked value in any stored form', async () => {
      const services = bed.gw.gateway.services;
      const rulesSeen = new Set<string>();
      for (const sessionId of sessions) {
        const events = await bed.verifiedRecording(sessionId);
        const row = await services.store.getRecording(sessionId);
        const stored: Buffer[] = [];
        for await (const chunk of services.recordings.open(row!)) stored.push(chunk);
        const bytes = Buffer.concat(stored);
        const log: string[] = [];
        for await (const line of toQueryLog(events)) {
          log.push(line);
          const parsed = JSON.parse(line) as { blocked?: { rule: string } };
          if (parsed.blocked) rulesSeen.add(parsed.blocked.rule);
        }
        let indexed = await services.store.listRecordingText(sessionId);
        for (let i = 0; i < 100 && indexed.length === 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          indexed = await services.store.listRecordingText(sessionId);
        }
        expect(indexed.length, sessionId).toBeGreaterThan(0);
        const searchText = indexed.map((entry) => entry.text).join('\n');
        // The scan can see values: the masked rows are there as sent.
        if (sessionId === sessions[0]) expect(bytes.includes('****')).toBe(true);
        for (const secret of SECRETS) {
          expect(bytes.includes(secret), `${secret} in the recording of ${sessionId}`).toBe(false);
          expect(log.join(''), `${secret} in the query log of ${sessionId}`).not.toContain(secret);
          expect(searchText, `${secret} in the search index of ${sessionId}`).not.toContain(secret);
        }
      }
      expect([...rulesSeen].sort()).toEqual([
        'card-column',
        'email-column',
        'ssn-column',
        'strict_functions',
        'strict_lineage',
      ]);
      // Counted per resource and rule.
      const counts = bed.postgres.refusals.list().filter((entry) => entry.resource === 'db-strict');
      expect(counts.find((entry) => entry.rule === 'ssn-column')?.count).toBeGreaterThan(5);
    });
  },
);
