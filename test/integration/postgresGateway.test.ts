/**
 * PostgreSQL through the gateway (issue #4), against the run's real PostgreSQL 15 cluster,
 * with node-postgres and with the real psql, both over TLS verified against the gateway CA:
 * many types, multi-statement queries, an error mid-transaction, notices, COPY both ways,
 * prepared statements, cancel, SCRAM and cleartext tickets, the end of a session (terminate,
 * expiry) and fail-closed recording. After each, the recording is verified with the gateway's
 * public key and must hold exactly the queries and rows the client saw.
 */
import { connect as connectTcp } from 'node:net';
import { connect as connectTls } from 'node:tls';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeDataRow, encodeFrontend } from '../../shared/postgres/codec.ts';
import type { RecordingEvent } from '../../shared/recording/recordingFormat.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import {
  type PostgresTestBed,
  rawConnect,
  startPostgresTestBed,
} from '../harness/postgresTestBed.ts';
import { waitFor } from '../harness/waitFor.ts';

type Json = Record<string, unknown>;

/** What a recording says, event by event: JSON kinds parsed, DataRows as text values. */
function readable(
  events: RecordingEvent[],
): Array<{ kind: string; channel: number; value: unknown }> {
  return events.map((event) => {
    const data = Buffer.from(event.data);
    let value: unknown;
    if (event.kind === 'D') value = rowText(data);
    else if (event.kind === 'y') value = data.toString('utf8');
    else value = JSON.parse(data.toString('utf8'));
    return { kind: event.kind, channel: event.channel, value };
  });
}

function rowText(body: Buffer): Array<string | null> {
  return decodeDataRow(body).values.map((value) =>
    value === null ? null : value.toString('utf8'),
  );
}

const ofKind = (events: RecordingEvent[], kind: string) =>
  readable(events).filter((event) => event.kind === kind);
const jsonOf = (events: RecordingEvent[], kind: string) =>
  ofKind(events, kind).map((event) => event.value as Json);
const rowsOf = (events: RecordingEvent[]) =>
  ofKind(events, 'D').map((event) => event.value as Array<string | null>);

