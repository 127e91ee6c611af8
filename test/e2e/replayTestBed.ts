/**
 * What the replay e2e needs, all real: OpenSSH sshd and a fresh database on the run's PostgreSQL
 * 15 cluster as targets, the `witness-gateway serve` binary with its SSH and PostgreSQL
 * listeners (SQLite store, data in a temp folder the test may tamper with), the admin `root`
 * with standing grants on both, the `witness` CLI signed in as root (for a `witness tunnel` +
 * psql database session), and the web host serving the desktop services.
 *
 * The desktop signs in as root through the connect flow (inspect, pin, sign in), so the user who
 * replays is an admin and sees every recording.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { createDesktopApp } from '../../main/services/desktopApp.ts';
import { startWebHost, type WebHost } from '../../main/webhost/server.ts';
import {
  GATEWAY_BIN,
  type GatewayProcess,
  runCommand,
  runNode,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { freshPostgresDatabase } from '../harness/postgresForTests.ts';
import { PSQL_BIN } from '../harness/postgresTestBed.ts';
import { CleanupStack } from './cleanupStack.ts';
import { startGatewayWithSshTarget } from './gatewayWithSshTarget.ts';

export const repoRoot = path.resolve(import.meta.dirname, '..', '..');
export const ROOT_PASSWORD = 'root-replay-password-9';

export interface ReplayTestBed {
  gateway: GatewayProcess;
  gatewayDir: string;
  admin: GatewayClient;
  sshResourceName: string;
  sshResourceId: string;
  pgResourceName: string;
  /** Superuser URL of the target database (to create the table the session reads). */
  pgDirectUrl: string;
  host: WebHost;
  desktopDataDir: string;
  /** Runs SQL through `witness tunnel` + psql as root: a recorded database session. */
  psqlThroughTunnel(sql: string): Promise<{ code: number | null; stdout: string; stderr: string }>;
  logs: string[];
  close(): Promise<void>;
}

export async function startReplayTestBed(options: { rendererDir: string }): Promise<ReplayTestBed> {
  const cleanups = new CleanupStack();
  const { close } = cleanups;
  try {
    const work = mkdtempSync(path.join(tmpdir(), 'witness-replay-e2e-'));
    cleanups.push(() => rmSync(work, { recursive: true, force: true }));
    const gatewayDir = path.join(work, 'gateway');
    const sshResourceName = 'web-1';
    const { gateway, admin, sshResourceId } = await startGatewayWithSshTarget(
      {
        gatewayDir,
        rootPassword: ROOT_PASSWORD,
        extraArgs: ['--postgres', '127.0.0.1:0'],
        resourceName: sshResourceName,
        resourceDescription: 'sshd on loopback (replay e2e)',
      },
      cleanups,
    );
    const me = await admin.me();

    const pgDirectUrl = await freshPostgresDatabase();
    const target = new URL(pgDirectUrl);
    const pgResourceName = 'orders-db';
    const pg = await admin.createResource({
      name: pgResourceName,
      description: 'PostgreSQL 15 on loopback (replay e2e)',
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
    for (const resourceId of [sshResourceId, pg.id]) {
      await admin.createGrant({
        subject: { kind: 'user', userId: me.id },
        target: { kind: 'resource', resourceId },
        maxSessionSeconds: 3600,
      });
    }

    // The CLI, signed in as root, for the tunnel.
    const cliEnv = {
      WITNESS_HOME: path.join(work, 'cli-home'),
      WITNESS_CREDENTIAL_STORE: 'file',
    };
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
      { env: cliEnv, stdin: `${ROOT_PASSWORD}\n` },
    );
    if (login.code !== 0) throw new Error(`witness login failed: ${login.stderr}`);

    const psqlThroughTunnel = async (sql: string) => {
      const child: ChildProcess = spawn(process.execPath, [WITNESS_BIN, 'tunnel', pgResourceName], {
        env: { ...process.env, ...cliEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout?.setEncoding('utf8').on('data', (c: string) => {
        out += c;
      });
      child.stderr?.setEncoding('utf8').on('data', (c: string) => {
        out += c;
      });
      const exited = new Promise((resolve) => child.once('close', resolve));
      try {
        const deadline = Date.now() + 30_000;
        while (!/Press Ctrl\+C/.test(out)) {
          if (child.exitCode !== null || Date.now() > deadline) {
            throw new Error(`witness tunnel did not start:\n${out}`);
          }
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        const conninfo = /psql "(host=\S+ port=\d+ dbname=\S+ sslmode=disable)"/.exec(out)?.[1];
        if (!conninfo) throw new Error(`no psql line in:\n${out}`);
        return await runCommand(PSQL_BIN, ['-X', '-A', conninfo, '-c', sql], {
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGCONNECT_TIMEOUT: '20' },
        });
      } finally {
        child.kill('SIGINT');
        await exited;
      }
    };

    const desktopDataDir = path.join(work, 'desktop');
    const logs: string[] = [];
    const app = await createDesktopApp({
      appDataDir: desktopDataDir,
      secretStore: 'memory',
      gatewayBin: GATEWAY_BIN,
      useLocalGatewayWhenNoneEnrolled: false,
      log: (line) => logs.push(line),
    });
    const host = await startWebHost({
      app,
      rendererDir: options.rendererDir,
      port: 0,
      log: (line) => logs.push(line),
    });
    // The host disposes the app (and its playback caches) when it closes.
    cleanups.push(() => host.close());
    return {
      gateway,
      gatewayDir,
      admin,
      sshResourceName,
      sshResourceId,
      pgResourceName,
      pgDirectUrl,
      host,
      desktopDataDir,
      psqlThroughTunnel,
      logs,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
