/**
 * Bad input from PostgreSQL clients and from a misbehaving server (DESIGN.md "Bad input is a
 * first-class test subject"): garbage before the startup packet, a 2 GB length prefix, a
 * truncated message then close, unknown and malformed messages, plaintext, wrong, replayed and
 * expired tickets, silent peers; a target that sends truncated, oversized, out-of-order or
 * garbage messages. Each gets a clear ErrorResponse (SQLSTATE + sentence), only its own
 * connection closes, and a session opened at the start keeps working throughout.
 */
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import {
  type BackendMessage,
  encodeBackend,
  encodeFrontend,
  MessageReader,
} from '../../shared/postgres/codec.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import {
  errorFields,
  type PostgresTestBed,
  rawConnect,
  rawSession,
  startPostgresTestBed,
} from '../harness/postgresTestBed.ts';

/**
 * A fake target: logs the gateway in (trust), then answers each Query by its text — normally,
 * or with the kind of damage the text names.
 */
async function startMisbehavingServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const reader = new MessageReader('frontend');
    socket.on('data', (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) {
        if (frame.type === 'startup') {
          reader.expectTyped();
          socket.write(
            Buffer.concat([
              encodeBackend({ type: 'AuthenticationOk' }),
              encodeBackend({ type: 'ParameterStatus', name: 'client_encoding', value: 'UTF8' }),
              encodeBackend({ type: 'BackendKeyData', processId: 42, secretKey: Buffer.alloc(4) }),
              encodeBackend({ type: 'ReadyForQuery', status: 'I' }),
            ]),
          );
          continue;
        }
        if (frame.type !== 'Q') continue;
        const sql = frame.body.toString('utf8', 0, frame.body.length - 1);
        const header = encodeBackend({
          type: 'RowDescription',
          fields: [
            {
              name: 'x',
              tableOid: 0,
              columnAttnum: 0,
              typeOid: 25,
              typeSize: -1,
              typeModifier: -1,
              format: 0,
            },
          ],
        });
        const row = encodeBackend({ type: 'DataRow', values: [Buffer.from('fine')] });
        switch (sql) {
          case 'truncated': {
            const partial = encodeBackend({ type: 'DataRow', values: [Buffer.alloc(100)] });
            socket.end(Buffer.concat([header, row, partial.subarray(0, 20)]));
            break;
          }
          case 'oversized': {
            const huge = Buffer.alloc(5);
            huge[0] = 0x44; // 'D'
            huge.writeInt32BE(0x7fffffff, 1);
            socket.write(Buffer.concat([header, huge]));
            break;
          }
          case 'out of order':
            socket.write(encodeBackend({ type: 'ParseComplete' }));
            break;
          case 'garbage':
            socket.write(Buffer.from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06]));
            break;
          case 'row without description':
            socket.write(row);
            break;
          default:
            socket.write(
              Buffer.concat([
                header,
                row,
                encodeBackend({ type: 'CommandComplete', tag: 'SELECT 1' }),
                encodeBackend({ type: 'ReadyForQuery', status: 'I' }),
              ]),
            );
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describeWithPostgres('Bad input through the PostgreSQL gateway', () => {
  let bed: PostgresTestBed;
  let bystander: pg.Client;
  let misbehaving: { port: number; close(): Promise<void> };

  beforeAll(async () => {
    bed = await startPostgresTestBed({ loginTimeoutMs: 1_500 });
    bystander = (await bed.openPg()).client;
    misbehaving = await startMisbehavingServer();
    await bed.addResource('broken-db', {
      host: '127.0.0.1',
      port: misbehaving.port,
      database: 'fake',
      username: 'fake',
      password: 'not-checked',
    });
  });
  afterAll(async () => {
    await bystander?.end().catch(() => {});
    await bed?.close();
    await misbehaving?.close();
  });
  afterEach(async () => {
    // The session opened at the start still works, and so does a new one.
    expect((await bystander.query('SELECT 1 AS still')).rows).toEqual([{ still: 1 }]);
    const { client } = await bed.openPg();
    expect((await client.query('SELECT 2 AS fresh')).rows).toEqual([{ fresh: 2 }]);
    await client.end();
  });

  async function refusal(
    raw: Awaited<ReturnType<typeof rawConnect>>,
  ): Promise<Record<string, string>> {
    const error = await raw.waitFor((m) => m.type === 'ErrorResponse');
    await raw.closed;
    return errorFields(error);
  }

  it('garbage before the startup packet: a clear 08P01, that connection only', async () => {
    const raw = await rawConnect(bed.postgres.address);
    raw.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(await refusal(raw)).toMatchObject({
      S: 'FATAL',
      C: '08P01',
      M: expect.stringContaining('is an HTTP or other non-PostgreSQL client pointed at this port?'),
    });
    const binary = await rawConnect(bed.postgres.address);
    binary.send(Buffer.from([0x00, 0x00, 0x00, 0x03, 0xff, 0xff]));
    expect(await refusal(binary)).toMatchObject({
      C: '08P01',
      M: expect.stringContaining('declares length 3'),
    });
  });

  it('a 2 GB length prefix, before and after login, is refused before anything is buffered', async () => {
    const raw = await rawConnect(bed.postgres.address);
    raw.send(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0x00, 0x03, 0x00, 0x00]));
    expect(await refusal(raw)).toMatchObject({
      C: '08P01',
      M: 'Startup packet of 2147483647 bytes exceeds the 10000 bytes limit',
    });

    const session = await bed.newSession();
    const loggedIn = await rawSession(bed, session);
    const huge = Buffer.alloc(5);
    huge[0] = 0x51; // 'Q'
    huge.writeInt32BE(0x7fffffff, 1);
    loggedIn.send(huge);
    const fields = await refusal(loggedIn);
    expect(fields).toMatchObject({ S: 'FATAL', C: '08P01' });
    expect(fields.M).toMatch(
      /^invalid message from the client: Message 'Q' of 2147483648 bytes from the client exceeds the 64 MiB limit/,
    );
    const events = await bed.verifiedRecording(session.sessionId);
    const last = events.filter((e) => e.kind === 'm').at(-1);
    expect(JSON.parse(Buffer.from(last!.data).toString())).toMatchObject({
      type: 'session-end',
      reason: expect.stringContaining('client protocol error'),
    });
  });

  it('a truncated message then close ends only that session, and its recording closes cleanly', async () => {
    const session = await bed.newSession();
    const raw = await rawSession(bed, session);
    const query = encodeFrontend({ type: 'Query', sql: 'SELECT 1' });
    raw.send(query.subarray(0, 7));
    await new Promise((resolve) => setTimeout(resolve, 50));
    raw.socket.end();
    await raw.closed;
    const events = await bed.verifiedRecording(session.sessionId);
    expect(events.filter((e) => e.kind === 'q')).toEqual([]);
    const end = JSON.parse(Buffer.from(events.at(-1)!.data).toString());
    expect(end).toEqual({ type: 'session-end', reason: 'closed by the client' });
  });

  it('unknown and malformed messages after login: FATAL 08P01 naming the problem', async () => {
    const unknown = await rawSession(bed, await bed.newSession());
    unknown.send(Buffer.from([0x78, 0, 0, 0, 4])); // 'x'
    expect((await refusal(unknown)).M).toMatch(/Unknown frontend message type 'x'/);

    const malformed = await rawSession(bed, await bed.newSession());
    // A Bind that declares 3 parameters and carries none.
    const body = Buffer.from([0, 0, 0, 0, 0, 3]);
    const bind = Buffer.alloc(5);
    bind[0] = 0x42;
    bind.writeInt32BE(4 + body.length, 1);
    malformed.send(Buffer.concat([bind, body]));
    const fields = await refusal(malformed);
    expect(fields.C).toBe('08P01');
    expect(fields.M).toMatch(/Malformed Bind message/);

    const password = await rawSession(bed, await bed.newSession());
    password.send(Buffer.from([0x70, 0, 0, 0, 5, 0])); // 'p' after login
    expect((await refusal(password)).M).toMatch(
      /Unexpected message 'p' from the client after login/,
    );
  });

  it('plaintext is refused with what to do', async () => {
    const raw = await rawConnect(bed.postgres.address);
    const session = await bed.newSession();
    raw.send({
      type: 'StartupMessage',
      protocolVersion: { major: 3, minor: 0 },
      parameters: new Map([['user', session.sessionId]]),
    });
    expect(await refusal(raw)).toMatchObject({
      C: '28000',
      M: 'The Witness gateway accepts only TLS connections: connect with sslmode=require or verify-full',
    });
    const psql = await bed.psql(session, ['-c', 'SELECT 1'], { env: { PGSSLMODE: 'disable' } });
    expect(psql.code).not.toBe(0);
    expect(psql.stderr).toContain('connect with sslmode=require or verify-full');
  });

  it('wrong, replayed and expired tickets, and a user that is not a session id: 28P01 / 28000 with the reason', async () => {
    const session = await bed.newSession();
    bed.scramTickets.forget(session.sessionId);
    await expect(bed.connectPg({ ...session, ticket: 'wtk_not-the-ticket' })).rejects.toMatchObject(
      {
        code: '28P01',
        message: 'The session ticket is not valid — start a new session.',
      },
    );
    const client = await bed.connectPg(session);
    await client.end();
    await expect(bed.connectPg(session)).rejects.toMatchObject({
      code: '28P01',
      message: 'This session ticket was already used — tickets work once; start a new session.',
    });

    const late = await bed.newSession();
    bed.gw.clock.advance(61_000);
    await expect(bed.connectPg(late)).rejects.toMatchObject({
      code: '28P01',
      message: 'This session ticket expired (tickets are valid for 60 s) — start a new session.',
    });

    await expect(bed.connectPg({ sessionId: 'postgres', ticket: 'x' })).rejects.toMatchObject({
      code: '28000',
      message: expect.stringContaining('Log in with the session id (ses_…) as the user name'),
    });
  });

  it('a silent peer is disconnected at the login deadline', async () => {
    const started = Date.now();
    const raw = await rawConnect(bed.postgres.address);
    const fields = await refusal(raw);
    expect(fields.M).toBe('The login did not complete within 1.5 s');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a misbehaving server: truncated, oversized, out-of-order and garbage messages end only that session', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['truncated', '08006', /the connection to broken-db was closed by the database server/],
      [
        'oversized',
        '08P01',
        /broke the protocol \(Message 'D' of 2147483648 bytes from the server exceeds the 1 GiB limit\)/,
      ],
      ['out of order', '08P01', /broke the protocol \(it sent a ParseComplete without a parse\)/],
      ['garbage', '08P01', /broke the protocol \(Unknown backend message type 0x01/],
      ['row without description', '08P01', /it sent a DataRow before its RowDescription/],
    ];
    for (const [sql, code, message] of cases) {
      const { client, sessionId } = await bed.openPg('broken-db');
      expect((await client.query('fine')).rows).toEqual([{ x: 'fine' }]);
      const error = await client.query(sql).then(
        () => undefined,
        (e: Error & { code?: string }) => e,
      );
      expect(error, sql).toBeDefined();
      expect(error!.code, sql).toBe(code);
      expect(error!.message, sql).toMatch(message);
      const events = await bed.verifiedRecording(sessionId);
      const errors = events
        .filter((e) => e.kind === 'E')
        .map((e) => JSON.parse(Buffer.from(e.data).toString()).fields);
      expect(errors.at(-1), sql).toMatchObject({ S: 'FATAL', C: code });
    }
  });

  it('a peer that is not a client at all (TLS without SSLRequest) is told what to fix', async () => {
    const raw = await rawConnect(bed.postgres.address);
    raw.send(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]));
    const fields = await refusal(raw);
    expect(fields.C).toBe('0A000');
    expect(fields.M).toMatch(/sslnegotiation=postgres/);
    const messages: BackendMessage[] = raw.messages;
    expect(messages).toHaveLength(1);
  });
});
