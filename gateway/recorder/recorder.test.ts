/**
 * The recorder against each deployment's storage — segment files (SQLite deployment) and
 * database chunks on SQLite and on PostgreSQL — contract-style: what is appended comes back
 * byte for byte and verifies with the same verifier `witness verify` uses; checkpoints land
 * every MiB, every second, and at close, each after a sync; a storage failure closes the
 * recording (fail closed); startup recovery marks what a dead instance left as interrupted.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  eventKinds,
  MAX_FRAME_DATA_BYTES,
  RecordingReader,
} from '../../shared/recording/recordingFormat.ts';
import { scanSeekTable, stretchRange } from '../../shared/recording/seekTable.ts';
import { recordingKeyId, verifyRecording } from '../../shared/recording/verifyRecording.ts';
import { StretchVerifier } from '../../shared/recording/verifyStretch.ts';
import {
  describeWithPostgres,
  freshPostgresDatabase,
} from '../../test/harness/postgresForTests.ts';
import { ManualClock } from '../clock.ts';
import { openPostgresStore, openSqliteStore } from '../store/openStore.ts';
import type { RecordingStore } from '../store/recordingStore.ts';
import type { StoreHandle } from '../store/storeConnection.ts';
import { FailingStorage } from './fixtures/failingStorage.ts';
import { readRecording, readStoredBytes } from './fixtures/readRecording.ts';
import { CHECKPOINT_BYTES, Recorder, type RecorderOptions } from './recorder.ts';

/** The byte boundary these tests checkpoint at: the default (issue #16: bounded cold seeks). */
const TEST_CHECKPOINT_BYTES = 1024 * 1024;

import {
  DatabaseChunkStorage,
  type RecordingSink,
  type RecordingStorage,
  SegmentFileStorage,
} from './recordingStorage.ts';
import { verifyStoredRecording } from './recordingVerification.ts';
import { RecorderFailure, type SessionRecorder } from './sessionRecorder.ts';

const T = 1_750_000_000_000;
const { privateKey } = generateKeyPairSync('ed25519');
const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();
const recordingKey = { keyId: recordingKeyId(publicKeyPem), privateKey };

interface Backend {
  store: RecordingStore & StoreHandle;
  storage: RecordingStorage;
  dispose(): Promise<void>;
}

const session = (n: number) => ({
  sessionId: `ses_${n}`,
  userId: 'usr_1',
  resourceId: 'res_1',
  protocol: 'ssh' as const,
});

