/**
 * `npm run bench:ssh`: SSH bulk throughput through the gateway (recording on) against the
 * reference peers measured in the same run — direct OpenSSH, and an OpenSSH jump host
 * (`ssh -J`) — plus keystroke echo latency through the gateway vs direct.
 *
 * Every path uses the same OpenSSH client and the same real sshd on loopback; the gateway runs
 * as its own process (`witness-gateway serve`), as in production. Two kinds of output: zeros
 * (`head -c N /dev/zero`: what the search indexer skips) and realistic text (log lines full of
 * distinct words, generated once on the target by awk and `cat` from the page cache, so the
 * generator is not what is measured), which the gateway records *and* indexes for search.
 * Prints per-path figures and a last line:
 * RESULT ssh_vs_direct=<ratio> ssh_vs_jump=<ratio> echo_p99_overhead_ms=<ms> ssh_text_vs_jump=<ratio>
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
import { addSshTarget, serveWithSshArgs } from '../test/harness/sshTarget.ts';
import { runCountingOutput } from './countedOutput.ts';
import { machineBusySeconds, processCpuSeconds, reapedChildrenCpuSeconds } from './procCpu.ts';

const BYTES = Number(process.env.WITNESS_BENCH_SSH_BYTES ?? 500_000_000);
const TEXT_BYTES = Number(process.env.WITNESS_BENCH_SSH_TEXT_BYTES ?? 200_000_000);
/**
 * Opt-in: also move the log text as this many concurrent gateway sessions (TEXT_BYTES in
 * all), and print the gateway's CPU per GB and its peak memory (DETAIL lines, not RESULT).
 */
const SESSIONS = Number(process.env.WITNESS_BENCH_SSH_SESSIONS ?? 0);
const ROUNDS = Number(process.env.WITNESS_BENCH_ROUNDS ?? 2);
const ECHO_SAMPLES = 300;
/**
 * Profiling aid: run only one path (`gateway`, `direct`, `jump`, `gateway-text` or
 * `jump-text`) and skip the summary.
 */
const ONLY = process.env.WITNESS_BENCH_ONLY;

interface Transfer {
  seconds: number;
  bytes: number;
  /** CPU time the whole machine spent (every process, kernel included) during the transfer. */
  machineCpuSeconds: number;
  /** CPU time the gateway process spent during the transfer (gateway paths only). */
  gatewayCpuSeconds: number;
  /**
   * CPU time of the sshd sessions the transfer used (the target's, and on the jump path the
   * jump host's too): what the listening sshd reaped meanwhile.
   */
  sshdCpuSeconds: number;
  /** CPU time of the OpenSSH client (and the `ssh -W` it starts for `-J`). */
  clientCpuSeconds: number;
}

let sshdPid: number | undefined;

/**
 * sshd reaps a session's process a moment after the client saw the channel close: wait until
 * its reaped-children counter stops moving (bounded), so the session's CPU is in the reading.
 */
async function settledSshdCpu(): Promise<number> {
  let last = reapedChildrenCpuSeconds(sshdPid) ?? Number.NaN;
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const now = reapedChildrenCpuSeconds(sshdPid) ?? Number.NaN;
    if (now === last && i >= 2) break;
    last = now;
  }
  return last;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Runs `ssh …` that prints `expected` bytes; counts them and times the whole command. */
