/**
 * Masking and guardrails through the real proxy (issue #4), against real PostgreSQL 15: the
 * client and the recording both see only masked values (e-mail preset, column-name rule, type
 * rule, a card rule from the grant); statements a guardrail forbids are refused with SQLSTATE
 * 42501 naming the rule, recorded as blocked, and nothing of them reaches the database —
 * including attempts to hide them behind comments, case, quoting, a multi-statement query or
 * the extended protocol.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeDataRow, encodeFrontend } from '../../shared/postgres/codec.ts';
import type { RecordingEvent } from '../../shared/recording/recordingFormat.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import {
  errorFields,
  type PostgresResource,
  type PostgresTestBed,
  rawSession,
  startPostgresTestBed,
} from '../harness/postgresTestBed.ts';

type Json = Record<string, unknown>;
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

function jsonOf(events: RecordingEvent[], kind: string): Json[] {
  return events
    .filter((e) => e.kind === kind)
    .map((e) => JSON.parse(Buffer.from(e.data).toString('utf8')) as Json);
}

function rowsOf(events: RecordingEvent[]): Array<Array<string | null>> {
  return events
    .filter((e) => e.kind === 'D')
    .map((e) =>
      decodeDataRow(Buffer.from(e.data)).values.map((v) =>
        v === null ? null : v.toString('utf8'),
      ),
    );
}

async function direct(resource: PostgresResource, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: resource.directUrl });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

describeWithPostgres('Masking and guardrails through the gateway (real PostgreSQL 15)', () => {
  let bed: PostgresTestBed;
  let masked: PostgresResource;
  let guarded: PostgresResource;

  beforeAll(async () => {
    bed = await startPostgresTestBed();
    masked = await bed.addResource('db-masked', {
      policy: {
        masking: [
          { name: 'emails', match: { kind: 'preset', preset: 'email' }, style: 'full' },
          { name: 'ssn', match: { kind: 'column', pattern: '^ssn$' }, style: 'full' },
          { name: 'documents', match: { kind: 'type', types: ['jsonb'] }, style: 'full' },
        ],
      },
      // The grant adds its own rule to the resource's.
      grantPolicy: {
        masking: [{ name: 'cards', match: { kind: 'preset', preset: 'card' }, style: 'partial' }],
      },
    });
    await direct(
      masked,
      `CREATE TABLE people (id int, name text, email varchar(100), ssn text, salary int,
         profile jsonb, note text);
       INSERT INTO people VALUES
         (1, 'Alice', 'alice@example.com', '123-45-6789', 100, '{"phone": "x"}',
          'mail bob@example.org or card 4111 1111 1111 1111'),
         (2, 'Bob', NULL, NULL, 200, NULL, 'nothing to hide');`,
    );
    guarded = await bed.addResource('db-guarded', {
      policy: {
        guardrails: [
          {
            kind: 'statement',
            name: 'no-destruction',
            classes: ['drop', 'truncate', 'delete_without_where'],
          },
          { kind: 'regex', name: 'no-grants', pattern: '^grant\\b' },
        ],
      },
      grantPolicy: { guardrails: [{ kind: 'statement', name: 'no-alter', classes: ['alter'] }] },
    });
    await direct(guarded, 'CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2), (3);');
  });
  afterAll(async () => {
    await bed?.close();
  });

  const maskedRow = ['1', 'Alice', '****', '****', '100', '"****"', 'mail **** or card ****1111'];

  it('masks by e-mail preset, column name, type and a grant rule — for the client and in the recording', async () => {
    const { client, sessionId } = await bed.openPg('db-masked');
    const simple = await client.query({
      text: 'SELECT * FROM people ORDER BY id',
      rowMode: 'array',
      types: RAW_TEXT,
    });
    expect(simple.rows).toEqual([
      maskedRow,
      ['2', 'Bob', null, null, '200', null, 'nothing to hide'],
    ]);
    // Extended protocol, text results.
    const extended = await client.query({
      text: 'SELECT email, ssn, note FROM people WHERE id = $1',
      values: [1],
      rowMode: 'array',
      types: RAW_TEXT,
    });
    expect(extended.rows).toEqual([['****', '****', 'mail **** or card ****1111']]);
    // Extended protocol, binary results: the columns come from Describe (portal).
    const binary = await client.query({
      text: 'SELECT email, note, ssn FROM people WHERE id = $1',
      values: [1],
      binary: true,
      rowMode: 'array',
    } as pg.QueryArrayConfig);
    expect(binary.rows).toEqual([['****', 'mail **** or card ****1111', '****']]);
    // A column rule on a type that cannot hold '****' (int) makes the value NULL.
    const numeric = await client.query({
      text: 'SELECT salary AS ssn FROM people WHERE id = 1',
      rowMode: 'array',
    });
    expect(numeric.rows).toEqual([[null]]);
    // Parsed by pg: jsonb is the JSON string "****".
    const parsed = await client.query('SELECT profile FROM people WHERE id = 1');
    expect(parsed.rows).toEqual([{ profile: '****' }]);
    await client.end();

    const events = await bed.verifiedRecording(sessionId);
    const recorded = rowsOf(events);
    expect(recorded.slice(0, 3)).toEqual([...simple.rows, ...extended.rows]);
    expect(recorded[3]).toEqual(['****', 'mail **** or card ****1111', '****']);
    expect(recorded.slice(4)).toEqual([[null], ['"****"']]);
    const everything = Buffer.concat(events.map((e) => Buffer.from(e.data))).toString('utf8');
    for (const secret of [
      'alice@example.com',
      'bob@example.org',
      '123-45-6789',
      '4111 1111',
      '"phone"',
    ]) {
      expect(everything).not.toContain(secret);
    }
  });

  it('psql sees masked values too', async () => {
    const session = await bed.newSession('db-masked');
    const result = await bed.psql(session, [
      '-A',
      '-t',
      '-c',
      "SELECT email, 'write to carol@example.net' FROM people WHERE id = 1",
    ]);
    expect(result.stdout).toBe('****|write to ****\n');
  });

  it('masks rows of a client that executes without describing (the gateway asks for the columns itself)', async () => {
    const session = await bed.newSession('db-masked');
    const raw = await rawSession(bed, session);
    const sql = 'SELECT email, id FROM people ORDER BY id';
    raw.send(
      { type: 'Parse', statement: 'q', sql, parameterTypes: [] },
      {
        type: 'Bind',
        portal: '',
        statement: 'q',
        parameterFormats: [],
        parameters: [],
        resultFormats: [],
      },
      { type: 'Execute', portal: '', maxRows: 0 },
      { type: 'Sync' },
    );
    const from = raw.messages.length;
    await raw.waitFor((m) => m.type === 'ReadyForQuery', { from });
    const answer = raw.messages.slice(from);
    // Exactly what was asked for: no RowDescription (the client did not Describe).
    expect(answer.map((m) => m.type)).toEqual([
      'ParseComplete',
      'BindComplete',
      'DataRow',
      'DataRow',
      'CommandComplete',
      'ReadyForQuery',
    ]);
    const values = answer
      .filter((m) => m.type === 'DataRow')
      .map((m) => (m.type === 'DataRow' ? m.values.map((v) => v?.toString() ?? null) : []));
    expect(values).toEqual([
      ['****', '1'],
      [null, '2'],
    ]);
    raw.send({ type: 'Terminate' });
    await raw.closed;
    const events = await bed.verifiedRecording(session.sessionId);
    expect(rowsOf(events)).toEqual(values);
    expect(jsonOf(events, 'd')).toEqual([]);
  });

  it('blocks forbidden statements however they are written, and lets harmless look-alikes through', async () => {
    const { client, sessionId } = await bed.openPg('db-guarded');
    const blocked: Array<[string, string]> = [
      ['DROP TABLE t', 'no-destruction'],
      ['drop table t', 'no-destruction'],
      ['DrOp/**/TaBlE t', 'no-destruction'],
      ['/* harmless? */ DROP TABLE t', 'no-destruction'],
      ['-- a comment\nDROP TABLE t', 'no-destruction'],
      ['DROP TABLE "t"', 'no-destruction'],
      ['SELECT 1; DROP TABLE t', 'no-destruction'],
      ['INSERT INTO t VALUES (99); DROP TABLE t', 'no-destruction'],
      ["SELECT 'x'; TRUNCATE t", 'no-destruction'],
      ['DELETE FROM t', 'no-destruction'],
      ['WITH gone AS (DELETE FROM t RETURNING *) SELECT count(*) FROM gone', 'no-destruction'],
      ['ALTER TABLE t ADD COLUMN x int', 'no-alter'],
      ['  GRANT SELECT ON t TO PUBLIC', 'no-grants'],
    ];
    for (const [sql, rule] of blocked) {
      const error = await client.query(sql).then(
        () => undefined,
        (e: Error & { code?: string; hint?: string }) => e,
      );
      expect(error, sql).toBeDefined();
      expect(error!.code, sql).toBe('42501');
      expect(error!.message, sql).toMatch(new RegExp(`^blocked by guardrail "${rule}": `));
      expect(error!.hint, sql).toContain('Nothing of this query was sent to the database');
    }
    const allowed = [
      "SELECT 'DROP TABLE t' AS s",
      'SELECT $$; DROP TABLE t; $$ AS s',
      'SELECT $x$ $$ ; DROP TABLE t; $x$ AS s',
      "SELECT E'\\'; DROP TABLE t; --' AS s",
      'SELECT 1 AS s -- ; DROP TABLE t',
      'SELECT 1 AS s /* ; DROP TABLE t */',
      'DELETE FROM t WHERE id = 3',
    ];
    for (const sql of allowed) await client.query(sql);
    await client.end();

    // Nothing of the blocked messages ran: the table is there, 99 was never inserted.
    const rows = await direct(guarded, 'SELECT id FROM t ORDER BY id');
    expect(rows.rows.map((r) => r.id)).toEqual([1, 2]);

    const events = await bed.verifiedRecording(sessionId);
    const blocks = jsonOf(events, 'b');
    expect(blocks.map((b) => b.rule)).toEqual(blocked.map(([, rule]) => rule));
    expect(blocks[7]).toMatchObject({ sql: 'DROP TABLE t', rule: 'no-destruction' });
    // Each blocked query: recorded as blocked, with the whole text asked (what was forwarded
    // is recorded, and the query was not), then answered with the gateway's error.
    const sequence = events
      .filter((e) => ['q', 'b', 'E'].includes(e.kind))
      .slice(0, 2)
      .map((e) => e.kind);
    expect(sequence).toEqual(['b', 'E']);
    expect(blocks[7]).toMatchObject({ query: 'INSERT INTO t VALUES (99); DROP TABLE t' });
    expect((jsonOf(events, 'E')[0]!.fields as Json).C).toBe('42501');
  });

  it('blocks at Parse in the extended protocol, answers the whole batch correctly, and the session goes on', async () => {
    const { client, sessionId } = await bed.openPg('db-guarded');
    await expect(client.query({ name: 'evil', text: 'DROP TABLE t' })).rejects.toMatchObject({
      code: '42501',
    });
    await expect(
      client.query({ text: 'TRUNCATE t', queryMode: 'extended' } as pg.QueryConfig),
    ).rejects.toMatchObject({ code: '42501' });
    expect((await client.query('SELECT count(*)::int AS n FROM t WHERE $1', [true])).rows).toEqual([
      { n: 2 },
    ]);
    // Inside a transaction: the block does not abort it (nothing reached the server).
    await client.query('BEGIN');
    await expect(
      client.query({ text: 'DELETE FROM t', queryMode: 'extended' } as pg.QueryConfig),
    ).rejects.toMatchObject({ code: '42501' });
    expect((await client.query('SELECT $1::int AS one', [1])).rows).toEqual([{ one: 1 }]);
    await client.query('COMMIT');
    await client.end();

    const events = await bed.verifiedRecording(sessionId);
    expect(jsonOf(events, 'b').map((b) => b.sql)).toEqual([
      'DROP TABLE t',
      'TRUNCATE t',
      'DELETE FROM t',
    ]);
    // The blocked statements were never executed, so they have no `q`.
    const executed = jsonOf(events, 'q').map((q) => q.sql);
    expect(executed).not.toContain('DROP TABLE t');
    expect(executed).not.toContain('DELETE FROM t');
    expect((await direct(guarded, 'SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 2 }]);
  });

  it('answers a pipelined batch in order: the server answers what came before the blocked Parse, then the gateway', async () => {
    const session = await bed.newSession('db-guarded');
    const raw = await rawSession(bed, session);
    const from = raw.messages.length;
    raw.send(
      { type: 'Parse', statement: '', sql: 'SELECT 7 AS seven', parameterTypes: [] },
      {
        type: 'Bind',
        portal: '',
        statement: '',
        parameterFormats: [],
        parameters: [],
        resultFormats: [],
      },
      { type: 'Describe', target: 'portal', name: '' },
      { type: 'Execute', portal: '', maxRows: 0 },
      { type: 'Parse', statement: '', sql: 'DROP TABLE t', parameterTypes: [] },
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
      { type: 'Query', sql: 'SELECT 8 AS eight' },
    );
    await raw.waitFor((m) => m.type === 'CommandComplete' && m.tag === 'SELECT 1', {
      from: from + 6,
    });
    await raw.waitFor((m) => m.type === 'ReadyForQuery', { from: from + 8 });
    const answer = raw.messages.slice(from);
    expect(answer.map((m) => m.type)).toEqual([
      'ParseComplete',
      'BindComplete',
      'RowDescription',
      'DataRow',
      'CommandComplete',
      'ErrorResponse',
      'ReadyForQuery',
      'RowDescription',
      'DataRow',
      'CommandComplete',
      'ReadyForQuery',
    ]);
    expect(errorFields(answer[5]!)).toMatchObject({ S: 'ERROR', C: '42501' });
    raw.close();
    expect((await direct(guarded, 'SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 2 }]);
  });

  it('keeps client_encoding UTF8: SET is refused, and a change it cannot see closes the session', async () => {
    const { client } = await bed.openPg('db-guarded');
    for (const sql of [
      "SET client_encoding TO 'SJIS'",
      "set session CLIENT_ENCODING = 'LATIN1'",
      "SET NAMES 'LATIN1'",
      'SET "client_encoding" TO \'LATIN1\'',
      "SELECT set_config('client_encoding', 'LATIN1', false)",
    ]) {
      await expect(client.query(sql), sql).rejects.toMatchObject({
        code: '42501',
        message: expect.stringContaining('client_encoding cannot be changed'),
      });
    }
    expect((await client.query('SHOW client_encoding')).rows).toEqual([
      { client_encoding: 'UTF8' },
    ]);
    // Hidden from the lexer: the server's ParameterStatus gives it away, and the session ends.
    await client.query(`CREATE FUNCTION sneaky() RETURNS void LANGUAGE plpgsql AS $$
      BEGIN PERFORM set_config('client' || '_encoding', 'LATIN1', false); END $$`);
    const failed = new Promise<Error & { code?: string }>((resolve) => client.on('error', resolve));
    await expect(client.query('SELECT sneaky()')).rejects.toThrow(
      /client_encoding was changed to LATIN1/,
    );
    await failed.catch(() => {});
  });

  it('refuses fast-path function calls when guardrails apply', async () => {
    const session = await bed.newSession('db-guarded');
    const raw = await rawSession(bed, session);
    const from = raw.messages.length;
    // FunctionCall of pg_sleep-like internals is never sent; here: oid 1 (nonsense), refused first.
    raw.send(
      Buffer.concat([
        encodeFrontend({
          type: 'FunctionCall',
          functionOid: 1,
          argumentFormats: [],
          arguments: [],
          resultFormat: 0,
        }),
      ]),
    );
    const error = await raw.waitFor((m) => m.type === 'ErrorResponse', { from });
    expect(errorFields(error)).toMatchObject({ C: '42501' });
    await raw.waitFor((m) => m.type === 'ReadyForQuery', { from });
    raw.close();
  });
});
