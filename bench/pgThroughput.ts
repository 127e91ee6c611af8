/**
 * `npm run bench:pg`: PostgreSQL throughput through the gateway (recording every query and
 * result row) against the reference peers measured in the same run — PostgreSQL directly, and
 * pgbouncer in session mode (which records nothing).
 *
 * All paths use the same real PostgreSQL 15 temp cluster (initialized with `pgbench -i -s 10`)
 * and the same client: one pgbench process, `-c CLIENTS -j JOBS`, read-only `-S` workload, once
 * with the simple protocol and once with `-M prepared`. The gateway runs as its own process
 * (`witness-gateway serve --postgres`), as in production, with TLS on the client leg (it accepts
 * nothing else); pgbouncer and direct connections are plain TCP unless
 * WITNESS_BENCH_PGBOUNCER_TLS=1 gives pgbouncer TLS too.
 *
 * The gateway path includes the local tunnel hop: pgbench opens a setup connection and then its
 * clients with one user and password, while a gateway ticket is good for one connection. So
 * pgbench connects to a local PostgreSQL tunnel (gateway-client/tunnel/, what `witness tunnel`
 * runs; here inside this bench process), which creates a fresh session per connection and relays
 * it over TLS to the gateway: pgbench → tunnel → (TLS) gateway → PostgreSQL. The figures compare
 * that whole chain, tunnel included, with one pgbouncer hop.
 *
 * A fourth path, `policy`, is the gateway path through a second resource on the same cluster
 * whose masking rules and guardrails (every statement class) match nothing pgbench does: each
 * query is parsed and checked and every result planned for masking, nothing is refused or
 * changed (issue #13). Its TPS over the plain gateway path's is `policy_overhead` (target ≥ 0.9).
 *
 * A fifth path, `cert` (issue #15), is pgbench straight to the gateway's PostgreSQL listener with
 * a database client certificate from `POST /v1/db-certificates` (what `witness db login`
 * writes): TLS with sslmode=verify-full, no tunnel and no ticket; each connection is still its
 * own recorded session. Its TPS over pgbouncer's is `pg_cert_vs_pgbouncer` (simple protocol,
 * same pgbench load; target ≥ 0.75).
 *
 * Prints per-path figures on stderr and a last line on stdout:
 *   RESULT pg_vs_pgbouncer=<ratio> pg_prepared_vs_pgbouncer=<ratio> pg_vs_direct=<ratio>
 *          gateway_cpu_vs_pgbouncer=<ratio> gateway_prepared_cpu_vs_pgbouncer=<ratio>
 *          policy_overhead=<ratio> policy_overhead_prepared=<ratio> pg_cert_vs_pgbouncer=<ratio>
 * (gateway simple / pgbouncer simple, gateway prepared / pgbouncer prepared, gateway simple /
 * direct simple TPS; then the gateway process's own CPU per transaction over pgbouncer's, each
 * the median of its rounds under the same pgbench load, simple and prepared). If the gateway cannot be set up, direct and pgbouncer are still measured and
 * printed, then the bench fails with the reason and prints no RESULT line.
 *
 * Environment: WITNESS_BENCH_SECONDS (15) per run, WITNESS_BENCH_PG_CLIENTS (8),
 * WITNESS_BENCH_PG_JOBS (pgbench threads, 2),
 * WITNESS_BENCH_PG_SCALE (10), WITNESS_BENCH_ROUNDS (1; the best round counts),
 * WITNESS_BENCH_ONLY (comma list of direct, pgbouncer, gateway: profiling aid, no RESULT),
 * WITNESS_BENCH_GATEWAY_NODE_ARGS (e.g. `--cpu-prof`), WITNESS_BENCH_TUNNEL (tcp: 127.0.0.1,
 * the default, the same kind of hop as pgbouncer and direct; unix: a Unix-domain socket),
 * WITNESS_PGBOUNCER_BIN (/usr/sbin/pgbouncer), WITNESS_PG_BIN (PostgreSQL 15's bin directory).
 *
 * Next to each figure the bench prints CPU time per transaction of the proxy processes (the
 * gateway, the tunnel, pgbouncer; from /proc): the figure to compare between code changes on a
 * busy machine, where TPS and wall-clock profiles move with everyone else's load — and of the
 * whole machine (`machine`: pgbench, PostgreSQL, the proxies and the kernel), which bounds TPS
 * on a machine with few cores at about cores ÷ machine CPU per transaction.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { GatewayClient } from '../gateway-client/gatewayClient.ts';
import {
  type PostgresTunnel,
  startPostgresTunnel,
} from '../gateway-client/tunnel/postgresTunnel.ts';
import { type DatabasePolicy, statementClasses } from '../shared/api/apiSchemas.ts';
import {
  createAdmin,
  type GatewayProcess,
  signedInClient,
  spawnGateway,
} from '../test/harness/gatewayProcess.ts';
import {
  createDatabase,
  type PostgresCluster,
  startPostgresCluster,
} from '../test/harness/postgresCluster.ts';
import { machineBusySeconds, processCpuSeconds } from './procCpu.ts';

const SECONDS = positiveNumber('WITNESS_BENCH_SECONDS', 15);
const CLIENTS = positiveNumber('WITNESS_BENCH_PG_CLIENTS', 8);
const JOBS = Math.min(CLIENTS, positiveNumber('WITNESS_BENCH_PG_JOBS', 2));
const SCALE = positiveNumber('WITNESS_BENCH_PG_SCALE', 10);
const ROUNDS = positiveNumber('WITNESS_BENCH_ROUNDS', 1);
const PG_BIN = process.env.WITNESS_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PGBOUNCER_BIN = process.env.WITNESS_PGBOUNCER_BIN ?? '/usr/sbin/pgbouncer';
const PGBOUNCER_TLS = process.env.WITNESS_BENCH_PGBOUNCER_TLS === '1';
const TUNNEL_SOCKET = process.env.WITNESS_BENCH_TUNNEL ?? 'tcp';
if (TUNNEL_SOCKET !== 'tcp' && TUNNEL_SOCKET !== 'unix') {
  throw new Error('WITNESS_BENCH_TUNNEL must be tcp or unix');
}
const PATHS = ['direct', 'pgbouncer', 'gateway', 'policy', 'cert'] as const;
type PathName = (typeof PATHS)[number];
const MODES = ['simple', 'prepared'] as const;
type Mode = (typeof MODES)[number];
const ONLY = process.env.WITNESS_BENCH_ONLY?.split(',').map((p) => p.trim()) as
  | PathName[]
  | undefined;
const DATABASE = 'bench';
const HOST = '127.0.0.1';

/** Every child process this bench started and that still runs, to stop by PID. */
const running = new Set<ChildProcess>();

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`);
  return value;
}

/** pgbench and psql from PostgreSQL 15's bin directory, else from PATH. */
function pgTool(name: string): string {
  const candidate = path.join(PG_BIN, name);
  try {
    accessSync(candidate, constants.X_OK);
    return candidate;
  } catch {
    return name;
  }
}

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs a program to completion (tracked, so a failure elsewhere can stop it). */
function run(program: string, args: string[], env: NodeJS.ProcessEnv, stdin = ''): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', (error: NodeJS.ErrnoException) => {
      running.delete(child);
      reject(
        error.code === 'ENOENT'
          ? new Error(`${program} is not installed (apt-get install postgresql-client-15)`)
          : error,
      );
    });
    child.on('close', (code) => {
      running.delete(child);
      resolve({ stdout, stderr, code });
    });
    child.stdin.end(stdin);
  });
}

/** libpq environment for one connection path (no PG* variable of the caller leaks in). */
type Connection = Record<string, string>;

function libpqEnv(connection: Connection): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('PG')) env[name] = value;
  }
  return { ...env, PGDATABASE: DATABASE, PGGSSENCMODE: 'disable', ...connection };
}

interface Measurement {
  tps: number;
  transactions: number;
  failed: number;
}

/** One pgbench process, CLIENTS connections over JOBS threads, on one connection path. */
async function pgbench(mode: Mode, seconds: number, connection: Connection): Promise<Measurement> {
  const args = ['-n', '-S', '-M', mode, '-c', String(CLIENTS), '-j', String(JOBS)];
  args.push('-T', String(seconds));
  const result = await run(pgTool('pgbench'), args, libpqEnv(connection));
  const match = /tps = ([\d.]+) \(without initial connection time\)/.exec(result.stdout);
  if (result.code !== 0 || !match) {
    throw new Error(
      `pgbench ${args.join(' ')} exited ${result.code}:\n${result.stderr.trim()}\n${result.stdout.trim()}`,
    );
  }
  return {
    tps: Number(match[1]),
    transactions: Number(/processed: (\d+)/.exec(result.stdout)?.[1] ?? 0),
    failed: Number(/number of failed transactions: (\d+)/.exec(result.stdout)?.[1] ?? 0),
  };
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined
 * elsewhere. Wall-clock profiles on a busy 2-core machine charge preemption to whatever was
 * running, so CPU time per transaction is the figure to compare between changes.
 */
/** Named CPU meters for a path: each returns CPU seconds used so far. */
type CpuMeters = Record<string, () => number | undefined>;

function ownCpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

/** Resolves once something accepts TCP connections on HOST:port. */
async function waitForPort(port: number, child: ChildProcess, what: () => string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${what()} exited (${child.exitCode ?? child.signalCode})`);
    }
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, HOST);
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`${what()} did not listen on ${HOST}:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

interface Pgbouncer {
  port: number;
  pid: number | undefined;
  connection: Connection;
  stop(): Promise<void>;
}

/** pgbouncer in session mode in front of the cluster, on a free loopback port. */
async function startPgbouncer(work: string, cluster: PostgresCluster): Promise<Pgbouncer> {
  try {
    accessSync(PGBOUNCER_BIN, constants.X_OK);
  } catch {
    throw new Error(
      `pgbouncer not found at ${PGBOUNCER_BIN}: apt-get install pgbouncer, or set WITNESS_PGBOUNCER_BIN`,
    );
  }
  const dir = path.join(work, 'pgbouncer');
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  const password = new URL(cluster.url).password;
  const port = await freePort();
  const ini = path.join(dir, 'pgbouncer.ini');
  const userlist = path.join(dir, 'userlist.txt');
  const files = [ini, userlist];
  const settings = [
    '[databases]',
    `${DATABASE} = host=${cluster.host} port=${cluster.port} dbname=${DATABASE} user=witness password=${decodeURIComponent(password)}`,
    '',
    '[pgbouncer]',
    `listen_addr = ${HOST}`,
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'auth_type = scram-sha-256',
    `auth_file = ${userlist}`,
    'pool_mode = session',
    `default_pool_size = ${CLIENTS + 2}`,
    `max_client_conn = ${CLIENTS * 4 + 10}`,
    'ignore_startup_parameters = extra_float_digits',
    'log_connections = 0',
    'log_disconnections = 0',
    'log_pooler_errors = 1',
  ];
  if (PGBOUNCER_TLS) {
    const key = path.join(dir, 'server.key');
    const cert = path.join(dir, 'server.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    files.push(key, cert);
    settings.push(
      'client_tls_sslmode = require',
      `client_tls_key_file = ${key}`,
      `client_tls_cert_file = ${cert}`,
    );
  }
  await writeFile(ini, `${settings.join('\n')}\n`, { mode: 0o600 });
  await writeFile(userlist, '"bench" "bench-password-1"\n', { mode: 0o600 });
  // pgbouncer refuses to run as root: it switches to the postgres user (-u), which must be able
  // to read its files on a later reload too.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    for (const file of [dir, ...files]) chownSync(file, uid, gid);
  }
  const child = spawn(PGBOUNCER_BIN, [...(asRoot ? ['-u', 'postgres'] : []), ini], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    await waitForPort(port, child, () => `pgbouncer (output: ${output.trim()})`);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    port,
    pid: child.pid,
    connection: {
      PGHOST: HOST,
      PGPORT: String(port),
      PGUSER: 'bench',
      PGPASSWORD: 'bench-password-1',
      PGSSLMODE: PGBOUNCER_TLS ? 'require' : 'disable',
    },
    stop,
  };
}

interface GatewayPath {
  process: GatewayProcess;
  api: GatewayClient;
  tunnel: PostgresTunnel;
  resourceId: string;
  dataDir: string;
  /** pgbench's environment: the local tunnel, which fetches a ticket per connection. */
  connection: Connection;
}

/**
 * The gateway as its own process with a PostgreSQL listener, an admin, a resource for the
 * cluster with a password credential, a grant; checked with one psql round trip.
 */
async function startGatewayPath(work: string, cluster: PostgresCluster): Promise<GatewayPath> {
  const dataDir = path.join(work, 'gw');
  let gateway: GatewayProcess;
  try {
    gateway = await spawnGateway(
      ['--data', dataDir, '--api', `${HOST}:0`, '--postgres', `${HOST}:0`],
      {},
      process.env.WITNESS_BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [],
    );
  } catch (error) {
    throw new Error(
      `the gateway did not start with --postgres (does this build have the PostgreSQL listener?): ${messageOf(error)}`,
    );
  }
  running.add(gateway.child);
  void new Promise((resolve) => gateway.child.once('exit', resolve)).then(() =>
    running.delete(gateway.child),
  );
  try {
    // The ready line names the listener once there is one (`"postgres":"HOST:PORT"`).
    const address = (gateway.ready as { postgres?: unknown }).postgres;
    if (typeof address !== 'string') {
      throw new Error(
        `the gateway's ready line reports no PostgreSQL listener (${JSON.stringify(gateway.ready)})`,
      );
    }
    await createAdmin(dataDir, 'bench', 'bench-password-1');
    const caFile = path.join(dataDir, 'tls', 'ca.crt');
    const api = await signedInClient(gateway.ready.api, dataDir, {
      username: 'bench',
      password: 'bench-password-1',
    });
    const resource = await api.createResource({
      name: 'bench-db',
      target: {
        kind: 'postgres',
        host: cluster.host,
        port: cluster.port,
        database: DATABASE,
        username: 'witness',
        tlsMode: 'disable',
      },
      secret: { password: decodeURIComponent(new URL(cluster.url).password) },
    });
    const me = await api.me();
    await api.createGrant({
      subject: { kind: 'user', userId: me.id },
      target: { kind: 'resource', resourceId: resource.id },
      maxSessionSeconds: 3600,
    });
    let socketDir: string | undefined;
    if (TUNNEL_SOCKET === 'unix') {
      socketDir = path.join(work, 'tunnel');
      mkdirSync(socketDir, { mode: 0o700 });
    }
    const tunnel = await startPostgresTunnel({
      ...(socketDir !== undefined && { socketDir }),
      resource: { id: resource.id, name: resource.name },
      sessions: api,
      caPem: readFileSync(caFile, 'utf8'),
      log: (line) => {
        if (!/: (connected|closed)/.test(line)) log(`tunnel: ${line}`);
      },
    });
    const connection: Connection = {
      PGHOST: tunnel.host,
      PGPORT: String(tunnel.port),
      PGUSER: 'bench',
      PGSSLMODE: 'disable',
      PGAPPNAME: 'witness-bench',
    };
    const probe = await run(
      pgTool('psql'),
      ['-X', '-A', '-t', '-c', 'select count(*) from pgbench_branches'],
      libpqEnv(connection),
    );
    if (probe.code !== 0 || probe.stdout.trim() !== String(SCALE)) {
      await tunnel.close();
      throw new Error(
        `a psql query through the tunnel and the gateway failed (exit ${probe.code}): ${probe.stderr.trim() || probe.stdout.trim()}`,
      );
    }
    return { process: gateway, api, tunnel, resourceId: resource.id, dataDir, connection };
  } catch (error) {
    await gateway.stop();
    throw error;
  }
}

