/**
 * Several gateway replicas on one PostgreSQL database behind HAProxy, all on loopback (issue #17):
 * the real `bin/witness-gateway.mjs` twice, sharing `--database-url` (a fresh database on the
 * run's PostgreSQL 15 cluster) and one sealing key, each advertising the balancer's addresses;
 * Debian's `/usr/sbin/haproxy` in front with the configuration the README shows
 * (`deploy/haproxy/witness.cfg`, its `${…}` filled from the environment here).
 *
 *   const cluster = await startReplicaCluster();
 *   cluster.replica(0).api, cluster.replica(1).ssh      // each replica directly
 *   cluster.balancer.api, cluster.balancer.ssh          // through HAProxy
 *   await cluster.replica(0).kill('SIGKILL');           // or 'SIGTERM' to drain
 *   await cluster.replica(0).start();                   // the same replica again, same ports
 *   await cluster.stop();
 *
 * Replicas are started at the same moment, so every run also exercises the race-safe creation of
 * the cluster's identity.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { GatewayClient, type SessionTokens } from '../../gateway-client/gatewayClient.ts';
import {
  type CommandResult,
  GATEWAY_BIN,
  type GatewayProcess,
  runNode,
  spawnGateway,
} from './gatewayProcess.ts';
import { freshPostgresDatabase } from './postgresForTests.ts';
import { freePort } from './sshd.ts';

export const HAPROXY_BIN = '/usr/sbin/haproxy';
export const HAPROXY_CONFIG = path.resolve(
  import.meta.dirname,
  '..',
  '..',
  'deploy',
  'haproxy',
  'witness.cfg',
);
const HOST = '127.0.0.1';
const REPLICA_NAMES = ['a', 'b'] as const;

/** Why the harness cannot run here, or undefined when it can. */
export function haproxyUnavailableReason(): string | undefined {
  return existsSync(HAPROXY_BIN) ? undefined : `${HAPROXY_BIN} is missing (Debian package haproxy)`;
}

export interface HostPort {
  host: string;
  port: number;
}

export interface ReplicaClusterOptions {
  /** `--drain-timeout` of every replica (default `0`: SIGTERM ends live sessions at once). */
  drainTimeout?: string;
  /** HAProxy's check interval in ms (default 200: a dead replica is out within a few hundred ms). */
  checkIntervalMs?: number;
  /** More `serve` arguments for every replica. */
  serveArgs?: string[];
  /**
   * The database the replicas share (default: a fresh one on the test run's PostgreSQL). The
   * bench passes its own, since outside vitest there is no run-wide cluster.
   */
  databaseUrl?: string;
}

export interface Replica {
  readonly name: 'a' | 'b';
  readonly dataDir: string;
  /** `https://127.0.0.1:PORT`, the replica's own API. */
  readonly api: string;
  readonly ssh: HostPort;
  readonly postgres: HostPort;
  /** The running process; undefined after kill() until start(). */
  readonly process: GatewayProcess | undefined;
  /** Sends `signal` and waits for the exit; returns the exit code (null when killed by it). */
  kill(signal: NodeJS.Signals): Promise<number | null>;
  /** Starts the replica again on the same ports and data directory. */
  start(): Promise<void>;
}

export interface ReplicaCluster {
  readonly databaseUrl: string;
  /** The sealing key every replica is given (a file; the harness's own secret). */
  readonly sealingKeyFile: string;
  /** The cluster's CA (public), as any replica serves it: what clients pin. */
  readonly caPem: string;
  readonly caFingerprint: string;
  readonly balancer: { api: string; ssh: HostPort; postgres: HostPort };
  replica(index: 0 | 1): Replica;
  /** `witness-gateway ARGS…` (`admin …`, `keys rotate`) against the shared database, with replica A's data dir. */
  admin(args: string[], stdin?: string): Promise<CommandResult>;
  /** A signed-in GatewayClient on `url`, pinning the cluster's CA. */
  signIn(url: string, credentials: { username: string; password: string }): Promise<GatewayClient>;
  /** The `instance` a readyz through `url` names: which replica answered. */
  readyInstance(url: string): Promise<{ status: number; instance?: string }>;
  /** HAProxy's output so far (errors, warnings). */
  balancerLog(): string;
  stop(): Promise<void>;
}

