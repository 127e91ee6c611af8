/**
 * Guardrail evasion, table-driven, against real PostgreSQL 15 through the gateway (issue #13).
 * Every attack of the issue — a SET standard_conforming_strings pipelined in front of a query
 * whose string hides a DROP, `UPDATE U&"…" UESCAPE`, MERGE … THEN DELETE, functions,
 * procedures, triggers and rules that delete — and the classes found while building it
 * (set_config and RESET of the setting, a function that turns it off out of sight, startup
 * options, constant WHEREs, EXPLAIN ANALYZE, PREPARE, writable CTEs, an extended-protocol
 * batch, a text the parser reads differently from the server) must end in a refusal (SQLSTATE
 * 42501 naming the rule) or a closed session; after each one the protected table still exists
 * with all its rows. A corpus of ordinary statements must run with the same results as on a
 * direct connection.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { statementClasses } from '../../shared/api/apiSchemas.ts';
import { encodePasswordMessage, type FrontendMessage } from '../../shared/postgres/codec.ts';
import type { RecordingEvent } from '../../shared/recording/recordingFormat.ts';
import { describeWithPostgres, freshPostgresDatabase } from '../harness/postgresForTests.ts';
import {
  errorFields,
  type PostgresResource,
  type PostgresTestBed,
  type RawConnection,
  rawConnect,
  rawSession,
  startPostgresTestBed,
} from '../harness/postgresTestBed.ts';

const EVERY_CLASS = statementClasses;

const SETUP = `
  CREATE TABLE accounts (id int PRIMARY KEY, owner text, ssn text, balance int);
  INSERT INTO accounts VALUES (1, 'alice', '111-11-1111', 100), (2, 'bob', '222-22-2222', 200),
    (3, 'carol', '333-33-3333', 300);
  CREATE TABLE notes (id serial PRIMARY KEY, body text, "select" text, tags text[]);
  INSERT INTO notes (body, "select") VALUES ('first', 'from'), ('second; DROP TABLE accounts', 'x');
  CREATE TABLE src (id int, balance int);
  INSERT INTO src VALUES (1, 0);
`;
/** Made by an admin directly: the user may call them, the gateway cannot see their bodies. */
const ADMIN_OBJECTS = `
  CREATE PROCEDURE wipe_accounts() LANGUAGE sql AS $$ DELETE FROM accounts $$;
  CREATE FUNCTION conforming_off() RETURNS void LANGUAGE plpgsql AS $$
    BEGIN PERFORM set_config('standard_' || 'conforming_strings', 'off', false); END $$;
`;

/** Under ON it is two harmless strings; under OFF the first string swallows the second quote. */
const HIDDEN_DROP = "SELECT '\\' AS a, '; DROP TABLE accounts; --' AS b";

type Attack =
  /** One simple Query per item, through node-postgres, each expected to be refused. */
  | { kind: 'refused'; sql: string; rule: string }
  /** Raw messages sent in one write; `expect` checks what came back. */
  | {
      kind: 'raw';
      send: Array<FrontendMessage | Buffer>;
      expect: (raw: RawConnection, from: number) => Promise<void>;
      /**
       * Whether HIDDEN_DROP reaches the server: harmless when the setting stayed on (it is two
       * strings then), never when it may have been turned off.
       */
      hiddenDropRuns: boolean;
    };

const query = (sql: string): FrontendMessage => ({ type: 'Query', sql });
const parse = (sql: string): FrontendMessage => ({
  type: 'Parse',
  statement: '',
  sql,
  parameterTypes: [],
});
const bindExecute: FrontendMessage[] = [
  {
    type: 'Bind',
    portal: '',
    statement: '',
    parameterFormats: [],
    parameters: [],
    resultFormats: [],
  },
  { type: 'Execute', portal: '', maxRows: 0 },
];