function timedSsh(
  args: string[],
  expected: number,
  env: NodeJS.ProcessEnv = {},
  gatewayPid?: number,
): Promise<Transfer> {
  const started = process.hrtime.bigint();
  const busyBefore = machineBusySeconds() ?? Number.NaN;
  const gatewayBefore = processCpuSeconds(gatewayPid) ?? Number.NaN;
  const sshdBefore = reapedChildrenCpuSeconds(sshdPid) ?? Number.NaN;
  const clientBefore = reapedChildrenCpuSeconds(process.pid) ?? Number.NaN;
  return runCountingOutput('ssh', args, { ...process.env, ...env }).then(
    async ({ code, bytes, stderr }) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const machineCpuSeconds = (machineBusySeconds() ?? Number.NaN) - busyBefore;
      const gatewayCpuSeconds = (processCpuSeconds(gatewayPid) ?? Number.NaN) - gatewayBefore;
      const clientCpuSeconds = (reapedChildrenCpuSeconds(process.pid) ?? Number.NaN) - clientBefore;
      const sshdCpuSeconds = (await settledSshdCpu()) - sshdBefore;
      if (code !== 0 || bytes !== expected) {
        throw new Error(`ssh ${args.join(' ')} exited ${code} after ${bytes} bytes: ${stderr}`);
      }
      return {
        seconds,
        bytes,
        machineCpuSeconds,
        gatewayCpuSeconds,
        sshdCpuSeconds,
        clientCpuSeconds,
      };
    },
  );
}

const mbps = (t: Transfer) => t.bytes / 1e6 / t.seconds;
const cpuPerGb = (t: Transfer) => t.machineCpuSeconds / (t.bytes / 1e9);
const gatewayCpuPerGb = (t: Transfer) => t.gatewayCpuSeconds / (t.bytes / 1e9);
const perGb = (seconds: (t: Transfer) => number, runs: Transfer[]) =>
  runs.reduce((sum, t) => sum + seconds(t), 0) / (runs.reduce((sum, t) => sum + t.bytes, 0) / 1e9);
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

/**
 * Writes `bytes` of log lines to `file` on the target (this machine), each line full of words
 * that recur rarely (request ids, item numbers, counters): what a `tail` of an application log
 * looks like to the search indexer. Generated once, then `cat` from the page cache on every
 * path, so the generator costs no path anything.
 */
async function generateLogText(file: string, bytes: number): Promise<void> {
  const program = [
    'BEGIN {',
    '  split("GET POST PUT DELETE", verbs, " ");',
    '  split("orders invoices customers sessions carts shipments", things, " ");',
    '  split("INFO INFO INFO WARN DEBUG ERROR", levels, " ");',
    '  for (i = 1; ; i++) {',
    '    printf "2024-05-%02d %02d:%02d:%02d.%03d %s api-%d[%d] %s /v2/%s/%d req=%x user=u%d latency=%dms bytes=%d msg=handled%d by worker%d shard%x\\n",',
    '      i % 28 + 1, i % 24, i % 60, (i * 7) % 60, i % 1000, levels[i % 6 + 1], i % 13, 4000 + i % 977,',
    '      verbs[i % 4 + 1], things[i % 6 + 1], (i * 7919) % 1000003, (i * 2654435761) % 4294967296,',
    '      (i * 31) % 100003, (i * 17) % 997, (i * 131) % 65536, i, i % 17, (i * 40503) % 65536',
    '  }',
    '}',
  ].join('\n');
  await new Promise<void>((resolve, reject) => {
    const child = spawn('sh', ['-c', `awk '${program}' | head -c ${bytes} > '${file}'`], {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`awk exited ${code}`))));
  });
  // `head` exits 0 whatever awk did: the size says whether the text is there.
  if (statSync(file).size !== bytes)
    throw new Error(`the log text generator wrote no ${bytes} bytes`);
}