export async function startReplicaCluster(
  options: ReplicaClusterOptions = {},
): Promise<ReplicaCluster> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'witness-replicas-'));
  const sealingKeyFile = path.join(work, 'sealing.key');
  writeFileSync(sealingKeyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const databaseUrl = options.databaseUrl ?? (await freshPostgresDatabase());
  const balancer = {
    api: await freePort(),
    ssh: await freePort(),
    postgres: await freePort(),
  };
  const replicas: ReplicaHandle[] = [];
  let haproxy: ChildProcess | undefined;
  let haproxyOutput = '';
  try {
    for (const name of REPLICA_NAMES) {
      replicas.push(
        new ReplicaHandle(
          name,
          path.join(work, `replica-${name}`),
          {
            api: await freePort(),
            ssh: await freePort(),
            postgres: await freePort(),
          },
          [
            '--database-url',
            databaseUrl,
            '--sealing-key-file',
            sealingKeyFile,
            '--advertise-api',
            `https://${HOST}:${balancer.api}`,
            '--advertise-ssh',
            `${HOST}:${balancer.ssh}`,
            '--advertise-postgres',
            `${HOST}:${balancer.postgres}`,
            '--drain-timeout',
            options.drainTimeout ?? '0',
            ...(options.serveArgs ?? []),
          ],
        ),
      );
    }
    // Both at once: the cluster's identity is created by whichever wins, read by both.
    await Promise.all(replicas.map((replica) => replica.start()));

    haproxy = spawn(HAPROXY_BIN, ['-f', HAPROXY_CONFIG, '-db'], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        WITNESS_BIND: HOST,
        WITNESS_API_PORT: String(balancer.api),
        WITNESS_SSH_PORT: String(balancer.ssh),
        WITNESS_POSTGRES_PORT: String(balancer.postgres),
        WITNESS_CHECK_INTERVAL: `${options.checkIntervalMs ?? 200}ms`,
        ...Object.fromEntries(
          replicas.flatMap((replica) => {
            const prefix = `WITNESS_${replica.name.toUpperCase()}`;
            return [
              [`${prefix}_HOST`, HOST],
              [`${prefix}_API_PORT`, String(replica.ports.api)],
              [`${prefix}_SSH_PORT`, String(replica.ports.ssh)],
              [`${prefix}_POSTGRES_PORT`, String(replica.ports.postgres)],
            ];
          }),
        ),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    haproxy.stdout?.on('data', (chunk: Buffer) => {
      haproxyOutput += chunk.toString();
    });
    haproxy.stderr?.on('data', (chunk: Buffer) => {
      haproxyOutput += chunk.toString();
    });
  } catch (error) {
    for (const replica of replicas) await replica.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true });
    throw error;
  }

  const first = replicas[0] as ReplicaHandle;
  const caPem = readFileSync(path.join(first.dataDir, 'tls', 'ca.crt'), 'utf8');
  const balancerApi = `https://${HOST}:${balancer.api}`;
  const readyInstance = (url: string) => readyz(url, caPem);

  // Ready when the balancer has sent a check to each replica and each said ready: round robin
  // alternates, so both instances show up within a few requests.
  const seen = new Set<string>();
  const deadline = Date.now() + 20_000;
  while (seen.size < replicas.length) {
    if (Date.now() > deadline || haproxy.exitCode !== null) {
      const failure = new Error(
        `HAProxy did not bring both replicas up (saw ${[...seen].join(', ') || 'none'}); its output:\n${haproxyOutput}`,
      );
      haproxy.kill('SIGKILL');
      for (const replica of replicas) await replica.kill('SIGKILL');
      throw failure;
    }
    const answer = await readyInstance(balancerApi).catch(() => ({ status: 0, instance: '' }));
    if (answer.status === 200 && answer.instance) seen.add(answer.instance);
    else await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const running = haproxy;
  return {
    databaseUrl,
    sealingKeyFile,
    caPem,
    caFingerprint: first.process?.ready.caFingerprint ?? '',
    balancer: {
      api: balancerApi,
      ssh: { host: HOST, port: balancer.ssh },
      postgres: { host: HOST, port: balancer.postgres },
    },
    replica: (index) => replicas[index] as ReplicaHandle,
    admin: (args, stdin) =>
      runNode(
        GATEWAY_BIN,
        [
          ...args,
          '--data',
          first.dataDir,
          '--database-url',
          databaseUrl,
          '--sealing-key-file',
          sealingKeyFile,
        ],
        stdin === undefined ? {} : { stdin },
      ),
    signIn: async (url, credentials) => {
      let tokens: SessionTokens | null = null;
      const client = new GatewayClient(
        { baseUrl: url, caPem },
        {
          tokens: () => tokens,
          tokensRefreshed: (pair) => {
            tokens = pair;
          },
        },
      );
      tokens = await client.login(credentials);
      return client;
    },
    readyInstance,
    balancerLog: () => haproxyOutput,
    stop: async () => {
      if (running.exitCode === null && running.signalCode === null) {
        const exited = new Promise((resolve) => running.once('exit', resolve));
        running.kill('SIGTERM');
        await exited;
      }
      // SIGINT: stop at once, whatever the drain timeout.
      for (const replica of replicas) await replica.kill('SIGINT');
      rmSync(work, { recursive: true, force: true });
    },
  };
}

class ReplicaHandle implements Replica {
  process: GatewayProcess | undefined;

  constructor(
    readonly name: 'a' | 'b',
    readonly dataDir: string,
    readonly ports: { api: number; ssh: number; postgres: number },
    private readonly serveArgs: string[],
  ) {}

  get api(): string {
    return `https://${HOST}:${this.ports.api}`;
  }

  get ssh(): HostPort {
    return { host: HOST, port: this.ports.ssh };
  }

  get postgres(): HostPort {
    return { host: HOST, port: this.ports.postgres };
  }

  async start(): Promise<void> {
    if (this.process && this.process.child.exitCode === null) return;
    this.process = await spawnGateway([
      '--data',
      this.dataDir,
      '--api',
      `${HOST}:${this.ports.api}`,
      '--ssh',
      `${HOST}:${this.ports.ssh}`,
      '--postgres',
      `${HOST}:${this.ports.postgres}`,
      ...this.serveArgs,
    ]);
  }

  async kill(signal: NodeJS.Signals): Promise<number | null> {
    const running = this.process;
    if (!running) return null;
    const { child } = running;
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const code = await exited;
    this.process = undefined;
    return code;
  }
}

/** GET /v1/readyz, trusting only the cluster CA; the status and the instance that answered. */
function readyz(url: string, caPem: string): Promise<{ status: number; instance?: string }> {
  return new Promise((resolve, reject) => {
    const request = https.get(
      `${url}/v1/readyz`,
      { ca: caPem, servername: 'localhost', timeout: 5_000, agent: false },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => {
          body += chunk.toString();
        });
        response.on('end', () => {
          let instance: string | undefined;
          try {
            instance = (JSON.parse(body) as { instance?: string }).instance;
          } catch {
            instance = undefined;
          }
          resolve({ status: response.statusCode ?? 0, ...(instance && { instance }) });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('readyz timed out')));
    request.on('error', reject);
  });
}
