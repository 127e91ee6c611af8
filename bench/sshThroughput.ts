/**
 * `npm run bench:ssh`: SSH bulk throughput through the gateway (recording on) against the
 * reference peers measured in the same run — direct OpenSSH, and an OpenSSH jump host
 * (`ssh -J`) — plus keystroke echo latency through the gateway vs direct.
 *
 * Every path uses the same OpenSSH client and the same real sshd on loopback; the gateway runs
 * as its own process (`witness-gateway serve`), as in production. Prints per-path figures and
 * a last line: RESULT ssh_vs_direct=<ratio> ssh_vs_jump=<ratio> echo_p99_overhead_ms=<ms>
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'ssh2';
import {
  createAdmin,
  signedInClient,
  spawnGateway,
  splitHostPort,
} from '../test/harness/gatewayProcess.ts';
import { startSshd } from '../test/harness/sshd.ts';
import { machineBusySeconds } from './procCpu.ts';

const BYTES = Number(process.env.WITNESS_BENCH_SSH_BYTES ?? 500_000_000);
const ROUNDS = Number(process.env.WITNESS_BENCH_ROUNDS ?? 2);
const ECHO_SAMPLES = 300;
/** Profiling aid: run only one path (`gateway`, `direct` or `jump`) and skip the summary. */
const ONLY = process.env.WITNESS_BENCH_ONLY;

interface Transfer {
  seconds: number;
  bytes: number;
  /** CPU time the whole machine spent (every process, kernel included) during the transfer. */
  machineCpuSeconds: number;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Runs `ssh …` that prints BYTES bytes; counts them and times the whole command. */
function timedSsh(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Transfer> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const busyBefore = machineBusySeconds() ?? Number.NaN;
    const child = spawn('ssh', args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const machineCpuSeconds = (machineBusySeconds() ?? Number.NaN) - busyBefore;
      if (code !== 0 || bytes !== BYTES) {
        reject(new Error(`ssh ${args.join(' ')} exited ${code} after ${bytes} bytes: ${stderr}`));
      } else resolve({ seconds, bytes, machineCpuSeconds });
    });
  });
}

const mbps = (t: Transfer) => t.bytes / 1e6 / t.seconds;
const cpuPerGb = (t: Transfer) => t.machineCpuSeconds / (t.bytes / 1e9);
const best = (runs: Transfer[]) => runs.reduce((a, b) => (mbps(b) > mbps(a) ? b : a));

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Round trips of one keystroke through a pty (`cat` with the tty echoing), in ms. */
async function echoLatencies(connect: () => Promise<Client>): Promise<number[]> {
  const client = await connect();
  const samples: number[] = [];
  await new Promise<void>((resolve, reject) => {
    client.exec(
      'stty raw -echo; cat',
      { pty: { term: 'xterm', rows: 24, cols: 80 } },
      (error, stream) => {
        if (error) return reject(error);
        let pending: { started: bigint; done: () => void } | undefined;
        stream.on('data', () => {
          if (!pending) return;
          samples.push(Number(process.hrtime.bigint() - pending.started) / 1e6);
          const { done } = pending;
          pending = undefined;
          done();
        });
        void (async () => {
          await new Promise((r) => setTimeout(r, 300)); // let stty take effect
          for (let i = 0; i < ECHO_SAMPLES + 20; i++) {
            await new Promise<void>((done) => {
              pending = { started: process.hrtime.bigint(), done };
              stream.write('a');
            });
          }
          stream.end();
          resolve();
        })();
      },
    );
  });
  client.end();
  return samples.slice(20); // drop warm-up
}

