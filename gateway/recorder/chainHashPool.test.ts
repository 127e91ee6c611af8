/**
 * Chain hashing on worker threads: the pool must produce exactly the chain the inline hasher
 * does (lanes continue across calls, lanes on one worker stay apart), and a recording whose
 * worker dies mid-session must still be complete and verify — the recorder hashes the frames
 * it still holds itself.
 */

import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chainHashParts, eventKinds, initialHash } from '../../shared/recording/recordingFormat.ts';
import { recordingKeyId, verifyRecording } from '../../shared/recording/verifyRecording.ts';
import type { Logger } from '../logger.ts';
import { openSqliteStore } from '../store/openStore.ts';
import type { RecordingStore } from '../store/recordingStore.ts';
import type { StoreHandle } from '../store/storeConnection.ts';
import { ChainHashPool, type FrameToHash } from './chainHashPool.ts';
import { readRecording, readStoredBytes } from './fixtures/readRecording.ts';
import { Recorder } from './recorder.ts';
import { SegmentFileStorage } from './recordingStorage.ts';

/** Deterministic bytes of a given length (a small LCG), different per `salt`. */
function bytesOf(length: number, salt: number): Buffer {
  const bytes = Buffer.alloc(length);
  let x = salt * 2654435761;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

const framesOf = (sizes: number[], salt: number): FrameToHash[] =>
  sizes.map((size, i) => ({ header: bytesOf(20, salt * 100 + i), data: bytesOf(size, salt + i) }));

function inlineChain(seed: Buffer, frames: FrameToHash[]): Buffer[] {
  const hashes: Buffer[] = [];
  let previous = seed;
  for (const frame of frames) {
    previous = chainHashParts(previous, frame.header, frame.data);
    hashes.push(previous);
  }
  return hashes;
}

/** A logger that keeps its warnings (message and fields) for the test to read. */
function capturingLog(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log: Logger = {
    info() {},
    warn: (message, fields) => warnings.push(`${message} ${JSON.stringify(fields ?? {})}`),
    error() {},
  };
  return { log, warnings };
}

/** A worker that dies on its first message. */
const DYING_WORKER = `require('node:worker_threads').parentPort.on('message', () => process.exit(3));`;

const split = (hashes: Buffer) =>
  Array.from({ length: hashes.length / 32 }, (_, i) => hashes.subarray(i * 32, i * 32 + 32));

describe('ChainHashPool', () => {
  let pool: ChainHashPool;
  afterEach(async () => {
    await pool.close();
  });

  it('hashes exactly the inline chain, continuing a lane across calls', async () => {
    pool = new ChainHashPool({ threads: 1 });
    const seed = initialHash('ses_1', 'key_1');
    // Empty, tiny, one over the inline scratch (64 KiB), and one of a MiB.
    const frames = framesOf([0, 1, 5, 70_000, 1 << 20, 33], 1);
    const lane = pool.lane();
    expect(lane).toBeDefined();
    const first = await lane!.hash(seed, frames.slice(0, 3));
    const rest = await lane!.hash(null, frames.slice(3));
    expect([...split(first), ...split(rest)]).toEqual(inlineChain(seed, frames));
  });

  it('keeps lanes on one worker apart, even with calls interleaved', async () => {
    pool = new ChainHashPool({ threads: 1 });
    const [a, b] = [pool.lane()!, pool.lane()!];
    const seedA = initialHash('ses_a', 'key_1');
    const seedB = initialHash('ses_b', 'key_1');
    const framesA = framesOf([100, 200, 300, 400], 2);
    const framesB = framesOf([10, 20, 30, 40], 3);
    const results = await Promise.all([
      a.hash(seedA, framesA.slice(0, 2)),
      b.hash(seedB, framesB.slice(0, 1)),
      a.hash(null, framesA.slice(2)),
      b.hash(null, framesB.slice(1)),
    ]);
    expect([...split(results[0]), ...split(results[2])]).toEqual(inlineChain(seedA, framesA));
    expect([...split(results[1]), ...split(results[3])]).toEqual(inlineChain(seedB, framesB));
  });

  it('rejects what is in flight when its worker dies, and starts a new worker for new lanes', async () => {
    const { log, warnings } = capturingLog();
    pool = new ChainHashPool({ threads: 1, log, workerSource: DYING_WORKER });
    const lane = pool.lane()!;
    await expect(lane.hash(initialHash('s', 'k'), framesOf([10], 4))).rejects.toThrow(/code 3/);
    expect(warnings.join('\n')).toContain('chain-hashing worker failed');
    await expect(lane.hash(null, framesOf([10], 5))).rejects.toThrow(/code 3/);
    // The next lane gets a fresh worker (which dies too, here — but it was started).
    const next = pool.lane()!;
    await expect(next.hash(initialHash('s', 'k'), framesOf([10], 6))).rejects.toThrow(/code 3/);
    expect(warnings).toHaveLength(2);
    // A third failed worker and the pool gives up: sessions hash inline, no more restarts.
    const third = pool.lane()!;
    await expect(third.hash(initialHash('s', 'k'), framesOf([10], 7))).rejects.toThrow(/code 3/);
    expect(pool.lane()).toBeUndefined();
    expect(warnings).toHaveLength(3);
  });

  it('says nothing when it is closed with workers running', async () => {
    const { log, warnings } = capturingLog();
    pool = new ChainHashPool({ threads: 1, log });
    const lane = pool.lane()!;
    await lane.hash(initialHash('s', 'k'), framesOf([10], 8));
    await pool.close();
    expect(warnings).toEqual([]);
  });

  it('lets the process exit while idle, and keeps it alive while hashes are owed', async () => {
    // A child process that hashes once and then has nothing to do: it must end by itself.
    const script = [
      `import { ChainHashPool } from ${JSON.stringify(new URL('./chainHashPool.ts', import.meta.url).href)};`,
      'const pool = new ChainHashPool({ threads: 1 });',
      "const hashes = await pool.lane().hash(Buffer.alloc(32), [{ header: Buffer.alloc(20), data: Buffer.from('x') }]);",
      "process.stdout.write('hashed ' + hashes.length);",
    ].join('\n');
    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        encoding: 'utf8',
        timeout: 20_000,
      },
    );
    expect(child.stderr).toBe('');
    // Had the worker stayed ref'd, the child would still be running when the timeout killed it.
    expect(child.signal).toBeNull();
    expect(child.stdout).toBe('hashed 32');
  });

  it('gives no lanes once closed', async () => {
    pool = new ChainHashPool({ threads: 1 });
    await pool.close();
    expect(pool.lane()).toBeUndefined();
  });
});