/** Waits for `count` ReadyForQuery after `from` and returns the error fields in between. */
async function errorsUntilReady(raw: RawConnection, from: number, count: number) {
  const readyCount = () =>
    raw.messages.slice(from).filter((m) => m.type === 'ReadyForQuery').length;
  await raw.waitFor(() => readyCount() >= count, { from });
  return raw.messages
    .slice(from)
    .filter((m) => m.type === 'ErrorResponse')
    .map(errorFields);
}

/** The text values of the DataRows after `from`. */
function rowsAfter(raw: RawConnection, from: number): Array<Array<string | undefined>> {
  return raw.messages
    .slice(from)
    .flatMap((m) => (m.type === 'DataRow' ? [m.values.map((v) => v?.toString('utf8'))] : []));
}

const ATTACKS: Array<[string, Attack]> = [
  [
    'SET standard_conforming_strings = off pipelined in one write before a hidden DROP',
    {
      kind: 'raw',
      hiddenDropRuns: true,
      send: [query('SET standard_conforming_strings = off'), query(HIDDEN_DROP)],
      expect: async (raw, from) => {
        const errors = await errorsUntilReady(raw, from, 2);
        expect(errors[0]).toMatchObject({
          C: '42501',
          M: expect.stringContaining('"lexing_settings"'),
        });
        // Read with the setting on (the server's reading now): two strings, no DROP; it ran.
        expect(errors).toHaveLength(1);
      },
    },
  ],
  [
    'the same SET and hidden DROP in one Query message',
    {
      kind: 'refused',
      sql: `SET standard_conforming_strings = off; ${HIDDEN_DROP}`,
      rule: 'lexing_settings',
    },
  ],
  [
    'set_config of the setting pipelined before the hidden DROP',
    {
      kind: 'raw',
      hiddenDropRuns: true,
      send: [
        query("SELECT set_config('standard_conforming_strings', 'off', false)"),
        query(HIDDEN_DROP),
      ],
      expect: async (raw, from) => {
        const errors = await errorsUntilReady(raw, from, 2);
        expect(errors).toEqual([expect.objectContaining({ C: '42501' })]);
      },
    },
  ],
  [
    'a function that turns the setting off out of sight, pipelined before the hidden DROP',
    {
      kind: 'raw',
      hiddenDropRuns: false,
      send: [query('SELECT conforming_off()'), query(HIDDEN_DROP)],
      expect: async (raw, from) => {
        // The server reports the change before its ReadyForQuery; the held DROP never goes.
        const fatal = await raw.waitFor(
          (m) => m.type === 'ErrorResponse' && errorFields(m).S === 'FATAL',
          { from },
        );
        expect(errorFields(fatal)).toMatchObject({
          C: '42501',
          M: expect.stringMatching(/standard_conforming_strings was changed to off.*closed/),
        });
        await raw.closed;
      },
    },
  ],
  [
    'the same function and the hidden DROP in one extended-protocol batch',
    {
      kind: 'raw',
      hiddenDropRuns: false,
      send: [
        parse('SELECT conforming_off()'),
        ...bindExecute,
        parse(HIDDEN_DROP),
        ...bindExecute,
        { type: 'Sync' },
      ],
      expect: async (raw, from) => {
        // The second Parse is refused (its setting is known only at the Sync after it); then
        // the Sync reports the change and the session is closed.
        const refusal = await raw.waitFor((m) => m.type === 'ErrorResponse', { from });
        expect(errorFields(refusal)).toMatchObject({
          S: 'ERROR',
          C: '42501',
          M: expect.stringContaining('"lexing_settings"'),
        });
        await raw.closed;
        expect(
          raw.messages
            .filter((m) => m.type === 'ErrorResponse')
            .map(errorFields)
            .at(-1),
        ).toMatchObject({ S: 'FATAL', M: expect.stringContaining('was changed to off') });
      },
    },
  ],
  [
    'RESET of the setting',
    { kind: 'refused', sql: 'RESET standard_conforming_strings', rule: 'lexing_settings' },
  ],
  [
    'SET backslash_quote',
    { kind: 'refused', sql: 'SET backslash_quote = on', rule: 'lexing_settings' },
  ],
  [
    'set_config with a computed name',
    {
      kind: 'refused',
      sql: "SELECT set_config('standard_' || 'conforming_strings', 'off', false)",
      rule: 'lexing_settings',
    },
  ],
  [
    'ALTER ROLE … SET for the next session',
    {
      kind: 'refused',
      sql: 'ALTER ROLE CURRENT_USER SET standard_conforming_strings = off',
      rule: 'lexing_settings',
    },
  ],
  [
    'UPDATE U&"…" UESCAPE without WHERE',
    { kind: 'refused', sql: `UPDATE U&"!0061ccounts" UESCAPE '!' SET balance = 0`, rule: 'guard' },
  ],
  [
    'DROP TABLE U&"…" UESCAPE',
    { kind: 'refused', sql: `DROP TABLE U&"!0061ccounts" UESCAPE '!'`, rule: 'guard' },
  ],
  [
    'MERGE … WHEN MATCHED THEN DELETE',
    {
      kind: 'refused',
      sql: 'MERGE INTO accounts a USING src s ON true WHEN MATCHED THEN DELETE',
      rule: 'guard',
    },
  ],
  [
    'MERGE … WHEN MATCHED THEN UPDATE',
    {
      kind: 'refused',
      sql: 'MERGE INTO accounts a USING src s ON a.id = s.id WHEN MATCHED THEN UPDATE SET balance = 0',
      rule: 'guard',
    },
  ],
  [
    'a plpgsql function that deletes',
    {
      kind: 'refused',
      sql: 'CREATE FUNCTION evil() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM accounts; END $$',
      rule: 'guard',
    },
  ],
  [
    'a function with dynamic SQL that drops',
    {
      kind: 'refused',
      sql: "CREATE OR REPLACE FUNCTION evil() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DR' || 'OP TABLE accounts'; END $$",
      rule: 'guard',
    },
  ],
  [
    'a BEGIN ATOMIC procedure that deletes',
    {
      kind: 'refused',
      sql: 'CREATE PROCEDURE evil_p() LANGUAGE sql BEGIN ATOMIC DELETE FROM accounts WHERE true; END',
      rule: 'guard',
    },
  ],
  [
    'a trigger that would run a deleting function',
    {
      kind: 'refused',
      sql: 'CREATE TRIGGER t AFTER INSERT ON notes FOR EACH STATEMENT EXECUTE FUNCTION evil()',
      rule: 'guard',
    },
  ],
  [
    'a rule that deletes on insert',
    {
      kind: 'refused',
      sql: 'CREATE RULE r AS ON INSERT TO notes DO ALSO DELETE FROM accounts WHERE id > 0',
      rule: 'guard',
    },
  ],
  [
    'DO with dynamic SQL',
    { kind: 'refused', sql: "DO $$ BEGIN EXECUTE 'DROP TABLE accounts'; END $$", rule: 'guard' },
  ],
  [
    'CALL of an existing procedure that deletes',
    { kind: 'refused', sql: 'CALL wipe_accounts()', rule: 'guard' },
  ],
  [
    'COPY FROM STDIN into the table',
    { kind: 'refused', sql: 'COPY accounts FROM STDIN', rule: 'guard' },
  ],
  [
    'DELETE … WHERE true',
    { kind: 'refused', sql: 'DELETE FROM accounts WHERE true', rule: 'guard' },
  ],
  ['DELETE … WHERE 1=1', { kind: 'refused', sql: 'DELETE FROM accounts WHERE 1=1', rule: 'guard' }],
  [
    'DELETE … WHERE id = id',
    { kind: 'refused', sql: 'DELETE FROM accounts WHERE id = id', rule: 'guard' },
  ],
  [
    'DELETE … WHERE id > 0 OR true',
    { kind: 'refused', sql: 'DELETE FROM accounts WHERE id > 0 OR true', rule: 'guard' },
  ],
  [
    'UPDATE … WHERE NOT false',
    { kind: 'refused', sql: 'UPDATE accounts SET balance = 0 WHERE NOT false', rule: 'guard' },
  ],
  [
    'a writable CTE',
    {
      kind: 'refused',
      sql: 'WITH d AS (DELETE FROM accounts RETURNING *) SELECT count(*) FROM d',
      rule: 'guard',
    },
  ],
  [
    'EXPLAIN ANALYZE',
    { kind: 'refused', sql: 'EXPLAIN (ANALYZE) DELETE FROM accounts', rule: 'guard' },
  ],
  [
    'PREPARE … AS DELETE',
    { kind: 'refused', sql: 'PREPARE wipe AS DELETE FROM accounts', rule: 'guard' },
  ],
  ['TRUNCATE', { kind: 'refused', sql: 'TRUNCATE accounts', rule: 'guard' }],
  [
    'ALTER … RENAME',
    { kind: 'refused', sql: 'ALTER TABLE accounts RENAME TO gone', rule: 'guard' },
  ],
  [
    'DROP hidden in case and comments',
    { kind: 'refused', sql: 'SELECT 1; DrOp/**/TaBlE "accounts"', rule: 'guard' },
  ],
  [
    'a comment inside a string continuation (the parser and the server disagree)',
    { kind: 'refused', sql: "SELECT 'a'\n  -- c\n'b;'; DROP TABLE accounts", rule: 'unparsable' },
  ],
  [
    'DROP at Parse in a pipelined extended batch',
    {
      kind: 'raw',
      hiddenDropRuns: false,
      send: [
        parse('SELECT 1'),
        ...bindExecute,
        parse('DROP TABLE accounts'),
        ...bindExecute,
        { type: 'Sync' },
      ],
      expect: async (raw, from) => {
        const errors = await errorsUntilReady(raw, from, 1);
        expect(errors).toEqual([
          expect.objectContaining({ C: '42501', M: expect.stringContaining('"guard"') }),
        ]);
      },
    },
  ],
];