function ssh2Connect(options: Parameters<Client['connect']>[0]): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    client
      .once('ready', () => resolve(client))
      .once('error', reject)
      .connect(options);
  });
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'witness-bench-ssh-'));
  const sshd = await startSshd();
  const dataDir = path.join(work, 'gw');
  let gateway: Awaited<ReturnType<typeof spawnGateway>> | undefined;
  try {
    // Inside the try: a gateway that fails to start must not leave sshd running.
    gateway = await spawnGateway(
      ['--data', dataDir, '--api', '127.0.0.1:0', '--ssh', '127.0.0.1:0'],
      {},
      process.env.WITNESS_BENCH_GATEWAY_NODE_ARGS?.split(' ') ?? [],
    );
    const sshAddress = gateway.ready.ssh;
    if (!sshAddress) throw new Error('the gateway did not report an SSH listener');
    const { host: gwHost, port: gwPortNumber } = splitHostPort(sshAddress);
    const gwPort = String(gwPortNumber);

    // Bootstrap: an admin with a grant on the sshd resource.
    await createAdmin(dataDir, 'bench', 'bench-password-1');
    const api = await signedInClient(gateway.ready.api, dataDir, {
      username: 'bench',
      password: 'bench-password-1',
    });
    const resource = await api.createResource({
      name: 'bench-target',
      target: {
        kind: 'ssh',
        host: sshd.host,
        port: sshd.port,
        username: sshd.user,
        hostKey: sshd.hostKeyLine,
      },
      secret: { privateKey: sshd.clientPrivateKey },
    });
    const me = await api.me();
    await api.createGrant({
      subject: { kind: 'user', userId: me.id },
      target: { kind: 'resource', resourceId: resource.id },
      maxSessionSeconds: 3600,
    });
    const keys = await api.keys();

    // OpenSSH client configuration shared by all paths.
    const keyFile = path.join(work, 'id_client');
    writeFileSync(keyFile, sshd.clientPrivateKey, { mode: 0o600 });
    const knownHosts = path.join(work, 'known_hosts');
    writeFileSync(
      knownHosts,
      `[${sshd.host}]:${sshd.port} ${sshd.hostKeyLine}\n[${gwHost}]:${gwPort} ${keys.sshHostKey}\n`,
    );
    const askpass = path.join(work, 'askpass.sh');
    writeFileSync(askpass, '#!/bin/sh\nprintf "%s\\n" "$WITNESS_TICKET"\n');
    chmodSync(askpass, 0o700);
    const config = path.join(work, 'ssh_config');
    writeFileSync(
      config,
      [
        'Host *',
        `  UserKnownHostsFile ${knownHosts}`,
        '  StrictHostKeyChecking yes',
        '  BatchMode no',
        '  LogLevel ERROR',
        'Host target',
        `  HostName ${sshd.host}`,
        `  Port ${sshd.port}`,
        `  User ${sshd.user}`,
        `  IdentityFile ${keyFile}`,
        '  IdentitiesOnly yes',
        'Host jump',
        `  HostName ${sshd.host}`,
        `  Port ${sshd.port}`,
        `  User ${sshd.user}`,
        `  IdentityFile ${keyFile}`,
        '  IdentitiesOnly yes',
        '',
      ].join('\n'),
    );
    const command = `head -c ${BYTES} /dev/zero`;
    const viaGateway = async () => {
      const session = await api.createSession(resource.id);
      return timedSsh(
        [
          '-F',
          config,
          '-p',
          gwPort!,
          '-o',
          'PreferredAuthentications=password,keyboard-interactive',
          '-o',
          'PubkeyAuthentication=no',
          '-o',
          'NumberOfPasswordPrompts=1',
          `${session.sessionId}@${gwHost}`,
          command,
        ],
        {
          SSH_ASKPASS: askpass,
          SSH_ASKPASS_REQUIRE: 'force',
          DISPLAY: ':0',
          WITNESS_TICKET: session.ticket,
        },
      );
    };
    const direct = () => timedSsh(['-F', config, 'target', command]);
    const jump = () => timedSsh(['-F', config, '-J', 'jump', 'target', command]);

    log(`Moving ${BYTES / 1e6} MB per run, best of ${ROUNDS} rounds, paths interleaved.`);
    const runs: Record<'gateway' | 'direct' | 'jump', Transfer[]> = {
      gateway: [],
      direct: [],
      jump: [],
    };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, run] of [
        ['direct', direct],
        ['jump', jump],
        ['gateway', viaGateway],
      ] as const) {
        if (ONLY && name !== ONLY) continue;
        const transfer = await run();
        runs[name].push(transfer);
        log(
          `  round ${round} ${name.padEnd(8)} ${mbps(transfer).toFixed(1).padStart(7)} MB/s (${transfer.seconds.toFixed(2)} s, ${cpuPerGb(transfer).toFixed(2)} CPU-s/GB)`,
        );
      }
    }
    if (ONLY) return;
    const gatewayBest = best(runs.gateway);
    const directBest = best(runs.direct);
    const jumpBest = best(runs.jump);
    log(`gateway (recording on): ${mbps(gatewayBest).toFixed(1)} MB/s`);
    log(`direct OpenSSH:         ${mbps(directBest).toFixed(1)} MB/s`);
    log(`OpenSSH jump host:      ${mbps(jumpBest).toFixed(1)} MB/s`);
    // Every path here is CPU-bound on a machine with few cores: its throughput is about
    // cores ÷ (CPU time per byte). These figures say how much of a gap is the work per byte.
    log(
      `DETAIL machine_cpu_s_per_gb gateway=${cpuPerGb(gatewayBest).toFixed(2)} direct=${cpuPerGb(directBest).toFixed(2)} jump=${cpuPerGb(jumpBest).toFixed(2)} cores=${os.availableParallelism()}`,
    );

    // Keystroke echo latency.
    const directEcho = await echoLatencies(() =>
      ssh2Connect({
        host: sshd.host,
        port: sshd.port,
        username: sshd.user,
        privateKey: sshd.clientPrivateKey,
      }),
    );
    const gatewayEcho = await echoLatencies(async () => {
      const session = await api.createSession(resource.id);
      return ssh2Connect({
        host: gwHost,
        port: Number(gwPort),
        username: session.sessionId,
        password: session.ticket,
      });
    });
    const p99Direct = percentile(directEcho, 99);
    const p99Gateway = percentile(gatewayEcho, 99);
    log(
      `echo p50/p99: direct ${percentile(directEcho, 50).toFixed(2)}/${p99Direct.toFixed(2)} ms, gateway ${percentile(gatewayEcho, 50).toFixed(2)}/${p99Gateway.toFixed(2)} ms`,
    );

    api.close();
    const result = {
      ssh_vs_direct: (mbps(gatewayBest) / mbps(directBest)).toFixed(3),
      ssh_vs_jump: (mbps(gatewayBest) / mbps(jumpBest)).toFixed(3),
      echo_p99_overhead_ms: (p99Gateway - p99Direct).toFixed(2),
    };
    console.log(
      `RESULT ssh_vs_direct=${result.ssh_vs_direct} ssh_vs_jump=${result.ssh_vs_jump} echo_p99_overhead_ms=${result.echo_p99_overhead_ms}`,
    );
  } finally {
    await gateway?.stop();
    await sshd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
