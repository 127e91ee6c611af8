/**
 * `witness tunnel` through the real binaries: a gateway process with its PostgreSQL listener,
 * `witness login`, then the tunnel as a long-running child that prints its address and a psql
 * line, serves psql, and stops cleanly on Ctrl+C (SIGINT). Also `kill` of `witness psql` and
 * `witness tunnel` in the middle of a query: no client left, no temporary file, no live session.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import {
  createAdmin,
  type GatewayProcess,
  loginWithCli,
  runCommand,
  runNode,
  signedInClient,
  spawnGateway,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import { addPostgresTarget } from '../harness/postgresTarget.ts';
import { PSQL_BIN } from '../harness/postgresTestBed.ts';
import { descendantsOf, isRunning, killAndWaitASecond } from '../harness/processTree.ts';
import { waitFor } from '../harness/waitFor.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithPostgres('witness tunnel (real gateway and CLI binaries)', () => {
  let work: string;
  let gateway: GatewayProcess;
  const cliEnv = () => ({
    WITNESS_HOME: path.join(work, 'home'),
    WITNESS_CREDENTIAL_STORE: 'file',
  });
  const children = new Set<ChildProcess>();
  /** The admin's own API client (its own sign-in), to look at sessions. */
  let api: GatewayClient;
  /** The target database, reached directly: to see (and clean up) the queries sent to it. */
  let targetUrl: string;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-tunnel-cli-'));
    const dataDir = path.join(work, 'gw');
    gateway = await spawnGateway([
      '--data',
      dataDir,
      '--api',
      '127.0.0.1:0',
      '--postgres',
      '127.0.0.1:0',
      // Short-lived access tokens, so the tunnel has to renew its sign-in while it runs.
      '--access-token-ttl',
      '2s',
    ]);
    await createAdmin(dataDir, 'root', 'root-password-1');
    const admin = await signedInClient(gateway.ready.api, dataDir, {
      username: 'root',
      password: 'root-password-1',
    });
    const me = await admin.me();
    ({ targetUrl } = await addPostgresTarget(admin, {
      name: 'orders-db',
      grantTo: { userId: me.id, maxSessionSeconds: 3600 },
    }));
    const login = await loginWithCli(gateway.ready, 'root', 'root-password-1', cliEnv());
    expect(login.code, login.stderr).toBe(0);
    api = admin;
  });
  afterAll(async () => {
    api?.close();
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await gateway?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** `witness tunnel ARGS…` as a child, once it has printed its psql line. */
  async function startTunnel(args: string[], env: NodeJS.ProcessEnv = {}) {
    const child = spawn(process.execPath, [WITNESS_BIN, 'tunnel', ...args], {
      env: { ...process.env, ...cliEnv(), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    const output = { stdout: '', stderr: '' };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      output.stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      output.stderr += chunk;
    });
    const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
    const deadline = Date.now() + 20_000;
    while (!/Press Ctrl\+C/.test(output.stdout)) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the tunnel did not start:\n${output.stdout}\n${output.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const conninfo = /psql "(host=\S+ port=\d+ dbname=\S+ sslmode=disable)"/.exec(
      output.stdout,
    )?.[1];
    if (conninfo === undefined) throw new Error(`no psql line in:\n${output.stdout}`);
    /** The printed connection string as it is: no password, no certificate settings. */
    const psql = (sql: string) =>
      runCommand(PSQL_BIN, ['-X', '-A', '-t', conninfo, '-c', sql], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGCONNECT_TIMEOUT: '20' },
      });
    const interrupt = async () => {
      child.kill('SIGINT');
      return exited;
    };
    return { child, exited, output, conninfo, psql, interrupt };
  }

  it('prints the address and a psql line, serves psql, and stops on Ctrl+C', async () => {
    const tunnel = await startTunnel(['orders-db']);
    expect(tunnel.output.stdout).toMatch(/listening on 127\.0\.0\.1:\d+/);
    expect(tunnel.conninfo).toMatch(/^host=127\.0\.0\.1 port=\d+ dbname=t_\w+ sslmode=disable$/);
    const psql = await tunnel.psql('SELECT 40 + 2');
    expect(psql.stderr).toBe('');
    expect(psql.stdout.trim()).toBe('42');
    expect(tunnel.output.stderr).toMatch(/ses_\w+: connected to orders-db/);
    expect(await tunnel.interrupt()).toBe(0);
    expect(tunnel.output.stderr).toContain('tunnel stopped (SIGINT)');
  });

  it('keeps serving after another witness command renewed the sign-in it holds', async () => {
    const tunnel = await startTunnel(['orders-db']);
    expect((await tunnel.psql('SELECT 1')).stdout.trim()).toBe('1');
    const whoami = () => runNode(WITNESS_BIN, ['whoami'], { env: cliEnv() });
    // The tunnel's access token expires; `witness whoami` renews the sign-in, spending the
    // refresh token the tunnel started with.
    await sleep(2_500);
    const renewed = await whoami();
    expect(renewed.code, renewed.stderr).toBe(0);
    // That renewal expires too, so the tunnel must renew itself — with the stored token: the
    // one it started with would be a replay, and the gateway would end the whole sign-in.
    await sleep(2_500);
    const psql = await tunnel.psql('SELECT 2');
    expect(psql.stderr).toBe('');
    expect(psql.stdout.trim()).toBe('2');
    const after = await whoami();
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toMatch(/^root \(admin\)/);
    expect(await tunnel.interrupt()).toBe(0);
  }, 60_000);

  it('--socket-dir: a Unix-domain socket that the printed psql line reaches', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-tunnel-dir-'));
    try {
      const tunnel = await startTunnel(['orders-db', '--socket-dir', dir, '--port', '6544']);
      expect(tunnel.output.stdout).toContain(`listening on ${path.join(dir, '.s.PGSQL.6544')}`);
      expect(tunnel.conninfo.startsWith(`host=${dir} port=6544 `)).toBe(true);
      expect((await tunnel.psql('SELECT 6544')).stdout.trim()).toBe('6544');
      expect(await tunnel.interrupt()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown resource and a bad port with messages that say what to do', async () => {
    const unknown = await runNode(WITNESS_BIN, ['tunnel', 'no-such-db'], { env: cliEnv() });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("No resource named 'no-such-db'");
    const badPort = await runNode(WITNESS_BIN, ['tunnel', 'orders-db', '--port', 'x'], {
      env: cliEnv(),
    });
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port: expected a port number');
  });

  // --- signals -------------------------------------------------------------------------------

  /** Sessions not ended among those created after `before`. */
  const sessionsSince = async (before: Set<string>) =>
    (await api.listSessions()).filter((session) => !before.has(session.id));

  /** Backends on the target running `sql` (seen directly, not through the gateway). */
  const targetRunning = async (sql: string) => {
    const seen = await runCommand(
      PSQL_BIN,
      [
        '-X',
        '-A',
        '-t',
        targetUrl,
        '-c',
        `SELECT count(*) FROM pg_stat_activity WHERE query = '${sql}' AND pid <> pg_backend_pid()`,
      ],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );
    return Number(seen.stdout.trim());
  };
  const stopOnTarget = (sql: string) =>
    runCommand(
      PSQL_BIN,
      [
        '-X',
        targetUrl,
        '-c',
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = '${sql}' AND pid <> pg_backend_pid()`,
      ],
      { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } },
    );

  const witnessTemporaryFiles = (dir: string) =>
    // (tsx, which runs the CLI, keeps its compile cache in TMPDIR too: `tsx-0`.)
    readdirSync(dir).filter((name) => name.startsWith('witness-'));

  for (const [signal, exitCode] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
    // Ctrl+C belongs to psql: it cancels the query, and `-c` then exits 1.
    ['SIGINT', 1],
  ] as const) {
    it(`kill -${signal.slice(3)} of \`witness psql\` in a query leaves no psql, no temporary file and no live session`, async () => {
      const tmp = mkdtempSync(path.join(work, `psql-${signal}-`));
      // A unique duration, so the query is found on the target by its text.
      const sql = `select pg_sleep(30.${randomInt(100_000, 999_999)})`;
      const before = new Set((await api.listSessions()).map((session) => session.id));
      const child = spawn(
        process.execPath,
        [WITNESS_BIN, 'psql', 'orders-db', '--', '-X', '-A', '-t', '-c', sql],
        {
          env: { ...process.env, ...cliEnv(), TMPDIR: tmp, WITNESS_PSQL_BIN: PSQL_BIN },
          stdio: ['pipe', 'pipe', 'pipe'],
        },
      );
      children.add(child);
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
      });
      const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
      try {
        await waitFor(async () => (await targetRunning(sql)) === 1, `the query (${stderr})`);
        const clients = descendantsOf(child.pid!);
        expect(clients.length).toBeGreaterThan(0);
        expect(witnessTemporaryFiles(tmp)).toHaveLength(1);
        const mine = await sessionsSince(before);
        expect(mine.map((s) => s.state)).toEqual(['live']);

        const code = await killAndWaitASecond(child, signal, exited);
        expect(clients.filter(isRunning)).toEqual([]);
        expect(witnessTemporaryFiles(tmp)).toEqual([]);
        expect((await api.getSession(mine[0]!.id)).state).toBe('ended');
        expect(code, stderr).toBe(exitCode);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        // pg_sleep does not notice that its client went away, so it may still run there.
        await stopOnTarget(sql);
      }
    });

    it(`kill -${signal.slice(3)} of \`witness tunnel\` with a query through it ends the connection, its session and the socket`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-tunnel-sig-'));
      const sql = `select pg_sleep(30.${randomInt(100_000, 999_999)})`;
      try {
        const before = new Set((await api.listSessions()).map((session) => session.id));
        const tunnel = await startTunnel(['orders-db', '--socket-dir', dir, '--port', '6545']);
        const socket = path.join(dir, '.s.PGSQL.6545');
        expect(existsSync(socket)).toBe(true);
        const query = tunnel.psql(sql);
        await waitFor(async () => (await targetRunning(sql)) === 1, 'the query through the tunnel');
        const mine = await sessionsSince(before);
        expect(mine.map((s) => s.state)).toEqual(['live']);

        expect(await killAndWaitASecond(tunnel.child, signal, tunnel.exited)).toBe(0);
        expect(tunnel.output.stderr).toContain(
          `tunnel stopped (${signal}); closed 1 open connection`,
        );
        expect(descendantsOf(tunnel.child.pid!)).toEqual([]);
        expect(existsSync(socket)).toBe(false);
        expect((await api.getSession(mine[0]!.id)).state).toBe('ended');
        // The psql that was connected through it lost its connection and ended.
        const ended = await query;
        expect(ended.code).not.toBe(0);
        expect(ended.stderr).toMatch(/server closed the connection|connection to server/);
      } finally {
        await stopOnTarget(sql);
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
