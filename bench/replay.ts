/**
 * `npm run bench:replay` (issue #6): replay and search as the desktop does them, against a
 * gateway in its own process (SQLite store, HTTPS on loopback) and the real desktop services
 * through the contract's dispatcher.
 *
 * Builds, through the gateway's own recorder:
 * - one synthetic one-hour recording with 100 MiB of terminal output (coloured lines, a
 *   prompt and a command every ~30 s, a resize), written with the gateway's clock advanced so
 *   its frames span an hour;
 * - 10,000 small recordings (a few commands and their output each), a handful of which contain
 *   the words searched for.
 * They are built by an in-process gateway (its hand-driven clock spans the hour), which is then
 * stopped; the same data dir is served by a spawned `witness-gateway serve`, as in every real
 * deployment (`npm start`'s local gateway is a child process too), so the gateway's TLS and
 * file reads do not share the desktop's thread.
 *
 * Measures:
 * - first_frame_ms: `recordings.open` of the big recording + the first `playback.frames` page,
 *   as a person opening an incident for the first time sees it: the recording is not in the
 *   desktop's cache, so this is download over TLS + SHA-256 chain + Ed25519 verification +
 *   index, then the first read (median of COLD_RUNS, the cache emptied before each). The stages
 *   (first byte, downloaded and verified, indexed, open answered) are a DETAIL line, timed from
 *   the `playback.progress` events the desktop sends; a re-open from the verified cache is a
 *   DETAIL too (first_frame_warm_ms). Each cold open also reports the gateway process's CPU
 *   (from /proc), and first_frame_cpu_floor_ms is the median of (desktop + gateway CPU) ÷
 *   cores: the least the open could take on this machine with every core busy for it;
 * - seek_p95_ms: 200 `playback.seek` calls to random times over the hour, once the
 *   keyframes are built (their build time, once per recording and cached, is a DETAIL);
 * - search_10k_ms: median of `recordings.search` over 10,000+ recordings (desktop → gateway
 *   HTTPS → SQLite FTS5), over 20 queries of different words.
 *
 * Issue #16 (progressive open): the cold open above now answers once the first stretch between
 * the header and the first signed checkpoint is verified, whatever the size; beside it a 1 GiB
 * recording (WITNESS_BENCH_REPLAY_BIG_MB, written in 1 MiB frames so it is built in seconds)
 * gives first_frame_1g_ms (median of COLD_RUNS cold opens) and seek_cold_p95_ms: seeks to
 * random times of a cold open whose download has not reached them (each fetches the stretch
 * holding the target by range and verifies it between its two signed checkpoints).
 *
 * Sizes can be lowered for a smoke run: WITNESS_BENCH_REPLAY_MB, WITNESS_BENCH_REPLAY_SMALL.
 * WITNESS_BENCH_GATEWAY_PROF=<dir> runs the gateway process with `--cpu-prof` into that dir.
 * Last line: RESULT first_frame_ms=<n> first_frame_1g_ms=<n> seek_p95_ms=<n>
 * seek_cold_p95_ms=<n> search_10k_ms=<n>
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { newId } from '../gateway/newId.ts';
import {
  type CallName,
  type CallRequest,
  type CallResponse,
  DesktopError,
} from '../main/ipc/contract.ts';
import { createDispatcher } from '../main/ipc/dispatcher.ts';
import { createDesktopApp } from '../main/services/desktopApp.ts';
import { eventKinds } from '../shared/recording/recordingFormat.ts';
import { startTestGateway } from '../test/harness/gatewayForTests.ts';
import { type GatewayProcess, spawnGateway } from '../test/harness/gatewayProcess.ts';
import { processCpuSeconds } from './procCpu.ts';

const BIG_MB = Number(process.env.WITNESS_BENCH_REPLAY_MB ?? 100);
const SMALL = Number(process.env.WITNESS_BENCH_REPLAY_SMALL ?? 10_000);
const HOUR_MS = 3_600_000;
const CHUNK_BYTES = 4096;
const SEEKS = 200;
const HUGE_MB = Number(process.env.WITNESS_BENCH_REPLAY_BIG_MB ?? 1024);
const COLD_SEEKS = Number(process.env.WITNESS_BENCH_REPLAY_COLD_SEEKS ?? 40);
const SEARCHES = 20;
const COLD_RUNS = Number(process.env.WITNESS_BENCH_REPLAY_COLD_RUNS ?? 3);
const ADMIN_PASSWORD = 'bench-admin-password';

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** A deterministic pseudo-random generator (the same recordings every run). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const WORDS = [
  'nginx',
  'postgres',
  'deploy',
  'kubectl',
  'journalctl',
  'systemctl',
  'rsync',
  'openssl',
  'terraform',
  'ansible',
  'grep',
  'tail',
  'docker',
  'redis',
  'certbot',
  'iptables',
  'htop',
  'du',
  'df',
  'crontab',
  'haproxy',
  'consul',
  'vault',
  'prometheus',
  'grafana',
  'kafka',
];

async function main(): Promise<void> {
  const started = Date.now();
  const gw = await startTestGateway();
  const appDir = mkdtempSync(path.join(os.tmpdir(), 'witness-bench-replay-'));
  let served: GatewayProcess | undefined;
  let inProcessOpen = true;
  try {
    const rootId = await gw.createUser('root', 'admin', ADMIN_PASSWORD);
    const token = await gw.login('root', ADMIN_PASSWORD);
    const resource = await gw.request('POST', '/v1/resources', {
      token,
      body: {
        name: 'bench-host',
        labels: {},
        target: { kind: 'ssh', host: '127.0.0.1', port: 22, username: 'deploy' },
        secret: { password: 'bench' },
      },
    });
    const resourceId: string = resource.json.id;
    const recorder = gw.gateway.services.recorder;

    // --- the big recording --------------------------------------------------------------------
    const bigId = newId('ses');
    const t0 = Date.now();
    const big = await recorder.start({
      sessionId: bigId,
      userId: rootId,
      resourceId,
      protocol: 'ssh',
    });
    const rand = random(42);
    const append = (kind: (typeof eventKinds)[keyof typeof eventKinds], data: string) =>
      big.append(1, kind, Buffer.from(data));
    await append(eventKinds.meta, JSON.stringify({ type: 'pty-req', cols: 160, rows: 48 }));
    await append(eventKinds.output, '\x1b[1;32mroot@bench\x1b[0m:~# ');
    // As in a real session, the recorder's one-second timer checkpoints the first second of it
    // (the build below writes an hour of output in seconds, so its stretches end every MiB).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const totalBytes = BIG_MB * 1024 * 1024;
    const chunks = Math.ceil(totalBytes / CHUNK_BYTES);
    const stepMs = HOUR_MS / chunks;
    let pending: Promise<void>[] = [];
    let clockCarry = 0;
    let line = 0;
    for (let i = 0; i < chunks; i++) {
      clockCarry += stepMs;
      const whole = Math.floor(clockCarry);
      clockCarry -= whole;
      gw.clock.advance(whole);
      if (i % Math.max(1, Math.floor(chunks / 120)) === 0) {
        const word = WORDS[Math.floor(rand() * WORDS.length)]!;
        pending.push(append(eventKinds.input, `${word} --status ${i}\r`));
        pending.push(
          append(eventKinds.output, `\r\n\x1b[1;32mroot@bench\x1b[0m:~# ${word} --status ${i}\r\n`),
        );
      }
      if (i === Math.floor(chunks / 2)) {
        pending.push(append(eventKinds.resize, JSON.stringify({ cols: 200, rows: 50 })));
      }
      let text = '';
      while (text.length < CHUNK_BYTES - 120) {
        text += `\x1b[3${line % 8}m${String(line).padStart(8, '0')}\x1b[0m ${WORDS[line % WORDS.length]} ${'abcdefghij'.repeat(1 + (line % 9))}\r\n`;
        line++;
      }
      pending.push(append(eventKinds.output, text));
      if (pending.length >= 256) {
        await Promise.all(pending);
        pending = [];
      }
    }
    await Promise.all(pending);
    await big.close();
    log(
      `big recording: ${BIG_MB} MiB of output over 1 h in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    );

    // --- the 1 GiB one (issue #16): 1 MiB frames, so SHA-256 and the disk are the cost ------
    const hugeId = newId('ses');
    const t2 = Date.now();
    const huge = await recorder.start({
      sessionId: hugeId,
      userId: rootId,
      resourceId,
      protocol: 'ssh',
    });
    await huge.append(
      1,
      eventKinds.meta,
      Buffer.from(JSON.stringify({ type: 'pty-req', cols: 160, rows: 48 })),
    );
    await huge.append(
      1,
      eventKinds.output,
      Buffer.from('\x1b[1;32mroot@bench\x1b[0m:~# ./load\r\n'),
    );
    // The first checkpoint comes from the recorder's one-second timer, as in a real session.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    let block = '';
    let hugeLine = 0;
    while (block.length < 1024 * 1024 - 200) {
      block += `\x1b[3${hugeLine % 8}m${String(hugeLine).padStart(8, '0')}\x1b[0m ${WORDS[hugeLine % WORDS.length]} ${'abcdefghij'.repeat(1 + (hugeLine % 9))}\r\n`;
      hugeLine++;
    }
    const blockBytes = Buffer.from(block);
    const blocks = Math.floor((HUGE_MB * 1024 * 1024) / blockBytes.length);
    for (let i = 0; i < blocks; i++) {
      gw.clock.advance(Math.floor((2 * HOUR_MS) / blocks));
      await huge.append(1, eventKinds.output, blockBytes);
    }
    await huge.close();
    log(
      `huge recording: ${HUGE_MB} MiB of output over 2 h in ${((Date.now() - t2) / 1000).toFixed(1)} s`,
    );

    // --- the small ones -----------------------------------------------------------------------
    const t1 = Date.now();
    let next = 0;
    const worker = async () => {
      for (;;) {
        const n = next++;
        if (n >= SMALL) return;
        const sessionId = newId('ses');
        const small = await recorder.start({
          sessionId,
          userId: rootId,
          resourceId,
          protocol: 'ssh',
        });
        const word = WORDS[n % WORDS.length]!;
        const other = WORDS[(n * 7 + 3) % WORDS.length]!;
        await small.append(
          1,
          eventKinds.meta,
          Buffer.from(JSON.stringify({ type: 'pty-req', cols: 80, rows: 24 })),
        );
        await small.append(1, eventKinds.input, Buffer.from(`${word} status host${n}\r`));
        await small.append(
          1,
          eventKinds.output,
          Buffer.from(`${word} on host${n}: active (running) ${other} ok\r\n`),
        );
        await small.append(1, eventKinds.input, Buffer.from(`${other} --check job${n % 97}\r`));
        await small.append(1, eventKinds.output, Buffer.from(`check passed for job${n % 97}\r\n`));
        await small.close();
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    log(`${SMALL} small recordings in ${((Date.now() - t1) / 1000).toFixed(1)} s`);

    // --- the gateway as its own process, serving the same data dir --------------------------
    await gw.gateway.close();
    inProcessOpen = false;
    served = await spawnGateway(
      ['--data', gw.dataDir, '--api', '127.0.0.1:0'],
      {},
      process.env.WITNESS_BENCH_GATEWAY_PROF
        ? ['--cpu-prof', `--cpu-prof-dir=${process.env.WITNESS_BENCH_GATEWAY_PROF}`]
        : [],
    );
    log(`gateway: its own process (pid ${served.child.pid}) at ${served.ready.api}`);

    // --- the desktop --------------------------------------------------------------------------
    const app = await createDesktopApp(
      {
        appDataDir: appDir,
        secretStore: 'memory',
        gatewayBin: '/nonexistent',
        useLocalGatewayWhenNoneEnrolled: false,
        log: () => {},
      },
      { openKeychain: async () => ({ unavailable: 'bench' }) },
    );
    await app.started;
    const dispatcher = createDispatcher(app.handlers);
    // Stage times of the open being measured, from the progress events the desktop sends.
    let stages: { start: number; firstByte?: number; verified?: number; indexed?: number } = {
      start: 0,
    };
    const caller = {
      clientId: 'bench',
      emit: (name: string, payload: unknown) => {
        if (name !== 'playback.progress') return;
        const now = performance.now();
        const phase = (payload as { phase: string }).phase;
        if (phase === 'download') stages.firstByte ??= now;
        else if (phase === 'verify') stages.verified ??= now;
        else if (phase === 'index') stages.indexed ??= now;
      },
    };
    const call = async <N extends CallName>(name: N, request: CallRequest<N>) => {
      const outcome = await dispatcher.dispatch(name, request, caller);
      if (!outcome.ok) throw new DesktopError(outcome.error.code, outcome.error.message);
      return outcome.value as CallResponse<N>;
    };
    await call('gateway.pin', {
      url: served.ready.api,
      caFingerprint: served.ready.caFingerprint,
    });
    await call('account.login', { username: 'root', password: ADMIN_PASSWORD });
    // As in the app: the recordings view lists before anything is opened from it.
    await call('recordings.list', { limit: 50 });

    const gatewayPid = served.child.pid;
    const firstFrame = async (sessionId = bigId) => {
      const start = performance.now();
      const cpuBefore = process.cpuUsage();
      const gatewayCpuBefore = processCpuSeconds(gatewayPid) ?? Number.NaN;
      stages = { start };
      const info = await call('recordings.open', { sessionId });
      const opened = performance.now();
      const page = await call('playback.frames', {
        playbackId: info.playbackId,
        fromMs: 0,
        toMs: 10_000,
      });
      const ms = performance.now() - start;
      // CPU of the desktop side only (the gateway is another process): steadier than wall
      // time on a shared machine.
      const cpu = process.cpuUsage(cpuBefore);
      const gatewayCpu = ((processCpuSeconds(gatewayPid) ?? Number.NaN) - gatewayCpuBefore) * 1000;
      if (page.events.length === 0) throw new Error('the first page of frames is empty');
      // A progressive open answers while it verifies the rest (issue #16).
      if (info.verdict.status !== 'verified' && info.verdict.status !== 'verifying') {
        throw new Error(`verdict ${info.verdict.status}`);
      }
      const at = (t: number | undefined) => (t === undefined ? '-' : (t - start).toFixed(0));
      const desktopCpu = (cpu.user + cpu.system) / 1000;
      const breakdown = `first_byte=${at(stages.firstByte)} verified=${at(stages.verified)} indexed=${at(stages.indexed)} opened=${at(opened)} frame=${ms.toFixed(0)} cpu=${desktopCpu.toFixed(0)} gateway_cpu=${gatewayCpu.toFixed(0)}`;
      // Both processes share this machine's cores: even with every core busy the open cannot
      // take less than their CPU time divided by the cores.
      const floorMs = (desktopCpu + gatewayCpu) / os.availableParallelism();
      return { info, ms, breakdown, floorMs };
    };

    // Cold: the recording is not in the desktop's cache (as on a first open of an incident).
    const coldRuns: number[] = [];
    const coldFloors: number[] = [];
    let cold: Awaited<ReturnType<typeof firstFrame>> | undefined;
    for (let i = 0; i < COLD_RUNS; i++) {
      // The previous open's index.json may still be being written in the background.
      await app.playbacks?.settled();
      rmSync(path.join(appDir, 'recordings-cache'), {
        recursive: true,
        force: true,
        maxRetries: 5,
      });
      cold = await firstFrame();
      coldRuns.push(cold.ms);
      coldFloors.push(cold.floorMs);
      log(
        `DETAIL cold_open_${i + 1}_ms ${cold.breakdown} (download + verify + index of ${BIG_MB} MiB; gateway in its own process)`,
      );
      if (i < COLD_RUNS - 1) await call('playback.close', { playbackId: cold.info.playbackId });
    }
    const firstFrameMs = percentile(coldRuns, 50);
    log(
      `DETAIL first_frame_cpu_floor_ms=${percentile(coldFloors, 50).toFixed(0)} (median of (desktop + gateway CPU) / ${os.availableParallelism()} cores per cold open)`,
    );
    log(`DETAIL first_frame_cold_runs_ms=${coldRuns.map((v) => v.toFixed(0)).join(',')}`);
    // The background download and verification of the last cold open, to its final verdict.
    const td = performance.now();
    await app.playbacks?.downloaded(cold!.info.playbackId);
    log(
      `DETAIL background_download_verify_ms=${(performance.now() - td).toFixed(0)} (the rest of the last cold open, after its first frame)`,
    );
    const tk = performance.now();
    await app.playbacks?.keyframesOf(cold!.info.playbackId)?.build();
    log(
      `DETAIL keyframes_build_ms=${(performance.now() - tk).toFixed(0)} keyframes=${cold!.info.keyframeTimes.length} (once per recording, cached)`,
    );
    await call('playback.close', { playbackId: cold!.info.playbackId });

    // Warm: re-opened from the verified cache.
    const warmRuns: number[] = [];
    let warm = cold!;
    for (let i = 0; i < 5; i++) {
      warm = await firstFrame();
      warmRuns.push(warm.ms);
      if (i < 4) await call('playback.close', { playbackId: warm.info.playbackId });
    }
    log(
      `DETAIL first_frame_warm_ms=${percentile(warmRuns, 50).toFixed(0)} runs=${warmRuns.map((v) => v.toFixed(0)).join(',')}`,
    );
    // Re-opened: keyframes come from the cache.
    await app.playbacks?.keyframesOf(warm.info.playbackId)?.build();

    const seekRand = random(7);
    const seeks: number[] = [];
    for (let i = 0; i < SEEKS; i++) {
      const atMs = Math.floor(seekRand() * warm.info.durationMs);
      const start = performance.now();
      const result = await call('playback.seek', { playbackId: warm.info.playbackId, atMs });
      seeks.push(performance.now() - start);
      if (!result.snapshot) throw new Error('empty snapshot');
    }
    const seekP95 = percentile(seeks, 95);
    log(
      `DETAIL seek_p50_ms=${percentile(seeks, 50).toFixed(1)} seek_max_ms=${Math.max(...seeks).toFixed(1)}`,
    );

    // --- 1 GiB: cold first frames, and seeks the download has not reached (issue #16) -------
    const emptyCache = async () => {
      await app.playbacks?.settled();
      rmSync(path.join(appDir, 'recordings-cache'), {
        recursive: true,
        force: true,
        maxRetries: 5,
      });
    };
    const hugeRuns: number[] = [];
    let hugeOpen: Awaited<ReturnType<typeof firstFrame>> | undefined;
    for (let i = 0; i < COLD_RUNS; i++) {
      await emptyCache();
      hugeOpen = await firstFrame(hugeId);
      hugeRuns.push(hugeOpen.ms);
      log(`DETAIL cold_open_1g_${i + 1}_ms ${hugeOpen.breakdown}`);
      if (i < COLD_RUNS - 1) await call('playback.close', { playbackId: hugeOpen.info.playbackId });
    }
    const firstFrame1gMs = percentile(hugeRuns, 50);
    const coldSeekRand = random(11);
    const coldSeeks: number[] = [];
    const hugeInfo = hugeOpen!.info;
    // Built over two hours; the open may answer before the seek table told it the length.
    const hugeMs = 2 * HOUR_MS;
    for (let i = 0; i < COLD_SEEKS; i++) {
      const atMs = Math.floor((0.05 + 0.95 * coldSeekRand()) * hugeMs);
      const start = performance.now();
      const result = await call('playback.seek', { playbackId: hugeInfo.playbackId, atMs });
      coldSeeks.push(performance.now() - start);
      if (!result.snapshot) throw new Error('empty snapshot');
    }
    const seekColdP95 = percentile(coldSeeks, 95);
    if ((app.playbacks?.islandsOf(hugeInfo.playbackId) ?? 0) === 0) {
      throw new Error('no cold seek fetched a stretch: the measurement would be of warm seeks');
    }
    log(
      `DETAIL seek_cold_p50_ms=${percentile(coldSeeks, 50).toFixed(1)} seek_cold_max_ms=${Math.max(...coldSeeks).toFixed(1)} seeks=${COLD_SEEKS} islands_fetched=${app.playbacks?.islandsOf(hugeInfo.playbackId)} (1 GiB, download still running) load=${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join('/')}`,
    );
    await call('playback.close', { playbackId: hugeInfo.playbackId });

    const searches: number[] = [];
    let hits = 0;
    for (let i = 0; i < SEARCHES; i++) {
      const q = i % 2 === 0 ? WORDS[i % WORDS.length]! : `job${i * 3}`;
      const start = performance.now();
      const result = await call('recordings.search', { q, limit: 50 });
      searches.push(performance.now() - start);
      hits += result.hits.length;
    }
    if (hits === 0) throw new Error('no search found anything');
    const searchMs = percentile(searches, 50);
    log(
      `DETAIL search_p95_ms=${percentile(searches, 95).toFixed(1)} hits=${hits} recordings=${SMALL + 1}`,
    );

    await app.dispose();
    log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
    process.stdout.write(
      `RESULT first_frame_ms=${firstFrameMs.toFixed(0)} first_frame_1g_ms=${firstFrame1gMs.toFixed(0)} seek_p95_ms=${seekP95.toFixed(0)} seek_cold_p95_ms=${seekColdP95.toFixed(0)} search_10k_ms=${searchMs.toFixed(0)}\n`,
    );
  } finally {
    if (served) {
      const code = await served.stop();
      if (code !== 0) log(`gateway process exited with ${code}:\n${served.stderr()}`);
    }
    if (inProcessOpen) await gw.close();
    else rmSync(gw.dataDir, { recursive: true, force: true });
    rmSync(appDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:replay failed: ${error instanceof Error ? error.stack : String(error)}\n`,
  );
  process.exit(1);
});
