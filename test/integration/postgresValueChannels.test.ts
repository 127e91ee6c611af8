/**
 * Every channel a masked value can leave by (issue #13), against real PostgreSQL 15 through
 * the gateway, with psql (`COPY`, `\copy`) and node `pg`: COPY TO in text and CSV, notices,
 * errors (message, DETAIL, HINT), NOTIFY payloads, reported parameters, binary arrays and
 * records, bytea, whole rows. For each case the client gets a masked value or a refusal
 * (42501 naming the masking rules), and a scan of the whole stored recording, the JSON-lines
 * query log and the search index finds no protected value in clear.
 *
 * The queries themselves never contain a protected value: whatever a scan finds came back
 * from the database.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toQueryLog } from '../../shared/recording/queryLog.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import {
  errorFields,
  type PostgresResource,
  type PostgresTestBed,
  rawSession,
  startPostgresTestBed,
} from '../harness/postgresTestBed.ts';

/** What must never be stored or shown in clear, as stored in the table. */
const SECRETS = [
  'alice@example.com',
  'bob@example.org',
  '123-45-6789',
  '987-65-4321',
  '4111111111111111',
  '5500 0000 0000 0004',
];
/** The same values as bytea's hex would show them (`convert_to(email, 'UTF8')`). */
const HEX_SECRETS = SECRETS.map((secret) => Buffer.from(secret).toString('hex'));

const VERBOSE = ['-X', '-q', '-v', 'VERBOSITY=verbose'];

interface PsqlCase {
  name: string;
  args: string[];
  /** What psql prints (stdout and stderr together) must match. */
  shows: RegExp | string;
}

