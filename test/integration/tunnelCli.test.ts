/**
 * `witness tunnel` through the real binaries: a gateway process with its PostgreSQL listener,
 * `witness login`, then the tunnel as a long-running child that prints its address and a psql
 * line, serves psql, and stops cleanly on Ctrl+C (SIGINT).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createAdmin,
  type GatewayProcess,
  runCommand,
  runNode,
  signedInClient,
  spawnGateway,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { describeWithPostgres, freshPostgresDatabase } from '../harness/postgresForTests.ts';
import { PSQL_BIN } from '../harness/postgresTestBed.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithPostgres('witness tunnel (real gateway and CLI binaries)', () => {
  let work: string;
  let gateway: GatewayProcess;
  const cliEnv = () => ({
    WITNESS_HOME: path.join(work, 'home'),
    WITNESS_CREDENTIAL_STORE: 'file',
  });
  const children = new Set<ChildProcess>();

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
    const target = new URL(await freshPostgresDatabase());
    const resource = await admin.createResource({
      name: 'orders-db',
      target: {
        kind: 'postgres',
        host: target.hostname,
        port: Number(target.port),
        database: target.pathname.slice(1),
        username: decodeURIComponent(target.username),
        tlsMode: 'disable',
      },
      secret: { password: decodeURIComponent(target.password) },
    });
    const me = await admin.me();
    await admin.createGrant({
      subject: { kind: 'user', userId: me.id },
      target: { kind: 'resource', resourceId: resource.id },
      maxSessionSeconds: 3600,
    });
    const login = await runNode(
      WITNESS_BIN,
      [
        'login',
        gateway.ready.api,
        '-u',
        'root',
        '--password-stdin',
        '--fingerprint',
        gateway.ready.caFingerprint,
      ],
      { env: cliEnv(), stdin: 'root-password-1\n' },
    );
    expect(login.code, login.stderr).toBe(0);
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    await gateway?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** `witness tunnel ARGS…` as a child, once it has printed its psql line. */
  async function startTunnel(args: string[]) {
    const child = spawn(process.execPath, [WITNESS_BIN, 'tunnel', ...args], {
      env: { ...process.env, ...cliEnv() },
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
    return { output, conninfo, psql, interrupt };
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
});