/** Guardrails of every class and masking rules, none of which touches pgbench's tables. */
const UNMATCHED_POLICY: DatabasePolicy = {
  masking: [
    {
      name: 'pii-columns',
      match: { kind: 'column', pattern: '^(ssn|email|card_number)$' },
      style: 'full',
    },
    { name: 'emails', match: { kind: 'preset', preset: 'email' }, style: 'full' },
    { name: 'cards', match: { kind: 'preset', preset: 'card' }, style: 'partial' },
  ],
  guardrails: [
    {
      kind: 'statement',
      name: 'no-destruction',
      classes: [...statementClasses],
    },
  ],
};

/**
 * The `policy` path: a second resource for the same database carrying UNMATCHED_POLICY, on the
 * same gateway process, with its own local tunnel.
 */
async function startPolicyPath(
  gateway: GatewayPath,
  cluster: PostgresCluster,
): Promise<{ tunnel: PostgresTunnel; connection: Connection }> {
  const { api } = gateway;
  const resource = await api.createResource({
    name: 'bench-db-policy',
    target: {
      kind: 'postgres',
      host: cluster.host,
      port: cluster.port,
      database: DATABASE,
      username: 'witness',
      tlsMode: 'disable',
    },
    secret: { password: decodeURIComponent(new URL(cluster.url).password) },
    policy: UNMATCHED_POLICY,
  });
  const me = await api.me();
  await api.createGrant({
    subject: { kind: 'user', userId: me.id },
    target: { kind: 'resource', resourceId: resource.id },
    maxSessionSeconds: 3600,
  });
  const tunnel = await startPostgresTunnel({
    resource: { id: resource.id, name: resource.name },
    sessions: api,
    caPem: readFileSync(path.join(gateway.dataDir, 'tls', 'ca.crt'), 'utf8'),
    log: (line) => {
      if (!/: (connected|closed)/.test(line)) log(`policy tunnel: ${line}`);
    },
  });
  return {
    tunnel,
    connection: { ...gateway.connection, PGHOST: tunnel.host, PGPORT: String(tunnel.port) },
  };
}

