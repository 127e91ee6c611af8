/**
 * The guardrails against a real PostgreSQL 15: every query is sent as one simple Query (what
 * `psql -c` and the proxy see), and whatever the server actually did must agree with the
 * verdict. Reading a query differently from the server is the whole risk here; with
 * PostgreSQL's own parser (sqlParse.ts) a query either parses as the server parses it, or does
 * not parse at all (and is then refused by the session policy).
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  describeWithPostgres,
  freshPostgresDatabase,
} from '../../test/harness/postgresForTests.ts';
import { compileGuardrails } from './guardrails.ts';
import { BUILTIN_TYPE_OIDS } from './masking.ts';
import { loadSqlParser } from './sqlParse.ts';

const parser = await loadSqlParser();

const guardrails = compileGuardrails([
  { kind: 'statement', name: 'no-drop', classes: ['drop'] },
  {
    kind: 'statement',
    name: 'no-mass-writes',
    classes: ['delete_without_where', 'update_without_where', 'merge_modify'],
  },
]);

/**
 * The verdict agrees with what the server did: a query that parses is blocked exactly when
 * the server destroyed something; one that does not parse is refused by the session policy.
 */
function expectAgreement(sql: string, serverDestroyed: boolean): void {
  const parsed = parser.parse(sql);
  // Refused as unparsable, whatever the server would do: the safe direction. (libpg_query
  // 15-4.2.4 does not take a comment inside a string continuation, which PostgreSQL 15.20
  // does: such a query is refused under a policy; see the case below.)
  if (!parsed.ok) return;
  expect(guardrails.check(parsed.statements).blocked, sql).toBe(serverDestroyed);
}

/** Queries that hide (or seem to hide) `DROP TABLE x`; the verdict must match what the server ran. */
const dropCases = [
  "SELECT ';'; DROP TABLE x",
  "SELECT 'it''s;'; DROP TABLE x",
  'SELECT $$;$$; DROP TABLE x',
  'SELECT $b$ $$; $b$; DROP TABLE x',
  'SELECT 1 AS x$$; DROP TABLE x; --$$',
  "SELECT E'\\''; DROP TABLE x; --'",
  "SELECT E'a'\n'\\''; DROP TABLE x; --'",
  "SELECT 'a'\n  -- c\n'b;'; DROP TABLE x",
  'SELECT 1 /* a /* b */ c */; DROP TABLE x',
  'SELECT 1 +--;\n2; DROP TABLE x',
  'DROP/**/TABLE x',
  '--c\nDROP TABLE x',
  "SELECT U&'\\0041;'; DROP TABLE x",
  'SELECT "a;""b" FROM (SELECT 1 AS "a;""b") s; DROP TABLE x',
  'SELECT 1 AS e$; SELECT $a1$;$a1$; DROP TABLE x',
  `DROP TABLE U&"!0078" UESCAPE '!'`,
  `SELECT U&'!0027' UESCAPE '!'; DROP TABLE x`,
  "SELECT 'a' 'b'; DROP TABLE x",
  "SELECT B'01'; DROP TABLE x",
  "SELECT X'1f'; DROP TABLE x",
  'SELECT 1 AS "x""; DROP TABLE x; --"',
  'EXPLAIN ANALYZE DROP TABLE x',
  'PREPARE p AS SELECT 1; DROP TABLE x',
  // The server keeps these as one harmless statement; the guardrail must not block them.
  "SELECT E'\\'; DROP TABLE x; --'",
  'SELECT $q$ DROP TABLE x; $q$',
  "SELECT 'DROP TABLE x'",
  '-- DROP TABLE x\nSELECT 1',
  '/* DROP TABLE x; */ SELECT 1',
];