function describeRecorder(name: string, openBackend: () => Promise<Backend>): void {
  describe(`Recorder on ${name}`, () => {
    let backend: Backend;
    let clock: ManualClock;
    const recorders: SessionRecorder[] = [];

    const newRecorder = (options: Partial<RecorderOptions> = {}) =>
      new Recorder({
        store: backend.store,
        storage: backend.storage,
        recordingKey,
        owner: 'gwi_test',
        clock,
        checkpointBytes: TEST_CHECKPOINT_BYTES,
        ...options,
      });
    const start = async (recorder: Recorder, n: number) => {
      const recording = await recorder.start(session(n));
      recorders.push(recording);
      return recording;
    };

    beforeEach(async () => {
      // Only the checkpoint timer is faked: storage I/O keeps its real timers.
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      clock = new ManualClock(T);
      backend = await openBackend();
    });
    afterEach(async () => {
      await Promise.allSettled(recorders.splice(0).map((r) => r.close()));
      vi.useRealTimers();
      await backend.dispose();
    });

    it('writes the events appended in one synchronous pass (one socket chunk) as one batch', async () => {
      // A proxy appends a chunk's events back to back (RowDescription, DataRows,
      // CommandComplete); they should reach the sink in one write, not the first one alone.
      const writes: number[] = [];
      const counting: RecordingStorage = {
        kind: backend.storage.kind,
        open: (sessionId) => backend.storage.open(sessionId),
        async create(sessionId, header) {
          const inner = await backend.storage.create(sessionId, header);
          return {
            write: (bytes) => {
              writes.push(1);
              return inner.write(bytes);
            },
            ...(inner.writev && {
              writev: (chunks: readonly Uint8Array[]) => {
                writes.push(chunks.length);
                return inner.writev!(chunks);
              },
            }),
            flush: () => inner.flush(),
            sync: () => inner.sync(),
            close: () => inner.close(),
          };
        },
      };
      const recording = await start(newRecorder({ storage: counting }), 7);
      writes.length = 0;
      const appended = [
        recording.appendJson(0, eventKinds.meta, { type: 'row-description' }),
        recording.append(0, eventKinds.output, Buffer.from('row 1')),
        recording.append(0, eventKinds.output, Buffer.from('row 2')),
        recording.appendJson(0, eventKinds.meta, { type: 'command-complete' }),
      ];
      await Promise.all(appended);
      expect(writes).toHaveLength(1);
      await recording.close();
    });

    it('records events byte for byte and closes with a verified final checkpoint', async () => {
      const recording = await start(newRecorder(), 1);
      const big = Buffer.alloc(2 * MAX_FRAME_DATA_BYTES + 123);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
      await recording.appendJson(0, eventKinds.meta, { type: 'session-start' });
      await recording.append(1, eventKinds.input, Buffer.from('ls -la\r'));
      clock.advance(5);
      await recording.append(1, eventKinds.output, big);
      await recording.appendJson(1, eventKinds.resize, { cols: 120, rows: 40 });
      await recording.append(65535, eventKinds.output, new Uint8Array(0));
      await recording.appendJson(1, eventKinds.exit, { code: 3 });
      clock.advance(10);
      await recording.close();
      await recording.close(); // idempotent

      const decoded = await readRecording(backend.storage, 'ses_1');
      expect(decoded.header).toMatchObject({
        formatVersion: 2,
        sessionId: 'ses_1',
        keyId: recordingKey.keyId,
        startedAt: T,
        meta: { userId: 'usr_1', resourceId: 'res_1', protocol: 'ssh' },
      });
      const kinds = decoded.events.map((e) => `${e.seq}:${e.channel}:${e.kind}:${e.data.length}`);
      expect(kinds).toEqual([
        '1:0:m:24',
        '2:1:i:7',
        `3:1:o:${MAX_FRAME_DATA_BYTES}`,
        `4:1:o:${MAX_FRAME_DATA_BYTES}`,
        '5:1:o:123',
        '6:1:r:22',
        '7:65535:o:0',
        '8:1:x:10',
      ]);
      // Buffer.equals, not toEqual: a deep equality walks 2 MiB element by element (seconds).
      const stored = Buffer.concat(
        decoded.events.filter((e) => e.seq >= 3 && e.seq <= 5).map((e) => e.data),
      );
      expect(stored.length).toBe(big.length);
      expect(stored.equals(big)).toBe(true);
      expect(decoded.events.map((e) => e.time)).toEqual([
        T,
        T,
        T + 5,
        T + 5,
        T + 5,
        T + 5,
        T + 5,
        T + 5,
      ]);
      expect(decoded.layout.at(-1)).toBe('C8!');
      expect(decoded.checkpoints.at(-1)).toMatchObject({ seq: 8, final: true, time: T + 15 });

      const bytes = await readStoredBytes(backend.storage, 'ses_1');
      const report = await verifyRecording(bytes, { publicKeyPem, expectedSessionId: 'ses_1' });
      expect(report).toMatchObject({ ok: true, status: 'verified', frames: 8, final: true });
      expect(await backend.store.getRecording('ses_1')).toMatchObject({
        status: 'complete',
        owner: 'gwi_test',
        storage: backend.storage.kind,
        startedAt: T,
        endedAt: T + 15,
        frames: 8,
        bytes: bytes.length,
        lastCheckpointSeq: 8,
        lastCheckpointAt: T + 15,
      });
      await expect(recording.append(0, eventKinds.output, Buffer.from('late'))).rejects.toThrow(
        RecorderFailure,
      );
    });

    it('closes an empty recording with a final checkpoint at seq 0', async () => {
      const recording = await start(newRecorder(), 2);
      await recording.close();
      const decoded = await readRecording(backend.storage, 'ses_2');
      expect(decoded.layout).toEqual(['H', 'C0!']);
      const report = await verifyRecording(await readStoredBytes(backend.storage, 'ses_2'), {
        publicKeyPem,
      });
      expect(report).toMatchObject({ status: 'verified', frames: 0 });
    });

    it('resolves appends in order, writing those that queue up together', async () => {
      const writes: number[] = [];
      const storage = countingStorage(backend.storage, writes);
      const recording = await start(newRecorder({ storage }), 3);
      const order: number[] = [];
      await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          recording
            .append(1, eventKinds.output, Buffer.from(`line ${i}\n`))
            .then(() => order.push(i)),
        ),
      );
      expect(order).toEqual(Array.from({ length: 200 }, (_, i) => i));
      expect(writes.length).toBeLessThan(10); // 200 appends, a handful of writes
      await recording.close();
      const decoded = await readRecording(backend.storage, 'ses_3');
      expect(decoded.events.map((e) => e.data.toString())).toEqual(
        Array.from({ length: 200 }, (_, i) => `line ${i}\n`),
      );
    });

    it('checkpoints after every MiB of frame data, once the frames it covers are synced', async () => {
      // The default boundary, not the tests' own: every stretch a player fetches on a cold
      // seek stays about a MiB, whatever the output rate (issue #16).
      const recording = await start(newRecorder({ checkpointBytes: undefined }), 4);
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      // 40 appends of 64 KiB: one MiB is 16 of them.
      for (let i = 0; i < 40; i++) await recording.append(1, eventKinds.output, chunk);
      await recording.close();
      const decoded = await readRecording(backend.storage, 'ses_4');
      const checkpoints = decoded.layout.filter((r) => r.startsWith('C'));
      expect(CHECKPOINT_BYTES).toBe(16 * chunk.length); // the default: see recorder.ts
      expect(checkpoints).toEqual(['C16', 'C32', 'C40!']);
      // Frames appended while a checkpoint's frames are synced may precede it, but no more
      // than the next MiB: the next checkpoint waits for this one.
      const at = (name: string) => decoded.layout.indexOf(name);
      expect(at('C16')).toBeGreaterThan(at('F16'));
      expect(at('C16')).toBeLessThan(at('F33'));
      expect(at('C32')).toBeGreaterThan(at('F32'));
      const report = await verifyRecording(decoded.bytes, { publicKeyPem });
      expect(report).toMatchObject({ status: 'verified', frames: 40 });
    });

    it('checkpoints every second while frames arrive, and not while idle', async () => {
      const recording = await start(newRecorder(), 5);
      await recording.append(1, eventKinds.output, Buffer.from('a'));
      clock.advance(999);
      vi.advanceTimersByTime(999);
      await recording.append(1, eventKinds.output, Buffer.from('b'));
      clock.advance(1);
      vi.advanceTimersByTime(1); // the first tick: frames 1–2 are new
      // The checkpoint is written once frames 1–2 are synced (the row follows it).
      await eventually(async () =>
        expect((await backend.store.getRecording('ses_5'))?.lastCheckpointSeq).toBe(2),
      );
      await recording.append(1, eventKinds.output, Buffer.from('c'));
      clock.advance(1000);
      vi.advanceTimersByTime(1000); // second tick: frame 3 is new
      await recording.append(1, eventKinds.output, Buffer.from('d'));
      // The row follows the checkpoints (at most every half second).
      await eventually(async () =>
        expect((await backend.store.getRecording('ses_5'))?.lastCheckpointSeq).toBe(3),
      );
      clock.advance(1000);
      vi.advanceTimersByTime(1000); // third tick: frame 4 is new
      await eventually(async () =>
        expect((await backend.store.getRecording('ses_5'))?.lastCheckpointSeq).toBe(4),
      );
      await recording.append(1, eventKinds.output, Buffer.from('e'));
      clock.advance(1000);
      vi.advanceTimersByTime(1000); // fourth tick: frame 5 is new
      await eventually(async () =>
        expect((await backend.store.getRecording('ses_5'))?.lastCheckpointSeq).toBe(5),
      );
      await recording.append(1, eventKinds.output, Buffer.from('f'));
      await recording.close(); // the final checkpoint covers frame 6
      // Idle: five ticks with nothing new write nothing.
      const idle = await start(newRecorder(), 55);
      await idle.append(1, eventKinds.output, Buffer.from('x'));
      clock.advance(1000);
      vi.advanceTimersByTime(1000);
      await idle.append(1, eventKinds.output, Buffer.from('y'));
      clock.advance(5000);
      vi.advanceTimersByTime(5000);
      await idle.close();

      // (A frame appended while a checkpoint's sync runs may be written before it.)
      const decoded = await readRecording(backend.storage, 'ses_5');
      expect(decoded.layout.filter((r) => r.startsWith('C'))).toEqual([
        'C2',
        'C3',
        'C4',
        'C5',
        'C6!',
      ]);
      expect(decoded.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(decoded.checkpoints.map((c) => c.time - T)).toEqual([1000, 2000, 3000, 4000, 4000]);
      const idleLayout = (await readRecording(backend.storage, 'ses_55')).layout;
      expect(idleLayout.filter((r) => r.startsWith('C'))).toEqual(['C1', 'C2', 'C2!']);
      expect(idleLayout.filter((r) => r.startsWith('F'))).toEqual(['F1', 'F2']);
    });

    it('makes the frames durable before each checkpoint is written, without holding up later frames', async () => {
      const operations: string[] = [];
      let releaseSync!: () => void;
      const syncGate = new Promise<void>((resolve) => {
        releaseSync = resolve;
      });
      const storage = loggingStorage(backend.storage, operations, syncGate);
      const recording = await start(newRecorder({ storage }), 6);
      await recording.append(1, eventKinds.output, Buffer.alloc(TEST_CHECKPOINT_BYTES));
      // The MiB checkpoint's sync is held: a later append is written (and resolves) meanwhile.
      await recording.append(1, eventKinds.output, Buffer.from('tail'));
      expect(operations).toEqual(['write F', 'sync', 'write F']);
      releaseSync();
      await recording.close();
      expect(operations).toEqual([
        ...['write F', 'sync', 'write F', 'synced', 'write C', 'flush'],
        ...['sync', 'synced', 'write C', 'flush'],
        'close',
      ]);
      const decoded = await readRecording(backend.storage, 'ses_6');
      expect(decoded.layout).toEqual(['H', 'F1', 'F2', 'C1', 'C2!']);
      const report = await verifyRecording(decoded.bytes, { publicKeyPem });
      expect(report).toMatchObject({ status: 'verified', frames: 2 });
    });

    it('stores the seek table it noted while writing, the one a scan of the bytes finds (issue #16)', async () => {
      // A checkpoint lagging behind a frame written during its sync, then one started right
      // after its record (the timer fired meanwhile) covering just that frame: the stretch
      // boundaries the scan once got wrong.
      const operations: string[] = [];
      let releaseSync!: () => void;
      const syncGate = new Promise<void>((resolve) => {
        releaseSync = resolve;
      });
      const storage = loggingStorage(backend.storage, operations, syncGate);
      const recording = await start(newRecorder({ storage }), 8);
      await recording.append(1, eventKinds.output, Buffer.alloc(TEST_CHECKPOINT_BYTES));
      clock.advance(100);
      await recording.append(1, eventKinds.output, Buffer.from('written during the sync'));
      vi.advanceTimersByTime(1000);
      releaseSync();
      // Both checkpoint records are written before the next frame.
      await eventually(async () => {
        expect(operations.filter((operation) => operation === 'write C')).toHaveLength(2);
      });
      clock.advance(100);
      await recording.append(1, eventKinds.output, Buffer.from('after both'));
      await recording.close();
      const decoded = await readRecording(backend.storage, 'ses_8');
      expect(decoded.layout).toEqual(['H', 'F1', 'F2', 'C1', 'C2', 'F3', 'C3!']);
      const stored = await backend.store.getSeekTable('ses_8');
      expect(stored).toEqual(await scanSeekTable(decoded.bytes));
      const table = stored!;
      const header = new RecordingReader().push(decoded.bytes.subarray(0, table.headerBytes))[0];
      if (header?.type !== 'header') throw new Error('no header');
      let covered = 0;
      for (let index = 0; index < table.points.length; index++) {
        const range = stretchRange(table, index);
        const verifier = new StretchVerifier({
          publicKeyPem,
          sessionId: 'ses_8',
          range,
          header: header.header,
        });
        verifier.push(decoded.bytes.subarray(range.from, range.to));
        expect(verifier.finish()).toMatchObject({ status: 'verified', afterSeq: covered });
        covered = table.points[index]!.seq;
      }
      expect(covered).toBe(3);
    });

    it('fails closed: the append that hits a storage error and all later ones reject, and the row says failed', async () => {
      const storage = new FailingStorage(backend.storage, { failAfterBytes: 10_000 });
      const recording = await start(newRecorder({ storage }), 7);
      await recording.append(1, eventKinds.output, Buffer.alloc(4000, 0x61));
      await recording.append(1, eventKinds.output, Buffer.alloc(4000, 0x62));
      const failedFirst = vi.fn();
      void recording.failed.then(failedFirst);

      const hit = recording.append(1, eventKinds.output, Buffer.alloc(4000, 0x63));
      const queued = recording.append(1, eventKinds.input, Buffer.from('rm -rf /\r'));
      queued.catch(() => {}); // asserted below; keeps the rejection from counting as unhandled
      await expect(hit).rejects.toBeInstanceOf(RecorderFailure);
      const what = backend.storage.kind === 'segments' ? 'disk' : 'database';
      await expect(hit).rejects.toThrow(
        `The recording could not be saved (${what} error: ENOSPC: no space left on device, write); the session was closed so nothing unrecorded is forwarded.`,
      );
      await expect(queued).rejects.toBeInstanceOf(RecorderFailure);
      await expect(recording.append(1, eventKinds.output, Buffer.from('x'))).rejects.toBe(
        await recording.failed,
      );
      expect(await recording.failed).toBeInstanceOf(RecorderFailure);
      expect(failedFirst).toHaveBeenCalledOnce();

      await recording.close(); // resolves; the failure is reported through `failed`
      expect(await backend.store.getRecording('ses_7')).toMatchObject({
        status: 'failed',
        failureReason: 'ENOSPC: no space left on device, write',
        frames: 2,
        endedAt: T,
      });
      // What was written before the failure is still there and readable. No checkpoint covers
      // it (the first would come at 1 MiB or 1 s), so nothing is verified — but nothing is lost.
      const decoded = await readRecording(backend.storage, 'ses_7');
      expect(decoded.events.map((e) => e.seq)).toEqual([1, 2]);
      expect(decoded.tornBytes).toBeGreaterThan(0);
      expect(
        await verifyStoredRecording(
          backend.storage,
          { sessionId: 'ses_7', status: 'failed' },
          publicKeyPem,
        ),
      ).toMatchObject({
        status: 'partial',
        verifiedThroughSeq: 0,
        firstBadSeq: null,
      });
    });

    it('keeps the verified prefix of a recording that fails after a checkpoint', async () => {
      const storage = new FailingStorage(backend.storage, { failAfterBytes: 1_200_000 });
      const recording = await start(newRecorder({ storage }), 8);
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      let failure: unknown;
      for (let i = 0; i < 40 && failure === undefined; i++) {
        await recording.append(1, eventKinds.output, chunk).catch((error: unknown) => {
          failure = error;
        });
        // The checkpoint at 16 is written once its frames are synced; frames appended
        // meanwhile could precede it and reach the failing byte first.
        if (i === 15) {
          await eventually(async () =>
            expect((await backend.store.getRecording('ses_8'))?.lastCheckpointSeq).toBe(16),
          );
        }
      }
      expect(failure).toBeInstanceOf(RecorderFailure);
      await recording.close();
      const row = await backend.store.getRecording('ses_8');
      expect(row).toMatchObject({ status: 'failed', lastCheckpointSeq: 16 });
      const verification = await verifyStoredRecording(
        backend.storage,
        { sessionId: 'ses_8', status: 'failed' },
        publicKeyPem,
      );
      expect(verification).toMatchObject({ status: 'partial', verifiedThroughSeq: 16 });
      // The offline verifier, which cannot know the writer died, calls the torn tail a failure
      // after the last whole frame — but still vouches for the prefix.
      const offline = await verifyRecording(await readStoredBytes(backend.storage, 'ses_8'), {
        publicKeyPem,
      });
      expect(offline).toMatchObject({ status: 'failed', verifiedThroughSeq: 16 });
      expect(offline.firstBadSeq).toBe(offline.frames + 1);
    });

    it('refuses to start when the storage cannot create the recording, and says so', async () => {
      const broken: RecordingStorage = {
        kind: backend.storage.kind,
        create: async () => {
          throw Object.assign(new Error('EACCES: permission denied, mkdir'), { code: 'EACCES' });
        },
        open: (id) => backend.storage.open(id),
      };
      await expect(newRecorder({ storage: broken }).start(session(9))).rejects.toThrow(
        /could not be started .*EACCES: permission denied.*nothing unrecorded is forwarded/,
      );
      expect(await backend.store.getRecording('ses_9')).toMatchObject({
        status: 'failed',
        failureReason: 'EACCES: permission denied, mkdir',
      });
    });

    it('refuses a second recording of the same session', async () => {
      const recorder = newRecorder();
      await start(recorder, 10);
      await expect(recorder.start(session(10))).rejects.toBeInstanceOf(RecorderFailure);
    });

    it("marks only this instance's unfinished recordings interrupted at startup", async () => {
      const before = newRecorder();
      const live = await start(before, 11);
      await live.append(1, eventKinds.output, Buffer.alloc(TEST_CHECKPOINT_BYTES + 10));
      await eventually(async () =>
        expect((await backend.store.getRecording('ses_11'))?.lastCheckpointSeq).toBe(1),
      );
      const otherReplica = await start(newRecorder({ owner: 'gwi_other' }), 12);
      await otherReplica.append(1, eventKinds.output, Buffer.from('still live'));
      await start(before, 13).then((r) => r.close());
      expect(before.activeSessions()).toEqual(['ses_11']);
      await expect(before.recoverInterruptedRecordings()).rejects.toThrow(/before any recording/);

      // "Restart": a new Recorder of the same instance, while ses_11 was never closed.
      const after = newRecorder();
      clock.advance(60_000);
      expect(await after.recoverInterruptedRecordings()).toEqual(['ses_11']);
      expect(await backend.store.getRecording('ses_11')).toMatchObject({
        status: 'interrupted',
        endedAt: T,
        failureReason: expect.stringContaining('stopped while recording'),
      });
      expect((await backend.store.getRecording('ses_12'))?.status).toBe('recording');
      expect((await backend.store.getRecording('ses_13'))?.status).toBe('complete');
      expect(
        await verifyStoredRecording(
          backend.storage,
          { sessionId: 'ses_11', status: 'interrupted' },
          publicKeyPem,
        ),
      ).toMatchObject({ status: 'partial', verifiedThroughSeq: 1, firstBadSeq: null });
      expect(await after.recoverInterruptedRecordings()).toEqual([]);
    });

    it('closes every active recording on shutdown', async () => {
      const recorder = newRecorder();
      const a = await start(recorder, 14);
      await start(recorder, 15);
      await a.append(1, eventKinds.output, Buffer.from('x'));
      await recorder.closeAll();
      expect(recorder.activeSessions()).toEqual([]);
      expect((await backend.store.getRecording('ses_14'))?.status).toBe('complete');
      expect((await backend.store.getRecording('ses_15'))?.status).toBe('complete');
    });
  });
}