// --- The `cert` path (issue #15) ---------------------------------------------------------------

/**
 * pgbench with a database client certificate, straight to the gateway's listener: a key made
 * here, its certificate from the API, the gateway CA for verify-full; `dbname` is the resource.
 */
async function startCertPath(gateway: GatewayPath, work: string): Promise<Connection> {
  const dir = path.join(work, 'cert');
  mkdirSync(dir, { mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issued = await gateway.api.createDbCertificate({
    resource: gateway.resourceId,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ttlSeconds: 12 * 3600,
  });
  if (!issued.endpoint) throw new Error('the gateway reports no PostgreSQL listener');
  const files = {
    key: path.join(dir, 'client.key'),
    cert: path.join(dir, 'client.crt'),
    ca: path.join(dir, 'gateway-ca.crt'),
  };
  await writeFile(files.key, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), {
    mode: 0o600,
  });
  await writeFile(files.cert, issued.certificatePem);
  await writeFile(files.ca, issued.caPem);
  const connection: Connection = {
    PGHOST: issued.endpoint.host,
    PGPORT: String(issued.endpoint.port),
    PGUSER: issued.username,
    PGDATABASE: issued.resource.name,
    PGSSLMODE: 'verify-full',
    PGSSLCERT: files.cert,
    PGSSLKEY: files.key,
    PGSSLROOTCERT: files.ca,
    PGAPPNAME: 'witness-bench',
  };
  const probe = await run(
    pgTool('psql'),
    ['-X', '-A', '-t', '-c', 'select count(*) from pgbench_branches'],
    libpqEnv(connection),
  );
  if (probe.code !== 0 || probe.stdout.trim() !== String(SCALE)) {
    throw new Error(
      `a psql query with a database certificate failed (exit ${probe.code}): ${probe.stderr.trim() || probe.stdout.trim()}`,
    );
  }
  return connection;
}

// --- end of the `cert` path ----------------------------------------------------------------

/** Stops whatever is still running, by PID, synchronously (for signals). */
function killRunning(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}

async function main(): Promise<number> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'witness-bench-pg-'));
  chmodSync(work, 0o755);
  const onSignal = (signal: NodeJS.Signals) => {
    killRunning();
    rmSync(work, { recursive: true, force: true });
    process.exit(128 + (os.constants.signals[signal] ?? 1)); // 'exit' stops the cluster
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  let cluster: PostgresCluster | undefined;
  let bouncer: Pgbouncer | undefined;
  let gateway: GatewayPath | undefined;
  let policy: { tunnel: PostgresTunnel; connection: Connection } | undefined;
  try {
    const wanted = (name: PathName) => !ONLY || ONLY.includes(name);
    log(`Starting PostgreSQL 15 and initializing pgbench at scale ${SCALE}…`);
    cluster = await startPostgresCluster();
    await createDatabase(cluster.url, DATABASE);
    const direct: Connection = {
      PGHOST: cluster.host,
      PGPORT: String(cluster.port),
      PGUSER: 'witness',
      PGPASSWORD: decodeURIComponent(new URL(cluster.url).password),
      PGSSLMODE: 'disable',
    };
    const init = await run(pgTool('pgbench'), ['-i', '-q', '-s', String(SCALE)], libpqEnv(direct));
    if (init.code !== 0) throw new Error(`pgbench -i failed: ${init.stderr}`);

    if (wanted('pgbouncer')) bouncer = await startPgbouncer(work, cluster);
    let gatewayFailure: string | undefined;
    if (wanted('gateway')) {
      try {
        gateway = await startGatewayPath(work, cluster);
      } catch (error) {
        gatewayFailure = messageOf(error);
        log(`gateway: cannot be measured — ${gatewayFailure}`);
        log('Measuring the other paths anyway; no RESULT line without the gateway.');
      }
    }

    if (gateway && wanted('policy')) {
      try {
        policy = await startPolicyPath(gateway, cluster);
      } catch (error) {
        log(`policy: cannot be measured — ${messageOf(error)}`);
      }
    }

    let cert: Connection | undefined;
    if (gateway && wanted('cert')) {
      try {
        cert = await startCertPath(gateway, work);
      } catch (error) {
        log(`cert: cannot be measured — ${messageOf(error)}`);
      }
    }

    const paths: { name: PathName; connection: Connection; cpu: CpuMeters }[] = [];
    if (wanted('direct'))
      paths.push({ name: 'direct', connection: direct, cpu: { machine: machineBusySeconds } });
    if (bouncer) {
      const pid = bouncer.pid;
      paths.push({
        name: 'pgbouncer',
        connection: bouncer.connection,
        cpu: { pgbouncer: () => processCpuSeconds(pid), machine: machineBusySeconds },
      });
    }
    if (gateway) {
      const pid = gateway.process.child.pid;
      paths.push({
        name: 'gateway',
        connection: gateway.connection,
        // The tunnel runs in this process, which does little else while pgbench runs.
        cpu: {
          gateway: () => processCpuSeconds(pid),
          tunnel: ownCpuSeconds,
          machine: machineBusySeconds,
        },
      });
    }

    if (gateway && policy) {
      const pid = gateway.process.child.pid;
      paths.push({
        name: 'policy',
        connection: policy.connection,
        cpu: {
          gateway: () => processCpuSeconds(pid),
          tunnel: ownCpuSeconds,
          machine: machineBusySeconds,
        },
      });
    }

    if (gateway && cert) {
      const pid = gateway.process.child.pid;
      // No tunnel: pgbench talks TLS to the gateway itself.
      paths.push({
        name: 'cert',
        connection: cert,
        cpu: { gateway: () => processCpuSeconds(pid), machine: machineBusySeconds },
      });
    }

    // Warm the cluster's caches so the first measured path is not penalized.
    await pgbench('simple', Math.min(3, SECONDS), direct);

    log(
      `pgbench -S -c ${CLIENTS} -j ${JOBS}, ${SECONDS} s per run, best of ${ROUNDS}, paths interleaved.`,
    );
    if (gateway) {
      log(
        'The gateway path includes the local tunnel hop: pgbench → tunnel → TLS → gateway → PostgreSQL.',
      );
    }
    const best = new Map<string, Measurement>();
    /** µs of CPU per transaction by `path/mode/meter`, one value per round. */
    const cpuMicros = new Map<string, number[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      for (const mode of MODES) {
        for (const { name, connection, cpu } of paths) {
          if ((name === 'gateway' || name === 'policy') && gatewayFailure) continue;
          let measured: Measurement;
          const cpuBefore = Object.entries(cpu).map(([label, meter]) => [label, meter()] as const);
          try {
            measured = await pgbench(mode, SECONDS, connection);
          } catch (error) {
            if (name !== 'gateway' && name !== 'policy' && name !== 'cert') throw error;
            gatewayFailure = messageOf(error);
            log(`gateway: cannot be measured — ${gatewayFailure}`);
            continue;
          }
          const key = `${name}/${mode}`;
          if ((best.get(key)?.tps ?? -1) < measured.tps) best.set(key, measured);
          const cpuPerTransaction = cpuBefore.flatMap(([label, before]) => {
            const after = cpu[label]!();
            if (before === undefined || after === undefined || measured.transactions === 0)
              return [];
            const micros = ((after - before) / measured.transactions) * 1e6;
            const perRound = cpuMicros.get(`${name}/${mode}/${label}`) ?? [];
            perRound.push(micros);
            cpuMicros.set(`${name}/${mode}/${label}`, perRound);
            return [`${label} ${micros.toFixed(0)} µs`];
          });
          log(
            `  round ${round} ${mode.padEnd(8)} ${name.padEnd(9)} ${measured.tps.toFixed(0).padStart(8)} tps` +
              ` (${measured.transactions} transactions${measured.failed ? `, ${measured.failed} failed` : ''}` +
              `${cpuPerTransaction.length > 0 ? `; CPU per transaction: ${cpuPerTransaction.join(', ')}` : ''})`,
          );
        }
      }
    }
    const tps = (name: PathName, mode: Mode) => best.get(`${name}/${mode}`)?.tps;
    const describe: Record<PathName, string> = {
      direct: 'direct PostgreSQL:     ',
      pgbouncer: `pgbouncer (session${PGBOUNCER_TLS ? ', TLS' : ''}):${PGBOUNCER_TLS ? '' : '   '}`,
      gateway: 'gateway (rec., tunnel):',
      policy: 'gateway with policies:  ',
      cert: 'gateway (rec., cert):   ',
    };
    for (const { name } of paths) {
      log(
        `${describe[name]} simple ${tps(name, 'simple')?.toFixed(0) ?? '–'} tps, prepared ${tps(name, 'prepared')?.toFixed(0) ?? '–'} tps`,
      );
    }
    const cpu = (name: PathName, mode: Mode, meter: string) =>
      median(cpuMicros.get(`${name}/${mode}/${meter}`));
    log('Own CPU per transaction of each process (median of the rounds):');
    for (const [name, meter] of [
      ['gateway', 'gateway'],
      ['policy', 'gateway'],
      ['gateway', 'tunnel'],
      ['pgbouncer', 'pgbouncer'],
    ] as const) {
      if (!paths.some((p) => p.name === name)) continue;
      log(
        `  ${(name === 'policy' ? 'policy' : meter).padEnd(9)} simple ${cpu(name, 'simple', meter)?.toFixed(1) ?? '–'} µs, prepared ${cpu(name, 'prepared', meter)?.toFixed(1) ?? '–'} µs`,
      );
    }
    if (paths.some((p) => p.name === 'cert')) {
      log(
        `  cert      simple ${cpu('cert', 'simple', 'gateway')?.toFixed(1) ?? '–'} µs, prepared ${cpu('cert', 'prepared', 'gateway')?.toFixed(1) ?? '–'} µs (gateway, no tunnel)`,
      );
    }
    if (gateway) {
      const recordings = await gateway.api.listRecordings({
        resourceId: gateway.resourceId,
        limit: 500,
      });
      const bytes = recordings.reduce((sum, r) => sum + r.bytes, 0);
      const frames = recordings.reduce((sum, r) => sum + r.frames, 0);
      log(
        `gateway recorded ${recordings.length} sessions: ${frames} frames, ${(bytes / 1024 / 1024).toFixed(1)} MiB`,
      );
    }

    if (gatewayFailure) {
      log(`FAILED: the gateway could not be benchmarked: ${gatewayFailure}`);
      return 1;
    }
    if (ONLY) return 0;
    const ratio = (a: number | undefined, b: number | undefined) =>
      a === undefined || b === undefined || b === 0 ? 'NaN' : (a / b).toFixed(3);
    console.log(
      `RESULT pg_vs_pgbouncer=${ratio(tps('gateway', 'simple'), tps('pgbouncer', 'simple'))}` +
        ` pg_prepared_vs_pgbouncer=${ratio(tps('gateway', 'prepared'), tps('pgbouncer', 'prepared'))}` +
        ` pg_vs_direct=${ratio(tps('gateway', 'simple'), tps('direct', 'simple'))}` +
        ` gateway_cpu_vs_pgbouncer=${ratio(cpu('gateway', 'simple', 'gateway'), cpu('pgbouncer', 'simple', 'pgbouncer'))}` +
        ` gateway_prepared_cpu_vs_pgbouncer=${ratio(cpu('gateway', 'prepared', 'gateway'), cpu('pgbouncer', 'prepared', 'pgbouncer'))}` +
        ` policy_overhead=${ratio(tps('policy', 'simple'), tps('gateway', 'simple'))}` +
        ` policy_overhead_prepared=${ratio(tps('policy', 'prepared'), tps('gateway', 'prepared'))}` +
        ` pg_cert_vs_pgbouncer=${ratio(tps('cert', 'simple'), tps('pgbouncer', 'simple'))}`,
    );
    return 0;
  } finally {
    await policy?.tunnel.close();
    await gateway?.tunnel.close();
    gateway?.api.close();
    // Before killRunning: a second SIGTERM during the gateway's shutdown would kill it before
    // it writes its --cpu-prof profile.
    await gateway?.process.stop();
    killRunning(); // pgbench processes of a run that failed
    await bouncer?.stop();
    await cluster?.stop();
    rmSync(work, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

function median(values: number[] | undefined): number | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

process.exitCode = await main();