describeWithPostgres('guardrail evasion through the gateway (real PostgreSQL 15)', () => {
  let bed: PostgresTestBed;
  let protectedDb: PostgresResource;
  let referenceUrl: string;

  async function direct<T extends pg.QueryResultRow>(url: string, sql: string) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await client.query<T>(sql);
    } finally {
      await client.end();
    }
  }

  async function expectAccountsIntact(): Promise<void> {
    const { rows } = await direct<{ n: number; total: number }>(
      protectedDb.directUrl,
      "SELECT count(*)::int AS n, sum(balance)::int AS total FROM accounts WHERE to_regclass('accounts') IS NOT NULL",
    );
    expect(rows[0]).toEqual({ n: 3, total: 600 });
  }

  beforeAll(async () => {
    bed = await startPostgresTestBed();
    protectedDb = await bed.addResource('db-protected', {
      policy: {
        guardrails: [{ kind: 'statement', name: 'guard', classes: [...EVERY_CLASS] }],
        // Basic: these cases test the guardrails; strict masking would refuse some of them
        // first (calls of unseen functions) and hide what the guardrails do.
        maskingMode: 'basic',
        masking: [{ name: 'ssn', match: { kind: 'column', pattern: '^ssn$' }, style: 'full' }],
      },
    });
    await direct(protectedDb.directUrl, SETUP + ADMIN_OBJECTS);
    referenceUrl = await freshPostgresDatabase();
    await direct(referenceUrl, SETUP);
  });
  afterAll(async () => {
    await bed?.close();
  });

  describe('attacks end in a refusal, and the table keeps its rows', () => {
    it.each(ATTACKS)('%s', async (_name, attack) => {
      const session = await bed.newSession('db-protected');
      if (attack.kind === 'refused') {
        const client = await bed.connectPg(session);
        const error = await client.query(attack.sql).then(
          () => undefined,
          (e: Error & { code?: string }) => e,
        );
        expect(error?.code).toBe('42501');
        expect(error?.message).toMatch(
          new RegExp(`^blocked by (guardrail|gateway rule) "${attack.rule}": `),
        );
        // The session goes on after a refusal.
        expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
        await client.end();
        const blocks = jsonOf(await bed.verifiedRecording(session.sessionId), 'b');
        expect(blocks.map((b) => b.rule)).toEqual([attack.rule]);
      } else {
        const raw = await rawSession(bed, session);
        const from = raw.messages.length;
        raw.send(...attack.send);
        await attack.expect(raw, from);
        raw.close();
        const events = await bed.verifiedRecording(session.sessionId);
        expect(jsonOf(events, 'q').some((q) => q.sql === HIDDEN_DROP)).toBe(attack.hiddenDropRuns);
      }
      await expectAccountsIntact();
    });
  });

  it('does not take standard_conforming_strings from the startup packet', async () => {
    const session = await bed.newSession('db-protected');
    bed.scramTickets.forget(session.sessionId);
    const raw = await rawConnect(bed.postgres.address, { tls: { caPem: bed.caPem } });
    raw.send({
      type: 'StartupMessage',
      protocolVersion: { major: 3, minor: 0 },
      parameters: new Map([
        ['user', session.sessionId],
        ['database', 'ignored'],
        ['options', '-c standard_conforming_strings=off -c backslash_quote=on'],
        ['standard_conforming_strings', 'off'],
      ]),
    });
    await raw.waitFor((m) => m.type === 'AuthenticationCleartextPassword');
    raw.send(encodePasswordMessage(session.ticket));
    await raw.waitFor((m) => m.type === 'ReadyForQuery');
    const reported = raw.messages.find(
      (m) => m.type === 'ParameterStatus' && m.name === 'standard_conforming_strings',
    );
    expect(reported).toMatchObject({ value: 'on' });
    const from = raw.messages.length;
    raw.send(query('SHOW backslash_quote'), query(HIDDEN_DROP));
    await errorsUntilReady(raw, from, 2);
    expect(rowsAfter(raw, from)).toEqual([['safe_encoding'], ['\\', '; DROP TABLE accounts; --']]);
    raw.close();
    await expectAccountsIntact();
  });

  it('refuses to open a session on a database that starts with standard_conforming_strings off', async () => {
    const offDb = await bed.addResource('db-conforming-off', {
      policy: { guardrails: [{ kind: 'statement', name: 'guard', classes: ['drop'] }] },
    });
    await direct(
      offDb.directUrl,
      `ALTER DATABASE "${offDb.database}" SET standard_conforming_strings = off;
       CREATE TABLE kept (id int); INSERT INTO kept VALUES (1);`,
    );
    const session = await bed.newSession('db-conforming-off');
    const error = await bed.connectPg(session).then(
      async (client) => {
        await client.end();
        return undefined;
      },
      (e: Error & { code?: string }) => e,
    );
    expect(error?.code).toBe('42501');
    expect(error?.message).toMatch(/standard_conforming_strings off.*"lexing_settings"/);
  });

  it('holds a pipelined statement with a backslash or non-ASCII text until the answers before it, then runs it', async () => {
    const session = await bed.newSession('db-protected');
    const raw = await rawSession(bed, session);
    const from = raw.messages.length;
    raw.send(
      query('SELECT pg_sleep(0.2), 1 AS one'),
      query("SELECT 'é\\' AS text"),
      parse('SELECT 2 AS two'),
      {
        type: 'Bind',
        portal: '',
        statement: '',
        parameterFormats: [],
        parameters: [],
        resultFormats: [],
      },
      // Unflushed Parse/Bind before a held Parse: the gateway asks the server to flush.
      parse("SELECT E'\\\\x' AS three"),
      { type: 'Describe', target: 'statement', name: '' },
      { type: 'Sync' },
    );
    const errors = await errorsUntilReady(raw, from, 3);
    expect(errors).toEqual([]);
    expect(rowsAfter(raw, from)).toEqual([['', '1'], ['é\\']]);
    raw.close();
  });

  it('counts refusals per resource and rule', () => {
    const counts = bed.postgres.refusals.list().filter((c) => c.resource === 'db-protected');
    const byRule = Object.fromEntries(counts.map((c) => [c.rule, c.count]));
    expect(byRule.guard).toBeGreaterThanOrEqual(
      ATTACKS.filter(([, a]) => a.kind === 'refused' && a.rule === 'guard').length,
    );
    expect(byRule.lexing_settings).toBeGreaterThanOrEqual(5);
    expect(byRule.unparsable).toBeGreaterThanOrEqual(1);
    expect(
      bed.logLines.some((line) => {
        const entry = JSON.parse(line) as Record<string, unknown>;
        return entry.message === 'postgres statement blocked' && entry.resource === 'db-protected';
      }),
    ).toBe(true);
  });

  describe('ordinary statements pass, with the results of a direct connection', () => {
    const CORPUS = [
      "SELECT 'DROP TABLE accounts; DELETE FROM accounts' AS s",
      'SELECT $$ TRUNCATE accounts; $$ AS s, $fn$ CALL x() $fn$ AS t',
      'SELECT 1 AS one -- ; DROP TABLE accounts',
      'SELECT 1 AS one /* DELETE FROM accounts; /* nested */ */',
      'SELECT "select", body FROM notes WHERE "select" = \'from\'',
      'SELECT "drop table", "delete" FROM (SELECT 1 AS "drop table", 2 AS "delete") s',
      'SELECT id, owner FROM accounts ORDER BY id FOR UPDATE',
      "INSERT INTO notes (id, body) VALUES (1, 'again') ON CONFLICT (id) DO UPDATE SET body = 'updated' RETURNING body",
      "UPDATE notes SET body = 'third' WHERE id = 2 RETURNING body",
      "DELETE FROM notes WHERE body = 'nothing' RETURNING id",
      "SELECT E'tab\\there' AS e, 'back\\slash' AS b, U&'d\\0061ta' AS u",
      "SELECT 'ünïcödé ✓' AS text, length('日本語') AS n",
      "SET application_name = 'reports'",
      'SHOW standard_conforming_strings',
      "SELECT current_setting('standard_conforming_strings') AS scs",
      'RESET ALL',
      'BEGIN; SELECT count(*) FROM accounts; COMMIT',
      "MERGE INTO notes n USING (SELECT 99 AS id) s ON n.id = s.id WHEN NOT MATCHED THEN INSERT (id, body) VALUES (s.id, 'merged')",
      "SELECT id, owner FROM accounts WHERE owner IN ('alice', 'bob') ORDER BY id",
      'EXPLAIN (COSTS off) DELETE FROM accounts',
      "SELECT array_to_string(ARRAY['a;b', 'c'], ',') AS joined",
      'WITH x AS (SELECT 1 AS v) SELECT v FROM x',
    ];

    it.each(CORPUS)('%j', async (sql) => {
      const session = await bed.newSession('db-protected');
      const client = await bed.connectPg(session);
      try {
        const through = await client.query({ text: sql, rowMode: 'array' });
        const reference = await directQuery(referenceUrl, sql);
        const results = (r: pg.QueryResult | pg.QueryResult[]) =>
          (Array.isArray(r) ? r : [r]).map((x) => ({ command: x.command, rows: x.rows }));
        expect(results(through)).toEqual(results(reference));
      } finally {
        await client.end();
      }
    });

    async function directQuery(url: string, sql: string) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return await client.query({ text: sql, rowMode: 'array' });
      } finally {
        await client.end();
      }
    }
  });
});

function jsonOf(events: RecordingEvent[], kind: string): Array<Record<string, unknown>> {
  return events
    .filter((e) => e.kind === kind)
    .map((e) => JSON.parse(Buffer.from(e.data).toString('utf8')) as Record<string, unknown>);
}
