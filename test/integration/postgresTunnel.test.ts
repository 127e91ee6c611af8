/**
 * The local PostgreSQL tunnel (gateway-client/tunnel/) in front of a real gateway and the run's
 * real PostgreSQL 15: psql, node-postgres and pgbench connect to it on loopback without a
 * password, and every connection becomes its own gateway session with its own ticket and its
 * own verified recording. Failures (no grant, gateway down, a CA that is not the pinned one, a
 * client that is not PostgreSQL) reach the client as FATAL ErrorResponses with a SQLSTATE while
 * the tunnel keeps serving the others; Ctrl-C in psql cancels through the tunnel.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect as connectTcp, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createTestPki } from '../../gateway-client/fixtures/testPki.ts';
import { GatewayClient, type SessionTokens } from '../../gateway-client/gatewayClient.ts';
import {
  type PostgresTunnel,
  startPostgresTunnel,
  type TunnelSessionSource,
} from '../../gateway-client/tunnel/postgresTunnel.ts';
import { decodeDataRow } from '../../shared/postgres/codec.ts';
import type { RecordingEvent } from '../../shared/recording/recordingFormat.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import {
  type PostgresTestBed,
  PSQL_BIN,
  startPostgresTestBed,
} from '../harness/postgresTestBed.ts';
import { waitFor } from '../harness/waitFor.ts';

const PGBENCH_BIN = process.env.WITNESS_PGBENCH_BIN ?? '/usr/bin/pgbench';

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** psql or pgbench against a tunnel: no password, no TLS settings — the tunnel does both. */
function runTool(
  program: string,
  tunnel: PostgresTunnel,
  args: string[],
  options: { env?: Record<string, string>; onSpawn?: (pid: () => void) => void } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        LANG: 'C.UTF-8',
        PGHOST: tunnel.host,
        PGPORT: String(tunnel.port),
        PGUSER: 'whoever',
        PGDATABASE: 'ignored',
        PGCONNECT_TIMEOUT: '20',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    options.onSpawn?.(() => child.kill('SIGINT'));
  });
}

function rowsOf(events: RecordingEvent[]): string[][] {
  return events
    .filter((event) => event.kind === 'D')
    .map((event) =>
      decodeDataRow(Buffer.from(event.data)).values.map((v) => v?.toString('utf8') ?? 'NULL'),
    );
}

function queriesOf(events: RecordingEvent[]): string[] {
  return events
    .filter((event) => event.kind === 'q')
    .map((event) => JSON.parse(Buffer.from(event.data).toString('utf8')).sql as string);
}