/** Each case runs in its own session through psql. */
const PSQL_CASES: PsqlCase[] = [
  {
    name: 'COPY table TO STDOUT (text)',
    args: ['-c', 'COPY customers TO STDOUT'],
    shows: '1\tAlice\t****\t****\t****\tcall ****\n2\tBob\t****\t****\t****\tcard ****\n',
  },
  {
    name: 'COPY (SELECT …) TO STDOUT (CSV, HEADER)',
    args: [
      '-c',
      'COPY (SELECT id, email, note FROM customers ORDER BY id) TO STDOUT (FORMAT csv, HEADER)',
    ],
    shows: 'id,email,note\n1,****,call ****\n2,****,card ****\n',
  },
  {
    name: 'COPY with a column list, CSV with another delimiter',
    args: ['-c', "COPY customers (ssn, note) TO STDOUT WITH CSV DELIMITER ';'"],
    shows: '****;call ****\n****;card ****\n',
  },
  {
    name: "psql's \\copy of a table",
    args: ['-c', '\\copy customers to stdout'],
    shows: '1\tAlice\t****\t****\t****\tcall ****\n2\tBob\t****\t****\t****\tcard ****\n',
  },
  {
    name: "psql's \\copy of a query, CSV",
    args: ['-c', '\\copy (select name, card from customers order by id) to stdout with csv'],
    shows: 'Alice,****\nBob,****\n',
  },
  {
    name: 'COPY in binary format: refused',
    args: [...VERBOSE, '-c', 'COPY customers TO STDOUT (FORMAT binary)'],
    shows:
      /ERROR: {2}42501: refused by the gateway: COPY in binary format cannot be masked \(masking rules "ssn-column"/,
  },
  {
    name: 'COPY to a server file: refused',
    args: [...VERBOSE, '-c', "COPY customers TO '/tmp/witness-valuechan-leak.txt'"],
    shows: /42501: refused by the gateway: COPY to a server file/,
  },
  {
    name: 'COPY after a statement that could change what it reads: refused',
    args: [...VERBOSE, '-c', 'SET search_path TO public; COPY customers TO STDOUT'],
    shows: /42501: refused by the gateway: COPY … TO must be the first statement of its query/,
  },
  {
    name: 'plpgsql RAISE NOTICE of a value',
    args: [
      '-c',
      "DO $$DECLARE e text; BEGIN SELECT email INTO e FROM customers WHERE id = 1; RAISE NOTICE 'found %', e; END$$",
    ],
    shows: 'NOTICE:  found ****\n',
  },
  {
    name: 'RAISE EXCEPTION with the value in message, DETAIL and HINT',
    args: [
      '-c',
      "DO $$DECLARE e text; BEGIN SELECT ssn INTO e FROM customers WHERE id = 2; RAISE EXCEPTION 'bad %', e USING DETAIL = e, HINT = 'try ' || e; END$$",
    ],
    shows: /ERROR: {2}bad \*\*\*\*\nDETAIL: {2}\*\*\*\*\nHINT: {2}try \*\*\*\*/,
  },
  {
    name: 'invalid input syntax quoting an SSN',
    args: ['-c', 'SELECT ssn::int FROM customers WHERE id = 1'],
    shows: 'ERROR:  invalid input syntax for type integer: "****"\n',
  },
  {
    name: 'invalid input syntax quoting an e-mail',
    args: ['-c', 'SELECT email::int FROM customers WHERE id = 2'],
    shows: 'ERROR:  invalid input syntax for type integer: "****"\n',
  },
  {
    name: 'unique violation DETAIL',
    args: ['-c', 'INSERT INTO customers (id, email) SELECT 3, email FROM customers WHERE id = 1'],
    shows: /DETAIL: {2}Key \(email\)=\(\*\*\*\*\) already exists\./,
  },
  {
    name: 'NOTIFY payload',
    args: ['-c', "LISTEN ch; SELECT pg_notify('ch', email) FROM customers WHERE id = 1"],
    shows: /Asynchronous notification "ch" with payload "\*\*\*\*" received/,
  },
  {
    name: 'a value reported back as a parameter (set_config of application_name)',
    args: [
      '-A',
      '-t',
      '-c',
      "SELECT set_config('application_name', note, false) FROM customers WHERE id = 2",
    ],
    shows: 'card ****\n',
  },
];

describeWithPostgres(
  'Every channel a masked value can leave by (issue #13, real PostgreSQL 15)',
  () => {
    let bed: PostgresTestBed;
    let resource: PostgresResource;
    const sessions: string[] = [];

    beforeAll(async () => {
      bed = await startPostgresTestBed();
      resource = await bed.addResource('db-channels', {
        policy: {
          // Basic: strict mode refuses most of these queries before they run
          // (postgresStrictMasking.test.ts); the channels must hold without it too.
          maskingMode: 'basic',
          masking: [
            { name: 'ssn-column', match: { kind: 'column', pattern: '^ssn$' }, style: 'full' },
            { name: 'email-column', match: { kind: 'column', pattern: '^email$' }, style: 'full' },
            { name: 'card-column', match: { kind: 'column', pattern: '^card$' }, style: 'full' },
            { name: 'emails', match: { kind: 'preset', preset: 'email' }, style: 'full' },
            { name: 'cards', match: { kind: 'preset', preset: 'card' }, style: 'full' },
            {
              name: 'ssns',
              match: { kind: 'value', pattern: '\\b\\d{3}-\\d{2}-\\d{4}\\b' },
              style: 'full',
            },
          ],
        },
      });
      const setup = new pg.Client({ connectionString: resource.directUrl });
      await setup.connect();
      await setup.query(
        `CREATE TABLE customers (id int PRIMARY KEY, name text, email text UNIQUE, ssn text,
         card text, note text);
       INSERT INTO customers VALUES
         (1, 'Alice', 'alice@example.com', '123-45-6789', '4111111111111111',
          'call alice@example.com'),
         (2, 'Bob', 'bob@example.org', '987-65-4321', '5500 0000 0000 0004',
          'card 5500 0000 0000 0004');`,
      );
      await setup.end();
    });
    afterAll(async () => {
      await bed?.close();
    });

    it.each(PSQL_CASES)('psql: $name', async ({ args, shows }) => {
      const session = await bed.newSession('db-channels');
      sessions.push(session.sessionId);
      const result = await bed.psql(session, args.includes('-X') ? args : ['-q', ...args]);
      const seen = result.stdout + result.stderr;
      if (typeof shows === 'string') expect(seen).toBe(shows);
      else expect(seen).toMatch(shows);
      for (const secret of SECRETS) expect(seen).not.toContain(secret);
    });

    it('pg: notices, notifications, binary arrays and records, bytea and whole rows', async () => {
      const { client, sessionId } = await bed.openPg('db-channels');
      sessions.push(sessionId);
      const notices: string[] = [];
      const payloads: string[] = [];
      client.on('notice', (notice) => notices.push(`${notice.message}|${notice.detail ?? ''}`));
      client.on('notification', (message) => payloads.push(message.payload ?? ''));
      await client.query(
        "DO $$DECLARE e text; BEGIN SELECT note INTO e FROM customers WHERE id = 2; RAISE NOTICE 'n %', e USING DETAIL = e; END$$",
      );
      await client.query('LISTEN ch');
      await client.query("SELECT pg_notify('ch', note) FROM customers WHERE id = 1");
      const binary = (text: string) =>
        client.query({ text, values: [1], binary: true, rowMode: 'array' } as pg.QueryArrayConfig);
      // Binary results: the gateway cannot write a mask into their layout, so they are NULL.
      expect((await binary('SELECT array[email, name] FROM customers WHERE id = $1')).rows).toEqual(
        [[null]],
      );
      expect((await binary('SELECT row(id, note) FROM customers WHERE id = $1')).rows).toEqual([
        [null],
      ]);
      expect(
        (await binary("SELECT convert_to(note, 'UTF8') FROM customers WHERE id = $1")).rows,
      ).toEqual([[null]]);
      // Nothing to hide: binary values pass as they are.
      const clean = await client.query({
        text: 'SELECT array[name] FROM customers WHERE id = $1',
        values: [1],
        binary: true,
        rowMode: 'array',
        types: { getTypeParser: () => (value: unknown) => value },
      } as pg.QueryArrayConfig);
      // The binary text[] as sent: header words, then the element's length and bytes.
      expect(String(clean.rows[0]?.[0]).endsWith('\u0005Alice')).toBe(true);
      const text = await client.query({
        text: "SELECT c, convert_to(name || ' ' || email, 'UTF8') AS b FROM customers c WHERE id = 1",
        rowMode: 'array',
        types: { getTypeParser: () => (value: string) => value },
      });
      expect(text.rows).toEqual([['(1,Alice,****,****,****,"call ****")', null]]);
      // A column named after a value by dynamic SQL.
      await client.query(
        "DO $$BEGIN EXECUTE format('CREATE TEMP VIEW named AS SELECT 1 AS %I', (SELECT email FROM customers WHERE id = 2)); END$$",
      );
      expect((await client.query('SELECT * FROM named')).fields.map((f) => f.name)).toEqual([
        '****',
      ]);
      await client.query('SELECT 1'); // the notification is delivered by now
      await client.end();
      expect(notices).toEqual(['n card ****|card ****']);
      expect(payloads).toEqual(['call ****']);
    });

    it('raw protocol: COPY in the simple protocol is masked, in the extended protocol refused', async () => {
      const session = await bed.newSession('db-channels');
      sessions.push(session.sessionId);
      const raw = await rawSession(bed, session);
      let from = raw.messages.length;
      raw.send({ type: 'Query', sql: 'COPY customers (id, ssn, note) TO STDOUT (FORMAT csv)' });
      await raw.waitFor((m) => m.type === 'ReadyForQuery', { from });
      const answer = raw.messages.slice(from);
      expect(answer.map((m) => m.type)).toEqual([
        'CopyOutResponse',
        'CopyData',
        'CopyData',
        'CopyDone',
        'CommandComplete',
        'ReadyForQuery',
      ]);
      expect(answer.map((m) => (m.type === 'CopyData' ? m.data.toString() : '')).join('')).toBe(
        '1,****,call ****\n2,****,card ****\n',
      );
      from = raw.messages.length;
      raw.send(
        { type: 'Parse', statement: '', sql: 'COPY customers TO STDOUT', parameterTypes: [] },
        {
          type: 'Bind',
          portal: '',
          statement: '',
          parameterFormats: [],
          parameters: [],
          resultFormats: [],
        },
        { type: 'Execute', portal: '', maxRows: 0 },
        { type: 'Sync' },
      );
      await raw.waitFor((m) => m.type === 'ReadyForQuery', { from });
      const refused = raw.messages.slice(from);
      expect(refused.map((m) => m.type)).toEqual(['ErrorResponse', 'ReadyForQuery']);
      expect(errorFields(refused[0]!)).toMatchObject({ C: '42501' });
      expect(errorFields(refused[0]!).M).toMatch(/extended protocol cannot be masked/);
      // Inside a transaction block: the gateway's Describe and Sync do not end it.
      const run = async (sql: string) => {
        const start = raw.messages.length;
        raw.send({ type: 'Query', sql });
        await raw.waitFor((m) => m.type === 'ReadyForQuery', { from: start });
        return raw.messages.slice(start);
      };
      await run('BEGIN');
      const inTransaction = await run('COPY customers (email) TO STDOUT; SELECT 1');
      expect(
        inTransaction
          .map((m) =>
            m.type === 'CommandComplete' ? m.tag : m.type === 'CopyData' ? m.data.toString() : '',
          )
          .join('|')
          .replace(/\|+/g, '|'),
      ).toBe('|****\n|****\n|COPY 2|SELECT 1|');
      expect(inTransaction.at(-1)).toMatchObject({ type: 'ReadyForQuery', status: 'T' });
      expect((await run('COMMIT')).at(-1)).toMatchObject({ type: 'ReadyForQuery', status: 'I' });
      raw.send({ type: 'Terminate' });
      await raw.closed;
    });

    it('leaves no protected value in any stored recording, query log or search index', async () => {
      expect(sessions.length).toBe(PSQL_CASES.length + 2);
      const services = bed.gw.gateway.services;
      for (const sessionId of sessions) {
        const events = await bed.verifiedRecording(sessionId);
        const row = await services.store.getRecording(sessionId);
        const stored: Buffer[] = [];
        for await (const chunk of services.recordings.open(row!)) stored.push(chunk);
        const bytes = Buffer.concat(stored);
        const log: string[] = [];
        for await (const line of toQueryLog(events)) log.push(line);
        // The index is written as the recording is: wait for this session's entries.
        let indexed = await services.store.listRecordingText(sessionId);
        for (let i = 0; i < 100 && indexed.length === 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 50));
          indexed = await services.store.listRecordingText(sessionId);
        }
        expect(indexed.length, sessionId).toBeGreaterThan(0);
        const searchText = indexed.map((entry) => entry.text).join('\n');
        // The scan can see values: the stored bytes hold the masked COPY rows as sent.
        if (sessionId === sessions[0]) expect(bytes.includes('\tcall ****\n')).toBe(true);
        for (const secret of [...SECRETS, ...HEX_SECRETS]) {
          expect(bytes.includes(secret), `${secret} in the recording of ${sessionId}`).toBe(false);
          expect(log.join(''), `${secret} in the query log of ${sessionId}`).not.toContain(secret);
          expect(searchText, `${secret} in the search index of ${sessionId}`).not.toContain(secret);
        }
      }
    });

    it('the query log shows COPY data and notices like rows', async () => {
      const events = await bed.verifiedRecording(sessions[0]!);
      const lines = [];
      for await (const line of toQueryLog(events)) lines.push(JSON.parse(line));
      expect(lines).toContainEqual(
        expect.objectContaining({
          sql: 'COPY customers TO STDOUT',
          rows: [
            ['1\tAlice\t****\t****\t****\tcall ****'],
            ['2\tBob\t****\t****\t****\tcard ****'],
          ],
          rowCount: 2,
          status: 'COPY 2',
        }),
      );
      const notice = PSQL_CASES.findIndex((c) => c.name.startsWith('plpgsql RAISE NOTICE'));
      const noticeLines = [];
      for await (const line of toQueryLog(await bed.verifiedRecording(sessions[notice]!))) {
        noticeLines.push(JSON.parse(line));
      }
      expect(noticeLines).toContainEqual(
        expect.objectContaining({
          status: 'DO',
          notices: [expect.objectContaining({ message: 'found ****' })],
        }),
      );
    });
  },
);