/** Statements that may change every row of t; the verdict must match what the server did. */
const writeCases = [
  'DELETE FROM t',
  'DELETE FROM t USING (SELECT 1 WHERE true) s',
  'DELETE FROM t RETURNING (SELECT 1 WHERE true)',
  'WITH x AS (SELECT 1 WHERE true) DELETE FROM t',
  'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d WHERE true',
  'EXPLAIN ANALYZE DELETE FROM t',
  'EXPLAIN (ANALYZE) DELETE FROM t',
  'EXPLAIN ("analyze") DELETE FROM t',
  'EXPLAIN (ANALYZE 1, COSTS off) UPDATE t SET a = 1',
  'UPDATE t SET a = 1',
  'UPDATE t SET a = (SELECT 1 WHERE true)',
  'UPDATE t SET a = u.a FROM u',
  'UPDATE ONLY public.t AS z SET a = 1',
  `UPDATE U&"!0074" UESCAPE '!' SET a = 1`,
  'DELETE FROM t WHERE true',
  'DELETE FROM t WHERE 1=1',
  'UPDATE t SET a = 1 WHERE id = id',
  'MERGE INTO t USING (SELECT 1) s ON true WHEN MATCHED THEN DELETE',
  'DELETE FROM t WHERE id = 1',
  'WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d',
  'UPDATE t SET a = 1 WHERE id = 1',
  'UPDATE t SET a = u.a FROM u WHERE t.id = 1',
  'EXPLAIN DELETE FROM t',
  'EXPLAIN (ANALYZE false) DELETE FROM t',
  "EXPLAIN (ANALYZE 'off', COSTS off) DELETE FROM t",
  'SELECT * FROM t FOR UPDATE',
  'SELECT delete FROM t',
  'SELECT 1 AS delete FROM t',
  'INSERT INTO t VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET a = 1',
];

describeWithPostgres('guardrails agree with PostgreSQL', () => {
  let client: pg.Client;

  beforeAll(async () => {
    client = new pg.Client({ connectionString: await freshPostgresDatabase() });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
  });

  /** Runs one simple Query; a server error is an outcome, not a failure. */
  async function run(sql: string): Promise<void> {
    try {
      await client.query(sql);
    } catch {
      // e.g. a syntax error: then nothing of the message ran
    }
  }

  it('refuses the one divergence found: a comment inside a string continuation', async () => {
    const sql = "SELECT 'a'\n  -- c\n'b;'; DROP TABLE x";
    await client.query('DROP TABLE IF EXISTS x; CREATE TABLE x (a int)');
    await run(sql);
    const { rows } = await client.query<{ gone: boolean }>(
      "SELECT to_regclass('x') IS NULL AS gone",
    );
    expect(rows[0]!.gone).toBe(true); // the server runs the DROP
    expect(parser.parse(sql).ok).toBe(false); // the parser refuses the text: refused, not missed
  });

  it.each(dropCases)('%j', async (sql) => {
    await client.query('DROP TABLE IF EXISTS x; CREATE TABLE x (a int)');
    await run(sql);
    const { rows } = await client.query<{ gone: boolean }>(
      "SELECT to_regclass('x') IS NULL AS gone",
    );
    expectAgreement(sql, rows[0]!.gone);
  });

  it('reads backslashes as the server does with standard_conforming_strings on (which the session keeps)', async () => {
    for (const sql of ["SELECT 'a\\'; DROP TABLE x; --'", "SELECT '\\''; DROP TABLE x; --'"]) {
      await client.query('DROP TABLE IF EXISTS x; CREATE TABLE x (a int)');
      await run(sql);
      const { rows } = await client.query<{ gone: boolean }>(
        "SELECT to_regclass('x') IS NULL AS gone",
      );
      expectAgreement(sql, rows[0]!.gone);
    }
  });

  it.each(writeCases)('%j', async (sql) => {
    await client.query(`
      DROP TABLE IF EXISTS t, u;
      CREATE TABLE t (id int PRIMARY KEY, a int, delete int);
      INSERT INTO t VALUES (1, 0, 0), (2, 0, 0);
      CREATE TABLE u (a int);
      INSERT INTO u VALUES (5);`);
    await run(sql);
    const { rows } = await client.query<{ remaining: number; untouched: number }>(
      'SELECT count(*)::int AS remaining, (count(*) FILTER (WHERE a = 0))::int AS untouched FROM t',
    );
    const everyRow = rows[0]!.remaining === 0 || rows[0]!.untouched === 0;
    expectAgreement(sql, everyRow);
  });

  it('uses the OIDs the server has for every built-in type the masking table names', async () => {
    const { rows } = await client.query<{ typname: string; oid: number }>(
      `SELECT typname, oid::int FROM pg_type
        WHERE typnamespace = 'pg_catalog'::regnamespace AND typname = ANY($1)`,
      [[...BUILTIN_TYPE_OIDS.keys()]],
    );
    expect(Object.fromEntries(rows.map((row) => [row.typname, row.oid]))).toEqual(
      Object.fromEntries(BUILTIN_TYPE_OIDS),
    );
  });
});