describe('Recorder with a ChainHashPool', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const publicKeyPem = createPublicKey(privateKey)
    .export({ type: 'spki', format: 'pem' })
    .toString();
  const recordingKey = { keyId: recordingKeyId(publicKeyPem), privateKey };
  let dir: string;
  let store: RecordingStore & StoreHandle;
  let storage: SegmentFileStorage;
  let pool: ChainHashPool;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'witness-hashpool-'));
    store = await openSqliteStore(join(dir, 'witness.sqlite'));
    storage = new SegmentFileStorage(join(dir, 'recordings'));
  });
  afterEach(async () => {
    await pool.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Small and bulk appends mixed, some awaited one by one, some piled up in one turn. */
  async function record(recorder: Recorder, sessionId: string, chunks: Buffer[]): Promise<void> {
    const recording = await recorder.start({
      sessionId,
      userId: 'usr_1',
      resourceId: 'res_1',
      protocol: 'ssh',
    });
    await recording.append(1, eventKinds.input, Buffer.from('cat big\r'));
    for (let i = 0; i < chunks.length; i += 4) {
      await Promise.all(
        chunks.slice(i, i + 4).map((chunk) => recording.append(1, eventKinds.output, chunk)),
      );
      await recording.append(1, eventKinds.input, Buffer.from('x'));
    }
    await recording.close();
  }

  const chunks = Array.from({ length: 24 }, (_, i) => bytesOf(i % 3 === 0 ? 40_000 : 300, i));
  const recorderWith = (hashPool: ChainHashPool, log?: Logger) =>
    new Recorder({
      store,
      storage,
      recordingKey,
      owner: 'gwi_test',
      hashPool,
      inlineHashBytes: 16 * 1024, // the 40 kB turns below go to the worker
      ...(log && { log }),
    });
  /** What `witness verify` says of the stored recording. */
  const verified = async (sessionId: string) =>
    verifyRecording(await readStoredBytes(storage, sessionId), {
      publicKeyPem,
      expectedSessionId: sessionId,
    });

  it('hashes bulk frames on the worker, small ones inline, and the recording verifies', async () => {
    pool = new ChainHashPool({ threads: 1 });
    const posted: number[] = [];
    const lane = pool.lane.bind(pool);
    pool.lane = () => {
      const inner = lane();
      return (
        inner && {
          hash: (seed, frames) => {
            posted.push(frames.reduce((sum, f) => sum + f.data.length, 0));
            return inner.hash(seed, frames);
          },
          release: () => inner.release(),
        }
      );
    };
    await record(recorderWith(pool), 'ses_pool', chunks);
    // Each turn with a 40 kB chunk went to the worker; the keystrokes alone never did.
    expect(posted).toHaveLength(chunks.length / 4);
    expect(posted.every((bytes) => bytes >= 40_000)).toBe(true);
    expect(await verified('ses_pool')).toMatchObject({ ok: true, status: 'verified', final: true });
    const events = (await readRecording(storage, 'ses_pool')).events;
    const outputs = events.filter((e) => e.kind === eventKinds.output);
    expect(Buffer.concat(outputs.map((e) => e.data)).equals(Buffer.concat(chunks))).toBe(true);
    expect(events).toHaveLength(1 + chunks.length + chunks.length / 4);
  });

  it('takes no lane for a session that never moves bulk', async () => {
    pool = new ChainHashPool({ threads: 1 });
    let lanes = 0;
    const lane = pool.lane.bind(pool);
    pool.lane = () => {
      lanes += 1;
      return lane();
    };
    const small = Array.from({ length: 12 }, (_, i) => bytesOf(200, i));
    await record(recorderWith(pool), 'ses_small', small);
    expect(lanes).toBe(0);
    expect(await verified('ses_small')).toMatchObject({ ok: true, status: 'verified' });
  });

  it('falls back to inline hashing when the worker answers with too few hashes', async () => {
    const { log, warnings } = capturingLog();
    pool = new ChainHashPool({
      threads: 1,
      log,
      workerSource: `const { parentPort } = require('node:worker_threads');
        parentPort.on('message', (m) => {
          if (m.id !== undefined) parentPort.postMessage({ id: m.id, hashes: new ArrayBuffer(5) });
        });`,
    });
    await record(recorderWith(pool, log), 'ses_short', chunks);
    expect(await verified('ses_short')).toMatchObject({
      ok: true,
      status: 'verified',
      final: true,
    });
    expect(warnings.join('\n')).toContain('answered 5 bytes');
  });

  it('goes on hashing inline when the worker dies mid-recording; the recording still verifies', async () => {
    const { log, warnings } = capturingLog();
    // Hashes nothing and dies on its first batch (the first bulk append).
    pool = new ChainHashPool({ threads: 1, log, workerSource: DYING_WORKER });
    await record(recorderWith(pool, log), 'ses_dies', chunks);
    expect(await verified('ses_dies')).toMatchObject({ ok: true, status: 'verified', final: true });
    expect(await store.getRecording('ses_dies')).toMatchObject({ status: 'complete' });
    expect(warnings.join('\n')).toContain('hashing this recording on the main thread');
  });
});