describeWithPostgres('the local PostgreSQL tunnel (real gateway, real PostgreSQL 15)', () => {
  let bed: PostgresTestBed;
  let api: GatewayClient;
  let tunnel: PostgresTunnel;
  const tunnels: PostgresTunnel[] = [];
  const lines: string[] = [];

  /** Session ids the tunnel connected, in order (from its log lines). */
  const connectedSessions = () =>
    lines.flatMap((line) => /^(ses_\w+): connected/.exec(line)?.[1] ?? []);

  async function openTunnel(
    options: {
      sessions?: TunnelSessionSource;
      caPem?: string;
      resource?: { id: string; name: string };
      socketDir?: string;
    } = {},
  ): Promise<PostgresTunnel> {
    const opened = await startPostgresTunnel({
      ...(options.socketDir !== undefined && { socketDir: options.socketDir, port: 6543 }),
      resource: options.resource ?? { id: bed.resource.id, name: bed.resource.name },
      sessions: options.sessions ?? api,
      caPem: options.caPem ?? bed.caPem,
      log: (line) => lines.push(line),
    });
    tunnels.push(opened);
    return opened;
  }

  beforeAll(async () => {
    bed = await startPostgresTestBed();
    let tokens: SessionTokens | null = null;
    api = new GatewayClient(
      { baseUrl: bed.gw.gateway.apiUrl, caPem: bed.caPem },
      {
        tokens: () => tokens,
        tokensRefreshed: (pair) => {
          tokens = pair;
        },
      },
    );
    tokens = await api.login({ username: 'alice', password: 'engineer-password-1' });
    tunnel = await openTunnel();
  });
  afterAll(async () => {
    for (const opened of tunnels) await opened.close();
    await bed?.close();
  });

  it('psql connects without a password (sslmode=prefer gets N), and the session is recorded', async () => {
    const before = connectedSessions().length;
    const result = await runTool(
      PSQL_BIN,
      tunnel,
      ['-X', '-A', '-t', '-c', "SELECT 'through the tunnel', current_setting('application_name')"],
      { env: { PGAPPNAME: 'tunnel-test', PGSSLMODE: 'prefer' } },
    );
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe('through the tunnel|tunnel-test');
    const [sessionId] = connectedSessions().slice(before);
    expect(sessionId).toMatch(/^ses_/);
    const events = await bed.verifiedRecording(sessionId!);
    expect(queriesOf(events)).toEqual([
      "SELECT 'through the tunnel', current_setting('application_name')",
    ]);
    expect(rowsOf(events)).toEqual([['through the tunnel', 'tunnel-test']]);
  });

  it('several concurrent connections each get their own session, backend and recording', async () => {
    const before = connectedSessions().length;
    const clients = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const client = new pg.Client({
          host: tunnel.host,
          port: tunnel.port,
          user: 'ignored',
          database: 'ignored',
          ssl: false,
        });
        await client.connect();
        return client;
      }),
    );
    try {
      const pids = await Promise.all(
        clients.map(async (client, i) => {
          const result = await client.query(`SELECT pg_backend_pid() AS pid, ${i} AS n`);
          return result.rows[0].pid as number;
        }),
      );
      expect(new Set(pids).size).toBe(4);
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
    const sessions = connectedSessions().slice(before);
    expect(new Set(sessions).size).toBe(4);
    const recorded = await Promise.all(sessions.map((id) => bed.verifiedRecording(id)));
    const numbers = recorded.map((events) => {
      const queries = queriesOf(events);
      expect(queries).toHaveLength(1);
      return /AS n$/.test(queries[0]!) ? Number(rowsOf(events)[0]![1]) : -1;
    });
    expect(numbers.sort()).toEqual([0, 1, 2, 3]);
  });

  it('pgbench -i, then -S -c 4 -t 50: every connection (setup and clients) gets a fresh ticket', async () => {
    const before = connectedSessions().length;
    const init = await runTool(PGBENCH_BIN, tunnel, ['-i', '-q', '-s', '1']);
    expect(init.code, init.stderr).toBe(0);
    const run = await runTool(PGBENCH_BIN, tunnel, ['-n', '-S', '-c', '4', '-j', '2', '-t', '50']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/number of transactions actually processed: 200\/200/);
    // pgbench -i: one connection; pgbench -S: a setup connection and 4 clients.
    const sessions = connectedSessions().slice(before);
    expect(sessions.length).toBeGreaterThanOrEqual(6);
    expect(new Set(sessions).size).toBe(sessions.length);
  });

  it('listens on a Unix-domain socket in a private directory when asked, and removes it on close', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-tunnel-sock-'));
    try {
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      const local = await openTunnel({ socketDir: dir });
      expect(local.socketPath).toBe(path.join(dir, '.s.PGSQL.6543'));
      expect(local.host).toBe(dir);
      // libpq finds it from host=DIR port=6543, as for a local PostgreSQL.
      const result = await runTool(PSQL_BIN, local, ['-X', '-A', '-t', '-c', 'SELECT 6543']);
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe('6543');
      await expect(
        startPostgresTunnel({
          resource: { id: bed.resource.id, name: bed.resource.name },
          sessions: api,
          caPem: bed.caPem,
          socketDir: dir,
          port: 6543,
        }),
      ).rejects.toThrow(/already exists/);
      await local.close();
      expect(existsSync(path.join(dir, '.s.PGSQL.6543'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('no grant: the client gets a FATAL 28000 that says so, and the tunnel serves others', async () => {
    const created = await bed.gw.request('POST', '/v1/resources', {
      token: bed.adminToken,
      body: {
        name: 'db-no-grant',
        target: {
          kind: 'postgres',
          host: '127.0.0.1',
          port: 5432,
          database: 'nothing',
          username: 'nobody',
          tlsMode: 'disable',
          caPem: null,
        },
      },
    });
    expect(created.status).toBe(201);
    const refused = await openTunnel({ resource: { id: created.json.id, name: 'db-no-grant' } });
    const result = await runTool(PSQL_BIN, refused, ['-X', '-c', 'SELECT 1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('You have no access to db-no-grant right now');
    expect(lines.some((line) => line.includes('refused (28000)'))).toBe(true);
    const still = await runTool(PSQL_BIN, tunnel, ['-X', '-A', '-t', '-c', 'SELECT 7']);
    expect(still.stdout.trim()).toBe('7');
  });

  it('gateway down: FATAL 08006 naming the listener', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const server = createServer();
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 1));
      });
    });
    const down = await openTunnel({
      sessions: {
        async createSession(resourceId) {
          const session = await api.createSession(resourceId);
          return {
            ...session,
            endpoint: { protocol: 'postgres', host: '127.0.0.1', port: closedPort },
          };
        },
      },
    });
    const result = await runTool(PSQL_BIN, down, ['-X', '-c', 'SELECT 1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(
      `Cannot reach the Witness gateway's PostgreSQL listener at 127.0.0.1:${closedPort}`,
    );
    expect(lines.some((line) => line.includes('refused (08006)'))).toBe(true);
  });

  it('a gateway whose certificate is not from the pinned CA gets nothing: FATAL 08006', async () => {
    const other = await createTestPki({ caName: 'Some Other CA' });
    const wrongCa = await openTunnel({ caPem: other.caPem });
    const result = await runTool(PSQL_BIN, wrongCa, ['-X', '-c', 'SELECT 1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('is not the one this profile trusts');
    expect(result.stderr).toContain('witness login');
  });

  it('a client that is not PostgreSQL gets an ErrorResponse; a connection already open keeps working', async () => {
    const open = new pg.Client({ host: tunnel.host, port: tunnel.port, user: 'x', ssl: false });
    await open.connect();
    try {
      expect((await open.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
      const answer = await new Promise<Buffer>((resolve, reject) => {
        const socket = connectTcp(tunnel.port, tunnel.host, () => {
          socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
        });
        const chunks: Buffer[] = [];
        socket.on('data', (chunk: Buffer) => chunks.push(chunk));
        socket.once('close', () => resolve(Buffer.concat(chunks)));
        socket.once('error', reject);
      });
      expect(answer.subarray(0, 1).toString()).toBe('E');
      expect(answer.toString('latin1')).toContain('C08P01');
      expect(answer.toString('latin1')).toContain('Invalid startup packet length');
      expect((await open.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
      // And new connections are still served.
      const again = await runTool(PSQL_BIN, tunnel, ['-X', '-A', '-t', '-c', 'SELECT 3']);
      expect(again.stdout.trim()).toBe('3');
    } finally {
      await open.end();
    }
  });

  it('an admin terminate reaches the client through the tunnel as the gateway FATAL; closing the tunnel ends its connections', async () => {
    const own = await openTunnel();
    const before = connectedSessions().length;
    const connect = async () => {
      const client = new pg.Client({ host: own.host, port: own.port, user: 'x', ssl: false });
      client.on('error', () => {});
      await client.connect();
      return client;
    };
    const doomed = await connect();
    const survivor = await connect();
    const [doomedSession] = connectedSessions().slice(before);
    const failed = new Promise<Error & { code?: string }>((resolve) => doomed.on('error', resolve));
    const response = await bed.gw.request('POST', `/v1/sessions/${doomedSession}/terminate`, {
      token: bed.adminToken,
    });
    expect(response.status).toBe(200);
    const error = await failed;
    expect(error.code).toBe('57P01');
    expect(error.message).toContain('terminated by root-admin');
    expect((await survivor.query('SELECT 5 AS five')).rows).toEqual([{ five: 5 }]);
    await waitFor(async () => own.connections === 1, 'the terminated connection to close');

    const ended = new Promise<void>((resolve) => survivor.on('end', () => resolve()));
    await own.close();
    await ended;
    expect(own.connections).toBe(0);
    await expect(survivor.query('SELECT 1')).rejects.toThrow();
  });

  it('psql Ctrl-C cancels a running pg_sleep(30): the tunnel routes the CancelRequest to the gateway', async () => {
    const watcher = new pg.Client({ connectionString: bed.resource.directUrl });
    await watcher.connect();
    const before = connectedSessions().length;
    const started = Date.now();
    try {
      const result = await runTool(PSQL_BIN, tunnel, ['-X', '-c', 'SELECT pg_sleep(30)'], {
        onSpawn: (interrupt) => {
          void waitFor(async () => {
            const running = await watcher.query(
              "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'",
            );
            return running.rowCount === 1;
          }, 'pg_sleep to run').then(interrupt);
        },
      });
      expect(result.stderr).toContain('canceling statement due to user request');
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      await watcher.end();
    }
    expect(lines.some((line) => line.startsWith('cancel request forwarded'))).toBe(true);
    const [sessionId] = connectedSessions().slice(before);
    const events = await bed.verifiedRecording(sessionId!);
    const errors = events
      .filter((event) => event.kind === 'E')
      .map((event) => JSON.parse(Buffer.from(event.data).toString('utf8')).fields.C);
    expect(errors).toEqual(['57014']);
  });
});