/** Values exactly as the server sent them (text format), so they compare with the recording. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

describeWithPostgres('PostgreSQL through the gateway (pg and psql, real PostgreSQL 15)', () => {
  let bed: PostgresTestBed;

  beforeAll(async () => {
    bed = await startPostgresTestBed();
  });
  afterAll(async () => {
    await bed?.close();
  });

  it('pg: many types round-trip in both protocols, and the recording holds exactly what pg saw', async () => {
    const { client, sessionId } = await bed.openPg();
    await client.query(
      `CREATE TABLE things (id int, data bytea, tags text[], doc jsonb, amount numeric(20,6),
        at timestamptz, note text, nothing text, flags boolean[], big bigint)`,
    );
    const values = [
      1,
      Buffer.from([0, 1, 2, 0xfe, 0xff]),
      ['a', 'b c', '"quoted"', 'comma,here'],
      { k: 'v', nested: [1, 2.5, null], unicode: 'ü' },
      '12345678901234.123456',
      new Date('2024-02-29T12:34:56.789Z'),
      'Grüße, 世界 🎉 — \t tab',
      null,
      [true, false],
      '9007199254740993',
    ];
    await client.query(
      'INSERT INTO things VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)',
      values,
    );
    const simple = await client.query({
      text: 'SELECT * FROM things',
      rowMode: 'array',
      types: RAW_TEXT,
    });
    const extended = await client.query({
      text: 'SELECT * FROM things WHERE id = $1',
      values: [1],
      rowMode: 'array',
      types: RAW_TEXT,
    });
    // And parsed by pg's own type parsers: the values survived the trip.
    const parsed = await client.query('SELECT * FROM things');
    await client.end();

    expect(simple.rows).toEqual(extended.rows);
    const row = parsed.rows[0];
    expect(row.data).toEqual(values[1]);
    expect(row.tags).toEqual(values[2]);
    expect(row.doc).toEqual(values[3]);
    expect(row.amount).toBe('12345678901234.123456');
    expect((row.at as Date).toISOString()).toBe('2024-02-29T12:34:56.789Z');
    expect(row.note).toBe(values[6]);
    expect(row.nothing).toBeNull();
    expect(row.flags).toEqual([true, false]);
    expect(row.big).toBe('9007199254740993');

    const events = await bed.verifiedRecording(sessionId);
    const queries = jsonOf(events, 'q');
    expect(queries.map((q) => [q.protocol, q.sql])).toEqual([
      ['simple', expect.stringContaining('CREATE TABLE things')],
      ['extended', 'INSERT INTO things VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)'],
      ['simple', 'SELECT * FROM things'],
      ['extended', 'SELECT * FROM things WHERE id = $1'],
      ['simple', 'SELECT * FROM things'],
    ]);
    const insertParams = queries[1]!.params as unknown[];
    expect(insertParams[0]).toBe('1');
    // pg sends a Buffer in binary format: recorded as base64.
    expect(insertParams[1]).toEqual({
      base64: Buffer.from([0, 1, 2, 0xfe, 0xff]).toString('base64'),
    });
    expect(insertParams[7]).toBeNull();
    expect(queries[3]!.params).toEqual(['1']);
    // Every row the client received, byte for byte, in order; nothing else.
    expect(rowsOf(events)).toEqual([...simple.rows, ...extended.rows, ...simple.rows]);
    expect(jsonOf(events, 'c').map((c) => c.tag)).toEqual([
      'CREATE TABLE',
      'INSERT 0 1',
      'SELECT 1',
      'SELECT 1',
      'SELECT 1',
    ]);
    const columns = jsonOf(events, 'd')[0]!.columns as Json[];
    expect(columns.map((c) => c.name)).toEqual([
      'id',
      'data',
      'tags',
      'doc',
      'amount',
      'at',
      'note',
      'nothing',
      'flags',
      'big',
    ]);
    expect(columns[1]).toMatchObject({ typeOid: 17, format: 0 });
    const meta = jsonOf(events, 'm');
    expect(meta[0]).toMatchObject({
      type: 'session-start',
      user: 'alice',
      resource: 'db-main',
      target: { database: bed.resource.database, username: 'witness' },
    });
    expect(meta.at(-1)).toEqual({ type: 'session-end', reason: 'closed by the client' });
  });

  it('psql: multi-statement queries, an error mid-transaction, notices — shown and recorded', async () => {
    const session = await bed.newSession();
    const script = [
      'CREATE TABLE t (id int PRIMARY KEY, name text);',
      'BEGIN;',
      "INSERT INTO t VALUES (1, 'one');",
      "INSERT INTO t VALUES (1, 'again');",
      "SELECT 'not run';",
      'ROLLBACK;',
      'SELECT count(*) AS n FROM t;',
      "DO $$ BEGIN RAISE NOTICE 'hello from %', 'plpgsql'; END $$;",
      "SELECT 1 AS a, 'x' AS b \\; SELECT 2 AS c \\; SELECT NULL AS d;",
      '',
    ].join('\n');
    const result = await bed.psql(session, ['-q', '-A', '-t', '-F', '|', '-f', '-'], {
      stdin: script,
    });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('duplicate key value violates unique constraint "t_pkey"');
    expect(result.stderr).toContain('current transaction is aborted');
    expect(result.stderr).toContain('NOTICE:  hello from plpgsql');
    const printed = result.stdout.replace(/\n$/, '').split('\n');

    const events = await bed.verifiedRecording(session.sessionId);
    const sqls = jsonOf(events, 'q').map((q) => q.sql as string);
    expect(sqls.slice(0, 8)).toEqual([
      'CREATE TABLE t (id int PRIMARY KEY, name text);',
      'BEGIN;',
      "INSERT INTO t VALUES (1, 'one');",
      "INSERT INTO t VALUES (1, 'again');",
      "SELECT 'not run';",
      'ROLLBACK;',
      'SELECT count(*) AS n FROM t;',
      "DO $$ BEGIN RAISE NOTICE 'hello from %', 'plpgsql'; END $$;",
    ]);
    // psql sends the \; statements as one Query message.
    expect(sqls[8]).toMatch(/^SELECT 1 AS a, 'x' AS b ;?\s*SELECT 2 AS c ;?\s*SELECT NULL AS d;$/);
    expect(sqls).toHaveLength(9);
    expect(jsonOf(events, 'E').map((e) => (e.fields as Json).C)).toEqual(['23505', '25P02']);
    expect(jsonOf(events, 'N').map((n) => (n.fields as Json).M)).toEqual(['hello from plpgsql']);
    // The rows psql printed are the rows recorded (psql prints NULL as an empty field).
    expect(rowsOf(events).map((row) => row.map((v) => v ?? '').join('|'))).toEqual(printed);
    expect(printed).toEqual(['0', '1|x', '2', '']);
  });

  it('psql: COPY in (COPY FROM STDIN and \\copy) and COPY out, recorded as copy data both ways', async () => {
    const session = await bed.newSession();
    const rows = '1\talpha\n2\tbeta gamma\n3\t\\N\n';
    const more = '4\tdelta\n';
    const script = [
      'CREATE TABLE c (id int, name text);',
      'COPY c FROM STDIN;',
      `${rows}\\.`,
      '\\copy c FROM STDIN',
      `${more}\\.`,
      'COPY (SELECT id, upper(name) FROM c ORDER BY id) TO STDOUT;',
      '',
    ].join('\n');
    const result = await bed.psql(session, ['-q', '-f', '-'], { stdin: script });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('1\tALPHA\n2\tBETA GAMMA\n3\t\\N\n4\tDELTA\n');

    const events = await bed.verifiedRecording(session.sessionId);
    const copied = ofKind(events, 'y');
    // psql sends the end-of-data line as data too (the server ignores it in text format).
    expect(
      copied
        .filter((e) => e.channel === 1)
        .map((e) => e.value)
        .join(''),
    ).toBe(`${rows}\\.\n${more}\\.\n`);
    expect(
      copied
        .filter((e) => e.channel === 0)
        .map((e) => e.value)
        .join(''),
    ).toBe(result.stdout);
    expect(jsonOf(events, 'c').map((c) => c.tag)).toEqual([
      'CREATE TABLE',
      'COPY 3',
      'COPY 1',
      'COPY 4',
    ]);
    const check = new pg.Client({ connectionString: bed.resource.directUrl });
    await check.connect();
    const stored = await check.query('SELECT count(*)::int AS n FROM c');
    await check.end();
    expect(stored.rows[0].n).toBe(4);
  });

  it('pg: named prepared statements are parsed once, executed with their parameters, and recorded per execution', async () => {
    const { client, sessionId } = await bed.openPg();
    await client.query(
      "CREATE TABLE p (id int, v text); INSERT INTO p VALUES (1, 'one'), (2, 'two')",
    );
    const seen: unknown[][] = [];
    for (const id of [1, 2, 2]) {
      const result = await client.query({
        name: 'by-id',
        text: 'SELECT id, v FROM p WHERE id = $1',
        values: [id],
        rowMode: 'array',
        types: RAW_TEXT,
      });
      seen.push(...result.rows);
    }
    await client.end();
    expect(seen).toEqual([
      ['1', 'one'],
      ['2', 'two'],
      ['2', 'two'],
    ]);
    const events = await bed.verifiedRecording(sessionId);
    const executions = jsonOf(events, 'q').filter((q) => q.protocol === 'extended');
    expect(executions).toEqual(
      [1, 2, 2].map((id) => ({
        protocol: 'extended',
        sql: 'SELECT id, v FROM p WHERE id = $1',
        statement: 'by-id',
        portal: '',
        params: [String(id)],
        paramFormats: [0],
      })),
    );
    expect(rowsOf(events)).toEqual(seen);
  });

  it('psql: Ctrl-C cancels a running pg_sleep(30) through the gateway, which maps the cancel key', async () => {
    const session = await bed.newSession();
    const watcher = new pg.Client({ connectionString: bed.resource.directUrl });
    await watcher.connect();
    const started = Date.now();
    try {
      const result = await bed.psql(session, ['-c', 'SELECT pg_sleep(30)'], {
        onSpawn: (child) => {
          void waitFor(async () => {
            const running = await watcher.query(
              "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'",
            );
            return running.rowCount === 1;
          }, 'pg_sleep to run').then(() => child.kill('SIGINT'));
        },
      });
      expect(result.stderr).toContain('canceling statement due to user request');
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      await watcher.end();
    }
    const events = await bed.verifiedRecording(session.sessionId);
    expect(jsonOf(events, 'm').map((m) => m.type)).toContain('cancel');
    expect(jsonOf(events, 'E').map((e) => (e.fields as Json).C)).toEqual(['57014']);
  });

  it('hands the client its own cancel key: the target key is never revealed, and a wrong key cancels nothing', async () => {
    const { client, sessionId } = await bed.openPg();
    const connection = client as unknown as { processID: number; secretKey: number };
    const backend = await client.query('SELECT pg_backend_pid() AS pid');
    expect(connection.processID).not.toBe(backend.rows[0].pid);

    const sleeping = client.query('SELECT pg_sleep(30)');
    await new Promise((resolve) => setTimeout(resolve, 200));
    // A key that is not this session's (and the target's real pid): nothing happens.
    const secret = Buffer.alloc(4);
    secret.writeInt32BE(connection.secretKey);
    const wrong = await rawConnect(bed.postgres.address);
    wrong.send(
      encodeFrontend({
        type: 'CancelRequest',
        processId: backend.rows[0].pid,
        secretKey: secret,
      }),
    );
    await wrong.closed;
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The gateway's key, sent in plaintext as libpq 15 does: the query is cancelled.
    const started = Date.now();
    const right = await rawConnect(bed.postgres.address);
    right.send(
      encodeFrontend({
        type: 'CancelRequest',
        processId: connection.processID,
        secretKey: secret,
      }),
    );
    await expect(sleeping).rejects.toThrow(/canceling statement due to user request/);
    expect(Date.now() - started).toBeLessThan(5_000);
    await client.end();
    const events = await bed.verifiedRecording(sessionId);
    expect(jsonOf(events, 'm').filter((m) => m.type === 'cancel')).toHaveLength(1);
  });

  it('asks for SCRAM-SHA-256 when it issued the ticket, and for the cleartext ticket (over TLS) otherwise', async () => {
    const scram = await bed.newSession();
    const viaScram = await bed.connectPg(scram);
    expect((await viaScram.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await viaScram.end();

    const cleartext = await bed.newSession();
    bed.scramTickets.forget(cleartext.sessionId); // as if another replica had issued it
    const viaPassword = await bed.connectPg(cleartext);
    expect((await viaPassword.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    await viaPassword.end();

    const methods = bed.logLines
      .map((line) => JSON.parse(line) as Json)
      .filter((line) => line.message === 'postgres client logged in');
    expect(methods.find((l) => l.sessionId === scram.sessionId)?.method).toBe('scram-sha-256');
    expect(methods.find((l) => l.sessionId === cleartext.sessionId)?.method).toBe('password');

    // psql speaks SCRAM too.
    const psqlSession = await bed.newSession();
    const viaPsql = await bed.psql(psqlSession, ['-A', '-t', '-c', 'SELECT current_user']);
    expect(viaPsql.stdout.trim()).toBe('witness');
    expect(
      bed.logLines.some(
        (line) => line.includes(psqlSession.sessionId) && line.includes('"method":"scram-sha-256"'),
      ),
    ).toBe(true);

    // A wrong ticket fails the SCRAM proof: 28P01, and the ticket was not used up.
    const wrong = await bed.newSession();
    await expect(bed.connectPg({ ...wrong, ticket: 'wtk_wrong' })).rejects.toMatchObject({
      code: '28P01',
      message: expect.stringContaining('The session ticket is not valid'),
    });
  });

  it('answers GSSENCRequest with N, after which the client goes on with TLS; a 3 MB query is recorded whole', async () => {
    const session = await bed.newSession();
    const socket = connectTcp(bed.postgres.address.port, bed.postgres.address.host);
    await new Promise((resolve) => socket.once('connect', resolve));
    const nextByte = () => new Promise<Buffer>((resolve) => socket.once('data', resolve));
    socket.write(encodeFrontend({ type: 'GSSENCRequest' }));
    expect((await nextByte()).toString('latin1')).toBe('N');
    // As libpq with gssencmode=prefer: on to SSLRequest, TLS and the startup packet.
    socket.write(encodeFrontend({ type: 'SSLRequest' }));
    expect((await nextByte()).toString('latin1')).toBe('S');
    const tls = connectTls({ socket, ca: bed.caPem, servername: 'localhost' });
    await new Promise((resolve) => tls.once('secureConnect', resolve));
    tls.write(
      encodeFrontend({
        type: 'StartupMessage',
        protocolVersion: { major: 3, minor: 0 },
        parameters: new Map([['user', session.sessionId]]),
      }),
    );
    const reply = await new Promise<Buffer>((resolve) => tls.once('data', resolve));
    expect(String.fromCharCode(reply[0]!)).toBe('R'); // asks for the ticket
    tls.destroy();

    const large = await bed.newSession();
    const viaPsql = await bed.psql(large, ['-A', '-t', '-f', '-'], {
      stdin: `SELECT length('${'x'.repeat(3 * 1024 * 1024)}');\n`,
    });
    expect(viaPsql.stdout.trim()).toBe(String(3 * 1024 * 1024));
    const events = await bed.verifiedRecording(large.sessionId);
    // Recorded as wire (several frames of at most 1 MiB): the whole text is derived again.
    const query = jsonOf(events, 'q')[0]!;
    expect(query.truncated).toBeUndefined();
    expect(query.sql).toBe(`SELECT length('${'x'.repeat(3 * 1024 * 1024)}');`);
    expect(rowsOf(events)).toEqual([[String(3 * 1024 * 1024)]]);
  });

  it('ends a live session on an API terminate with a FATAL admin_shutdown the client sees', async () => {
    const { client, sessionId } = await bed.openPg();
    await client.query('SELECT 1');
    const failed = new Promise<Error & { code?: string }>((resolve) => client.on('error', resolve));
    const ended = new Promise<void>((resolve) => client.on('end', () => resolve()));
    const response = await bed.gw.request('POST', `/v1/sessions/${sessionId}/terminate`, {
      token: bed.adminToken,
    });
    expect(response.status).toBe(200);
    const error = await failed;
    expect(error.code).toBe('57P01');
    expect(error.message).toBe('Your session on db-main was ended (terminated by root-admin).');
    await ended;
    const events = await bed.verifiedRecording(sessionId);
    expect(jsonOf(events, 'E').at(-1)).toEqual({
      fields: {
        S: 'FATAL',
        V: 'FATAL',
        C: '57P01',
        M: 'Your session on db-main was ended (terminated by root-admin).',
      },
    });
    expect(jsonOf(events, 'm').at(-1)).toEqual({
      type: 'session-end',
      reason: 'terminated by root-admin',
    });
  });

  it('ends a session at its expiresAt (grant limit)', async () => {
    await bed.addResource('db-short', { maxSessionSeconds: 60 });
    const session = await bed.newSession('db-short');
    const client = await bed.connectPg(session);
    const failed = new Promise<Error & { code?: string }>((resolve) => client.on('error', resolve));
    bed.gw.clock.advance(Date.parse(session.expiresAt) - bed.gw.clock.now() + 1);
    const error = await failed;
    expect(error.code).toBe('57P01');
    expect(error.message).toMatch(
      /^Your access to db-short ended at \d\d:\d\d UTC \(grant limit\)/,
    );
    const events = await bed.verifiedRecording(session.sessionId);
    expect(jsonOf(events, 'm').at(-1)?.reason).toMatch(/^expired at .* \(grant limit\)$/);
  });

  it('fails closed: when the recording cannot be saved the session ends and no unrecorded row is delivered', async () => {
    bed.memory.options = { failAfterBytes: 4_000 };
    bed.recorders.current = bed.memory;
    try {
      const { client, sessionId } = await bed.openPg();
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      const failed = new Promise<Error>((resolve) => client.on('error', resolve));
      const query = client.query("SELECT repeat('x', 100) FROM generate_series(1, 1000)");
      await expect(query).rejects.toThrow(
        /the recording could not be saved; this session was closed/,
      );
      await failed.catch(() => {});
      const recording = bed.memory.get(sessionId);
      // Nothing reached the client that the recorder did not take first.
      expect(recording.bytes('D').length).toBeLessThanOrEqual(4_000);
      expect(
        bed.logLines.some((l) => l.includes('recording failed; closing the postgres session')),
      ).toBe(true);
    } finally {
      bed.recorders.current = bed.gw.gateway.services.recorder;
      bed.memory.options = {};
    }
    // Other sessions are unaffected.
    const { client } = await bed.openPg();
    expect((await client.query('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
    await client.end();
  });
});