/**
 * Retries `check` on real timers until it passes (vi.waitFor would advance the faked
 * checkpoint timer and so add checkpoints of its own).
 */
async function eventually(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Counts the sink writes after the header. */
function countingStorage(inner: RecordingStorage, writes: number[]): RecordingStorage {
  return wrapStorage(inner, (sink) => ({
    write: (bytes) => {
      writes.push(bytes.length);
      return sink.write(bytes);
    },
    flush: () => sink.flush(),
    sync: () => sink.sync(),
    close: () => sink.close(),
  }));
}

/**
 * Logs sink operations; a write is named by the type of its first record. Syncs log when they
 * start and when they are done, and finish only once `syncGate` resolves.
 */
function loggingStorage(
  inner: RecordingStorage,
  operations: string[],
  syncGate: Promise<void> = Promise.resolve(),
): RecordingStorage {
  return wrapStorage(inner, (sink) => ({
    write: (bytes) => {
      operations.push(`write ${String.fromCharCode(bytes[0] ?? 0)}`);
      return sink.write(bytes);
    },
    flush: () => {
      operations.push('flush');
      return sink.flush();
    },
    sync: async () => {
      operations.push('sync');
      await syncGate;
      await sink.sync();
      operations.push('synced');
    },
    close: () => {
      operations.push('close');
      return sink.close();
    },
  }));
}

function wrapStorage(
  inner: RecordingStorage,
  wrap: (sink: RecordingSink) => RecordingSink,
): RecordingStorage {
  return {
    kind: inner.kind,
    create: async (sessionId, header) => wrap(await inner.create(sessionId, header)),
    open: (sessionId) => inner.open(sessionId),
  };
}

describeRecorder('segment files (SQLite deployment)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'witness-recorder-'));
  const store = await openSqliteStore(join(dir, 'witness.sqlite'));
  return {
    store,
    storage: new SegmentFileStorage(join(dir, 'recordings')),
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});

describeRecorder('database chunks on SQLite', async () => {
  const store = await openSqliteStore(':memory:');
  return { store, storage: new DatabaseChunkStorage(store), dispose: () => store.close() };
});

describeWithPostgres('Recorder (PostgreSQL deployment)', () => {
  describeRecorder('database chunks on PostgreSQL', async () => {
    const store = await openPostgresStore(await freshPostgresDatabase());
    return { store, storage: new DatabaseChunkStorage(store), dispose: () => store.close() };
  });
});