async function main(): Promise<void> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'witness-bench-ssh-'));
  const sshd = await startSshd();
  sshdPid = sshd.pid;
  const dataDir = path.join(work, 'gw');
  let gateway: Awaited<ReturnType<typeof spawnGateway>> | undefined;
  try {
    // Inside the try: a gateway that fails to start must not leave sshd running.
    gateway = await spawnGateway(
      serveWithSshArgs(dataDir),
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
    const resourceId = await addSshTarget(api, sshd, {
      name: 'bench-target',
      grantTo: { userId: (await api.me()).id, maxSessionSeconds: 3600 },
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
    const zeros = `head -c ${BYTES} /dev/zero`;
    const textFile = path.join(work, 'app.log');
    await generateLogText(textFile, TEXT_BYTES);
    const text = `cat ${textFile}`;
    const viaGateway = async (command: string, expected: number) => {
      const session = await api.createSession(resourceId);
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
        expected,
        {
          SSH_ASKPASS: askpass,
          SSH_ASKPASS_REQUIRE: 'force',
          DISPLAY: ':0',
          WITNESS_TICKET: session.ticket,
        },
        gateway?.child.pid,
      );
    };
    const direct = () => timedSsh(['-F', config, 'target', zeros], BYTES);
    const jump = (command: string, expected: number) =>
      timedSsh(['-F', config, '-J', 'jump', 'target', command], expected);

    log(
      `Moving ${BYTES / 1e6} MB of zeros and ${TEXT_BYTES / 1e6} MB of log text per run, best of ${ROUNDS} rounds, paths interleaved.`,
    );
    type PathName = 'gateway' | 'direct' | 'jump' | 'gateway-text' | 'jump-text';
    const runs: Record<PathName, Transfer[]> = {
      gateway: [],
      direct: [],
      jump: [],
      'gateway-text': [],
      'jump-text': [],
    };
    const paths: [PathName, () => Promise<Transfer>][] = [
      ['direct', direct],
      ['jump', () => jump(zeros, BYTES)],
      ['gateway', () => viaGateway(zeros, BYTES)],
      ['jump-text', () => jump(text, TEXT_BYTES)],
      ['gateway-text', () => viaGateway(text, TEXT_BYTES)],
    ];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, run] of paths) {
        if (ONLY && name !== ONLY) continue;
        const transfer = await run();
        runs[name].push(transfer);
        const gatewayCpu = name.startsWith('gateway')
          ? `, gateway process ${gatewayCpuPerGb(transfer).toFixed(2)}`
          : '';
        const gb = transfer.bytes / 1e9;
        log(
          `  round ${round} ${name.padEnd(12)} ${mbps(transfer).toFixed(1).padStart(7)} MB/s (${transfer.seconds.toFixed(2)} s, ${cpuPerGb(transfer).toFixed(2)} CPU-s/GB; sshd ${(transfer.sshdCpuSeconds / gb).toFixed(2)}, ssh ${(transfer.clientCpuSeconds / gb).toFixed(2)}${gatewayCpu})`,
        );
      }
    }
    if (SESSIONS > 0) {
      const each = Math.floor(TEXT_BYTES / SESSIONS);
      const pid = gateway.child.pid;
      const cpuBefore = processCpuSeconds(pid) ?? Number.NaN;
      const started = process.hrtime.bigint();
      // Settled, not all-or-nothing: a session that ends short is reported, not hidden by a throw.
      const settled = await Promise.allSettled(
        Array.from({ length: SESSIONS }, () => viaGateway(`head -c ${each} ${textFile}`, each)),
      );
      const short = settled.filter((s) => s.status === 'rejected') as PromiseRejectedResult[];
      for (const failure of short.slice(0, 3)) log(`  short session: ${String(failure.reason)}`);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = (processCpuSeconds(pid) ?? Number.NaN) - cpuBefore;
      const gb = (each * SESSIONS) / 1e9;
      const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      log(
        `DETAIL concurrent_text sessions=${SESSIONS} mb_per_s=${((each * SESSIONS) / 1e6 / seconds).toFixed(1)} gateway_cpu_s_per_gb=${(cpu / gb).toFixed(2)} gateway_peak_rss_mib=${(Number(peak) / 1024).toFixed(0)} short_sessions=${short.length}`,
      );
    }
    if (ONLY) return;
    const gatewayBest = best(runs.gateway);
    const directBest = best(runs.direct);
    const jumpBest = best(runs.jump);
    const gatewayTextBest = best(runs['gateway-text']);
    const jumpTextBest = best(runs['jump-text']);
    log(`gateway (recording on): ${mbps(gatewayBest).toFixed(1)} MB/s`);
    log(`direct OpenSSH:         ${mbps(directBest).toFixed(1)} MB/s`);
    log(`OpenSSH jump host:      ${mbps(jumpBest).toFixed(1)} MB/s`);
    log(`log text, gateway (recording + search index): ${mbps(gatewayTextBest).toFixed(1)} MB/s`);
    log(`log text, OpenSSH jump host:                  ${mbps(jumpTextBest).toFixed(1)} MB/s`);
    // Every path here is CPU-bound on a machine with few cores: its throughput is about
    // cores ÷ (CPU time per byte). These figures say how much of a gap is the work per byte.
    log(
      `DETAIL machine_cpu_s_per_gb gateway=${cpuPerGb(gatewayBest).toFixed(2)} direct=${cpuPerGb(directBest).toFixed(2)} jump=${cpuPerGb(jumpBest).toFixed(2)} gateway_text=${cpuPerGb(gatewayTextBest).toFixed(2)} jump_text=${cpuPerGb(jumpTextBest).toFixed(2)} cores=${os.availableParallelism()}`,
    );
    log(
      `DETAIL gateway_process_cpu_s_per_gb zeros=${gatewayCpuPerGb(gatewayBest).toFixed(2)} text=${gatewayCpuPerGb(gatewayTextBest).toFixed(2)}`,
    );
    // What the hop in the middle costs, per process, over all rounds: the gateway process,
    // against the jump host's sshd session plus the `ssh -W` that carries its leg — each
    // path's sshd and client CPU beyond direct's. Unlike throughput, the CPU a process spends
    // per byte hardly moves when other work shares the cores.
    const sshdPerGb = (runs: Transfer[]) => perGb((t) => t.sshdCpuSeconds, runs);
    const clientPerGb = (runs: Transfer[]) => perGb((t) => t.clientCpuSeconds, runs);
    const beyondDirect = (path: Transfer[]) =>
      sshdPerGb(path) - sshdPerGb(runs.direct) + clientPerGb(path) - clientPerGb(runs.direct);
    const hop = {
      gateway: perGb((t) => t.gatewayCpuSeconds, runs.gateway) + beyondDirect(runs.gateway),
      jump: beyondDirect(runs.jump),
      gatewayText:
        perGb((t) => t.gatewayCpuSeconds, runs['gateway-text']) +
        beyondDirect(runs['gateway-text']),
    };
    log(
      `DETAIL process_cpu_s_per_gb sshd: direct=${sshdPerGb(runs.direct).toFixed(2)} jump=${sshdPerGb(runs.jump).toFixed(2)} gateway=${sshdPerGb(runs.gateway).toFixed(2)} · ssh: direct=${clientPerGb(runs.direct).toFixed(2)} jump=${clientPerGb(runs.jump).toFixed(2)} gateway=${clientPerGb(runs.gateway).toFixed(2)} · gateway process: zeros=${perGb((t) => t.gatewayCpuSeconds, runs.gateway).toFixed(2)} text=${perGb((t) => t.gatewayCpuSeconds, runs['gateway-text']).toFixed(2)}`,
    );
    log(
      `DETAIL hop_cpu_s_per_gb gateway=${hop.gateway.toFixed(2)} jump=${hop.jump.toFixed(2)} gateway_text=${hop.gatewayText.toFixed(2)} (CPU per GB the middle hop adds over direct, all rounds)`,
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
      const session = await api.createSession(resourceId);
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
      ssh_text_vs_jump: (mbps(gatewayTextBest) / mbps(jumpTextBest)).toFixed(3),
    };
    console.log(
      `RESULT ssh_vs_direct=${result.ssh_vs_direct} ssh_vs_jump=${result.ssh_vs_jump} echo_p99_overhead_ms=${result.echo_p99_overhead_ms} ssh_text_vs_jump=${result.ssh_text_vs_jump}`,
    );
  } finally {
    await gateway?.stop();
    await sshd.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

await main();
