/**
 * The recorder: turns what a proxy hands it into the hash-chained, signed recording stream of
 * shared/recording/recordingFormat.ts, in a RecordingStorage, and keeps the store's
 * `recordings` row up to date (DESIGN.md, Flows → Record).
 *
 * Per session:
 * - the header record, made durable before `start()` resolves;
 * - one frame record per `append` (split at MAX_FRAME_DATA_BYTES), its seq taken as the
 *   append is called, so seq order is call order; its chain hash computed at the end of the
 *   turn, inline or — for bulk — on a worker of the `hashPool`, and the frame written only
 *   once its hash is known;
 * - a signed checkpoint every second while frames arrive, after every CHECKPOINT_BYTES of
 *   frame data, and a final one at `close()`. Each checkpoint is written right after the last
 *   frame it covers, and only after `sync()` has made those frames durable: a checkpoint that
 *   survives a crash never vouches for bytes that did not.
 *
 * Writes go through one serial queue. An `append` resolves once its frames are handed to the
 * sink (OS-buffered for segment files); appends that pile up while a write is in flight are
 * written together as one batch, which is what keeps a bulk transfer fast. The appended data
 * is not copied: it is hashed where it lies and handed to the sink as one of the buffers of a
 * vectored write (`head ‖ data ‖ hash` per frame), so the caller must not change it until
 * its append has settled (the proxies forward it only then anyway).
 *
 * Fail closed: the first storage error rejects the append it hit and every append after it
 * with a RecorderFailure, resolves `failed`, and marks the recording 'failed' in the store.
 * The proxy then ends the session without forwarding anything more.
 */
import {
  type CheckpointBody,
  chainHashParts,
  checkpointSigningBytes,
  type EventKind,
  encodeCheckpointRecord,
  encodeFrameRecordHead,
  encodeHeaderRecord,
  eventKinds,
  FRAME_RECORD_HEAD_BYTES,
  HASH_BYTES,
  initialHash,
  MAX_FRAME_DATA_BYTES,
  RECORDING_FORMAT_VERSION,
} from '../../shared/recording/recordingFormat.ts';
import type { SeekPoint, SeekTable } from '../../shared/recording/seekTable.ts';
import { type Clock, systemClock } from '../clock.ts';
import type { RecordingKey } from '../config/dataDir.ts';
import { signBytes } from '../config/recordingSignature.ts';
import { type Logger, silentLogger } from '../logger.ts';
import type {
  RecordingLifecycle,
  RecordingProgress,
  RecordingSeekTableStore,
  RecordingStorageKind,
} from '../store/recordingStore.ts';
import type { ChainHashLane, ChainHashPool } from './chainHashPool.ts';
import type { RecordingSink, RecordingStorage } from './recordingStorage.ts';
import { type RecorderFactory, RecorderFailure, type SessionRecorder } from './sessionRecorder.ts';

export const CHECKPOINT_INTERVAL_MS = 1000;
/**
 * A bulk transfer checkpoints every this many bytes of frame data as well as every second, so
 * the stretch between two checkpoints — what a player must fetch and hash to show any frame of
 * it on a cold seek — is bounded in bytes whatever the output rate (issue #16). Each
 * checkpoint costs a signature (~50 µs) and an fsync; the fsync runs on libuv's pool while the
 * frames after it go on being written, so at 1 MiB the recorder alone still writes ~400–550
 * MiB/s here against ~400–600 MiB/s at 16 MiB (DESIGN.md, seekfast), far above what a relay
 * moves. 16 MiB (issue #11) made each cold seek fetch and verify ~16 MiB: ~1 s on a loaded
 * machine. A crash still leaves a prefix that verifies up to a checkpoint ≤ 1 MiB or a second
 * behind.
 */
export const CHECKPOINT_BYTES = 1024 * 1024;
/** Upper bound on one batched write, so a flood of appends is not written at once. */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Frames per batched write: 3 buffers each stay under IOV_MAX (1024), so one writev. */
const MAX_BATCH_FRAMES = 320;
/**
 * Frames appended in one turn of the event loop are hashed inline when their data is smaller
 * than this and the session's lane has nothing in flight. Posting to a worker costs the loop
 * a copy, a message and a wake-up (system calls: an eventfd write, futexes): ~7 µs on a quiet
 * machine, 15–90 µs measured on a contended one, against ~40 µs to hash a 64 KiB turn (one
 * socket read) inline. Was 16 KiB; with it a bulk transfer posted every read, and on a busy
 * 2-core machine the gateway spent 8.1–9.1 CPU-s/GB with the pool against 5.1–5.3 hashing
 * everything inline (issue #11). At 256 KiB the pool takes only turns that gathered several
 * reads — a loop that fell behind — where one message is amortized over many frames.
 */
const INLINE_HASH_BYTES = 256 * 1024;

export interface RecorderOptions {
  /** A store that keeps seek tables gets each complete recording's (issue #16). */
  store: RecordingLifecycle & Partial<Pick<RecordingSeekTableStore, 'putSeekTable'>>;
  /** Where new recordings are written (segment files for SQLite, chunks for PostgreSQL). */
  storage: RecordingStorage;
  /** Signs checkpoints; `keyId` goes into the header, the chain seed and every checkpoint. */
  recordingKey: Pick<RecordingKey, 'keyId' | 'privateKey'>;
  /**
   * This gateway instance's id (gatewayInstanceId.ts), stored on every recording it starts,
   * so startup recovery marks only its own unfinished recordings interrupted.
   */
  owner: string;
  clock?: Clock;
  log?: Logger;
  checkpointIntervalMs?: number;
  checkpointBytes?: number;
  /**
   * Least time between two progress writes to the store row (default: half the checkpoint
   * interval; the final write is not held back). Checkpoints come hundreds of times a second in a bulk transfer; the row is for
   * listing, the recording itself is the record, so the row is updated at most this often.
   */
  progressIntervalMs?: number;
  /**
   * Something that looks at every frame as it is recorded (the search indexer). Called
   * synchronously in append order with the frame's seq; the data is the proxy's buffer, valid
   * only during the call. An observer that throws is logged and dropped, never fails the
   * recording.
   */
  observe?: (session: SessionInfo) => FrameObserver | undefined;
  /**
   * Worker threads that hash bulk frames off the event loop (chainHashPool.ts). Without one,
   * every frame is hashed inline — same recording, same bytes.
   */
  hashPool?: ChainHashPool;
  /** Turns with less frame data than this are hashed inline (default INLINE_HASH_BYTES). */
  inlineHashBytes?: number;
}

/** Sees a recording's frames as they are appended, its checkpoints, and its end. */
export interface FrameObserver {
  frame(frame: {
    seq: number;
    time: number;
    channel: number;
    kind: EventKind;
    data: Uint8Array;
  }): void;
  /** A signed checkpoint covering frames up to `seq` is written. */
  checkpoint(seq: number): void;
  /** The recording ended (complete or failed); the recorder waits for it before reporting the end. */
  end(): Promise<void> | void;
}

type SessionInfo = Parameters<RecorderFactory['start']>[0];

export class Recorder implements RecorderFactory {
  private readonly active = new Set<SessionRecording>();
  private readonly clock: Clock;
  private readonly log: Logger;

  constructor(private readonly options: RecorderOptions) {
    this.clock = options.clock ?? systemClock;
    this.log = options.log ?? silentLogger;
  }

  async start(session: SessionInfo): Promise<SessionRecorder> {
    const { store, storage, recordingKey, owner } = this.options;
    const startedAt = this.clock.now();
    const refuse = (what: string, error: unknown) =>
      new RecorderFailure(
        `The recording could not be started (${what}: ${describeError(error)}); the session was refused so nothing unrecorded is forwarded.`,
        { cause: error },
      );
    try {
      await store.createRecording({ ...session, owner, storage: storage.kind, startedAt });
    } catch (error) {
      throw refuse('database error', error);
    }
    const header = encodeHeaderRecord({
      formatVersion: RECORDING_FORMAT_VERSION,
      sessionId: session.sessionId,
      keyId: recordingKey.keyId,
      startedAt,
      meta: { userId: session.userId, resourceId: session.resourceId, protocol: session.protocol },
    });
    let sink: RecordingSink;
    try {
      sink = await storage.create(session.sessionId, header);
    } catch (error) {
      await store
        .finishRecording(session.sessionId, {
          status: 'failed',
          endedAt: this.clock.now(),
          failureReason: describeError(error),
        })
        .catch((storeError: unknown) => this.logStoreError(session.sessionId, storeError));
      throw refuse(errorKind(storage.kind), error);
    }
    let observer: FrameObserver | undefined;
    try {
      observer = this.options.observe?.(session);
    } catch (error) {
      this.log.warn('a recording observer failed to start; recording without it', {
        sessionId: session.sessionId,
        error: describeError(error),
      });
    }
    const recording = new SessionRecording({
      ...this.options,
      observer,
      sessionId: session.sessionId,
      sink,
      headerBytes: header.length,
      clock: this.clock,
      log: this.log,
      onEnd: (ended) => this.active.delete(ended),
    });
    this.active.add(recording);
    return recording;
  }

  /**
   * Startup recovery: marks this instance's recordings still in status 'recording' (the
   * gateway died while writing them) as 'interrupted'. Their bytes verify up to their last
   * checkpoint. Call it once at startup, before any session starts.
   */
  async recoverInterruptedRecordings(): Promise<string[]> {
    if (this.active.size > 0) {
      throw new Error(
        'recoverInterruptedRecordings() must run before any recording starts: it would mark the live ones interrupted',
      );
    }
    const marked = await this.options.store.markUnfinishedRecordingsInterrupted(
      this.options.owner,
      this.clock.now(),
    );
    if (marked.length > 0) {
      this.log.warn('recordings interrupted by a gateway stop were marked interrupted', {
        sessions: marked,
      });
    }
    return marked;
  }

  /** Session ids this instance is recording now. */
  activeSessions(): string[] {
    return [...this.active].map((recording) => recording.sessionId);
  }

  /** Closes every active recording (final checkpoint, status 'complete'): graceful shutdown. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.active].map((recording) => recording.close()));
  }

  private logStoreError(sessionId: string, error: unknown): void {
    this.log.error('could not update the recordings row', {
      sessionId,
      error: describeError(error),
    });
  }
}

// ---------------------------------------------------------------------------------------------

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

interface PendingFrame {
  /** The frame record is `head ‖ data ‖ hash`; `data` is the caller's, not copied. */
  head: Buffer;
  data: Uint8Array;
  seq: number;
  /** Epoch ms of the frame (its seek-table time when a checkpoint covers it last). */
  time: number;
  /** Unset while the frame waits to be hashed (inline at the end of the turn, or on a worker). */
  hash: Buffer | undefined;
  dataBytes: number;
  /** Set on the last frame of an append: resolved when that frame is written. */
  waiter: Waiter | undefined;
}

/** A checkpoint whose frames are being synced while later frames go on being written. */
interface SyncingCheckpoint {
  body: CheckpointBody;
  signature: Buffer;
  /** Where the records after its frames start, and its last frame's time (the seek table). */
  after: StretchStart;
  settled: boolean;
  /** Set when the sync failed. */
  error: unknown;
}

interface SessionRecordingOptions extends RecorderOptions {
  observer: FrameObserver | undefined;
  sessionId: string;
  sink: RecordingSink;
  headerBytes: number;
  clock: Clock;
  log: Logger;
  onEnd(recording: SessionRecording): void;
}

/** Where the stretch after a checkpoint starts: the stream's end when it was taken. */
interface StretchStart {
  from: number;
  frameTime: number;
}

const KIND_CODES = new Set<string>(Object.values(eventKinds));

class SessionRecording implements SessionRecorder {
  readonly sessionId: string;
  readonly failed: Promise<RecorderFailure>;

  private readonly store: RecorderOptions['store'];
  private readonly sink: RecordingSink;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly keyId: string;
  private readonly storageKind: RecordingStorageKind;
  private readonly checkpointBytes: number;
  private readonly inlineHashBytes: number;
  private readonly progressIntervalMs: number;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly sign: (body: CheckpointBody) => Buffer;

  /** Seq of the last frame encoded (appended, perhaps not yet hashed or written). */
  private seq = 0;
  /** Chain hash of the last frame whose hash is known: the seed for the frames after it. */
  private hash: Buffer;
  /** Frames appended this turn, not hashed yet nor handed to the lane. */
  private unhashed: PendingFrame[] = [];
  private hashFlushQueued = false;
  /** Frames handed to the lane whose hashes have not come back, in order. */
  private hashing: PendingFrame[] = [];
  private lane: ChainHashLane | undefined;
  /** Where bulk frames are hashed (a lane is taken at the first bulk turn); unset once a lane failed. */
  private hashPool: ChainHashPool | undefined;
  /** Frames to write, in seq order: hashed ones first, then those still being hashed. */
  private pending: PendingFrame[] = [];
  /** Waiters of the batch being written now. */
  private inFlight: Waiter[] = [];

  /** State of what the sink has accepted. */
  private writtenSeq = 0;
  private writtenHash: Buffer;
  private bytes: number;
  private dataSinceCheckpoint = 0;
  private checkpointSeq = 0;
  private checkpointAt: number | null = null;
  private checkpointRequested = false;
  /** Seek table (issue #16): the stream's header size, its frames' times, each checkpoint. */
  private readonly headerBytes: number;
  private firstFrameTime = 0;
  private writtenTime = 0;
  private readonly seekPoints: SeekPoint[] = [];

  private draining = false;
  private drainDone: Promise<void> = Promise.resolve();
  /** The checkpoint whose sync is in flight (at most one). */
  private syncing: SyncingCheckpoint | undefined;
  /** Wakes the drain loop while it waits for a sync with nothing to write. */
  private wakeUp: (() => void) | undefined;
  private closing = false;
  private closeDone: Promise<void> | undefined;
  private failure: RecorderFailure | undefined;
  private resolveFailed!: (failure: RecorderFailure) => void;
  /** Settles once a failed recording's row says 'failed' and its sink is closed. */
  private failureRecorded: Promise<void> = Promise.resolve();

  private progressDirty = false;
  private progressWrite: Promise<void> | undefined;
  private lastProgressAt = Number.NEGATIVE_INFINITY;
  private readonly onEnd: (recording: SessionRecording) => void;
  private observer: FrameObserver | undefined;

  constructor(options: SessionRecordingOptions) {
    this.sessionId = options.sessionId;
    this.observer = options.observer;
    this.hashPool = options.hashPool;
    this.store = options.store;
    this.sink = options.sink;
    this.clock = options.clock;
    this.log = options.log;
    this.keyId = options.recordingKey.keyId;
    this.storageKind = options.storage.kind;
    this.checkpointBytes = options.checkpointBytes ?? CHECKPOINT_BYTES;
    this.inlineHashBytes = options.inlineHashBytes ?? INLINE_HASH_BYTES;
    this.progressIntervalMs =
      options.progressIntervalMs ?? (options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS) / 2;
    this.onEnd = options.onEnd;
    this.sign = (body) => signBytes(options.recordingKey.privateKey, checkpointSigningBytes(body));
    this.hash = initialHash(this.sessionId, this.keyId);
    this.writtenHash = this.hash;
    this.bytes = options.headerBytes;
    this.headerBytes = options.headerBytes;
    this.failed = new Promise((resolve) => {
      this.resolveFailed = resolve;
    });
    this.timer = setInterval(
      () => this.tick(),
      options.checkpointIntervalMs ?? CHECKPOINT_INTERVAL_MS,
    );
    // A recording never keeps the process alive; the session that owns it does.
    this.timer.unref?.();
  }

  append(channel: number, kind: EventKind, data: Uint8Array): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) {
      return Promise.reject(
        new RecorderFailure(
          `The recording of session ${this.sessionId} has ended; nothing more can be recorded or forwarded.`,
        ),
      );
    }
    if (!Number.isInteger(channel) || channel < 0 || channel > 0xffff) {
      return Promise.reject(new RangeError(`channel ${channel} is not a u16`));
    }
    if (!KIND_CODES.has(kind)) return Promise.reject(new Error(`unknown event kind '${kind}'`));
    const done = new Promise<void>((resolve, reject) => {
      const time = this.clock.now();
      let offset = 0;
      do {
        const piece = data.subarray(offset, offset + MAX_FRAME_DATA_BYTES);
        offset += piece.length;
        this.enqueueFrame(
          channel,
          kind,
          time,
          piece,
          offset >= data.length ? { resolve, reject } : undefined,
        );
      } while (offset < data.length);
    });
    void this.kick();
    return done;
  }

  appendJson(channel: number, kind: EventKind, value: unknown): Promise<void> {
    return this.append(channel, kind, Buffer.from(JSON.stringify(value) ?? 'null', 'utf8'));
  }

  close(): Promise<void> {
    this.closeDone ??= this.finishClose();
    return this.closeDone;
  }

  // --- encoding

  private enqueueFrame(
    channel: number,
    kind: EventKind,
    time: number,
    data: Uint8Array,
    waiter: Waiter | undefined,
  ): void {
    const seq = this.seq + 1;
    const head = encodeFrameRecordHead({ seq, time, channel, kind }, data.length);
    this.seq = seq;
    if (this.observer) this.observeSafely((o) => o.frame({ seq, time, channel, kind, data }));
    const frame: PendingFrame = {
      head,
      data,
      seq,
      time,
      hash: undefined,
      dataBytes: data.length,
      waiter,
    };
    this.pending.push(frame);
    this.unhashed.push(frame);
    if (!this.hashFlushQueued) {
      this.hashFlushQueued = true;
      // Queued before the drain loop's microtask (kick), so a turn's frames are hashed, or
      // on their way to the worker, by the time the loop looks at them.
      queueMicrotask(() => this.flushHashing());
    }
  }

  // --- the chain

  /**
   * Hashes the frames appended this turn: inline when they are few and small and nothing is
   * on the lane (a keystroke, a prompt), else on the lane's worker, continuing its chain.
   */
  private flushHashing(): void {
    this.hashFlushQueued = false;
    const frames = this.unhashed;
    if (frames.length === 0 || this.failure) return;
    this.unhashed = [];
    if (this.hashing.length === 0) {
      let bytes = 0;
      for (const frame of frames) bytes += frame.dataBytes;
      if (bytes < this.inlineHashBytes) {
        this.hashInline(frames);
        return;
      }
    }
    // A lane (and its worker) only for sessions that move bulk: most sessions never need one.
    this.lane ??= this.hashPool?.lane();
    const lane = this.lane;
    if (lane === undefined) {
      this.hashInline(frames);
      return;
    }
    // The worker failed or answered nonsense: the frames are still here, so hash them on this
    // thread, in order from the last known hash, and do so for the rest of the session.
    const fallBack = (error: unknown) => {
      lane.release();
      this.lane = undefined;
      this.hashPool = undefined;
      this.log.warn('hashing this recording on the main thread from now on', {
        sessionId: this.sessionId,
        error: describeError(error),
      });
      const outstanding = this.hashing;
      this.hashing = [];
      this.hashInline(outstanding);
    };
    const seed = this.hashing.length === 0 ? this.hash : null;
    for (const frame of frames) this.hashing.push(frame);
    lane
      .hash(
        seed,
        frames.map((frame) => ({ header: frame.head.subarray(5), data: frame.data })),
      )
      .then(
        (hashes) => {
          if (this.lane !== lane || this.failure) return;
          if (hashes.length !== frames.length * HASH_BYTES || this.hashing[0] !== frames[0]) {
            fallBack(
              new Error(
                `the hashing worker answered ${hashes.length} bytes for ${frames.length} frames`,
              ),
            );
            return;
          }
          frames.forEach((frame, i) => {
            frame.hash = hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
          });
          this.hash = frames[frames.length - 1]?.hash ?? this.hash;
          // The lane answers in order: these are the oldest frames still being hashed.
          this.hashing.splice(0, frames.length);
          this.wakeUp?.();
        },
        (error: unknown) => {
          if (this.lane !== lane || this.failure) return;
          fallBack(error);
        },
      );
  }

  private hashInline(frames: readonly PendingFrame[]): void {
    let hash = this.hash;
    for (const frame of frames) {
      hash = chainHashParts(hash, frame.head.subarray(5), frame.data);
      frame.hash = hash;
    }
    this.hash = hash;
    this.wakeUp?.(); // a drain loop waiting for these can write them now
  }

  /** The chain is finished (closed or failed): the lane's worker may forget it. */
  private releaseLane(): void {
    this.lane?.release();
    this.lane = undefined;
  }

  // --- the serial write queue

  /** Starts the drain loop unless it runs; resolves when the queue is empty (or failed). */
  private kick(): Promise<void> {
    if (!this.draining) {
      this.draining = true;
      // One microtask later, not now: a proxy appends every event of a socket chunk in one
      // synchronous pass (a query's RowDescription, DataRows and CommandComplete), and they
      // should go to the sink as one write, not as the first event alone and then the rest.
      // The appends still resolve before the proxy's await on them returns.
      this.drainDone = Promise.resolve().then(() => this.drain());
    } else {
      this.wakeUp?.();
    }
    return this.drainDone;
  }

  /**
   * The write loop. A checkpoint is made in two steps so that its fsync does not hold up the
   * frames after it: `startCheckpoint` takes the chain state of what is written and starts the
   * sync; frames appended meanwhile go on being written (each append still resolves only once
   * its frames are written); once the sync is done the checkpoint record is written next. It
   * then lags behind those frames, which the format allows (FORMAT.md §3), and never vouches
   * for a frame the sync did not cover.
   */
  private async drain(): Promise<void> {
    try {
      while (this.failure === undefined) {
        if (this.syncing?.settled) {
          await this.finishCheckpoint(this.syncing);
          continue;
        }
        if (
          this.syncing === undefined &&
          this.writtenSeq > this.checkpointSeq &&
          (this.checkpointRequested || this.dataSinceCheckpoint >= this.checkpointBytes)
        ) {
          this.startCheckpoint(); // before writing more: it covers exactly what is written
          continue;
        }
        // While a sync runs, frames go on being written up to the next checkpoint boundary;
        // past it they wait, so checkpoints still come every checkpointBytes of data.
        const room = this.dataSinceCheckpoint < this.checkpointBytes;
        const hashed = this.pending[0]?.hash !== undefined;
        if (hashed && (this.syncing === undefined || room)) {
          await this.writeBatch();
          continue;
        }
        if (this.syncing || this.pending.length > 0) {
          // A sync to finish, or frames still being hashed: wait for either, or an append.
          await this.waitForWakeUp();
          continue;
        }
        this.checkpointRequested = false;
        break;
      }
    } catch (error) {
      this.fail(error);
    } finally {
      // Synchronously with the loop's last check, so an append arriving later starts a new one.
      this.draining = false;
      this.wakeUp = undefined;
    }
  }

  /**
   * Until something the loop waits for happens: a sync settles, hashes come back, a frame is
   * appended. The loop checks its state synchronously before waiting, so anything later
   * reaches it through `wakeUp`; a wake-up that changes nothing just loops back here.
   */
  private waitForWakeUp(): Promise<void> {
    return new Promise((resolve) => {
      this.wakeUp = () => {
        this.wakeUp = undefined;
        resolve();
      };
    });
  }

  /** Signs a checkpoint of everything written so far and starts syncing those frames. */
  private startCheckpoint(): void {
    const body: CheckpointBody = {
      sessionId: this.sessionId,
      seq: this.writtenSeq,
      hash: this.writtenHash,
      time: this.clock.now(),
      final: false,
      keyId: this.keyId,
    };
    this.checkpointRequested = false;
    this.dataSinceCheckpoint = 0; // counts the frame data after this checkpoint's seq
    const synced = this.sink.sync(); // runs while the checkpoint is signed
    const syncing: SyncingCheckpoint = {
      body,
      signature: this.sign(body),
      after: this.stretchStart(),
      settled: false,
      error: undefined,
    };
    this.syncing = syncing;
    synced.then(
      () => {
        syncing.settled = true;
        this.wakeUp?.();
      },
      (error: unknown) => {
        syncing.settled = true;
        syncing.error = error ?? new Error('sync failed');
        this.wakeUp?.();
      },
    );
  }

  /** The sync is done: writes the checkpoint record (fails closed if the sync failed). */
  private async finishCheckpoint(syncing: SyncingCheckpoint): Promise<void> {
    this.syncing = undefined;
    if (syncing.error !== undefined) throw syncing.error;
    await this.writeCheckpointRecord(syncing.body, syncing.signature, syncing.after);
  }

  /**
   * Taken when a checkpoint covers everything written: the stream ends with its last frame, or
   * with the previous checkpoint's record when that one lagged behind the frames (the stretch
   * after it must not start before that record: seekTable.ts). The same rule as
   * SeekTableScanner's, from what the recorder knows without reading anything back.
   */
  private stretchStart(): StretchStart {
    return { from: this.bytes, frameTime: this.writtenTime };
  }

  /** Writes pending frames up to the next checkpoint boundary as one sink write. */
  private async writeBatch(): Promise<void> {
    // A batch ends at the next checkpoint boundary, so the checkpoint covers its last frame.
    const room = Math.max(1, this.checkpointBytes - this.dataSinceCheckpoint);
    const pending = this.pending;
    const limit = Math.min(pending.length, MAX_BATCH_FRAMES);
    const chunks: Uint8Array[] = [];
    const waiters: Waiter[] = [];
    let count = 0;
    let bytes = 0;
    let dataBytes = 0;
    while (count < limit && dataBytes < room && bytes < MAX_BATCH_BYTES) {
      const frame = pending[count] as PendingFrame;
      if (frame.hash === undefined) break; // still being hashed: the next batch takes it
      chunks.push(frame.head);
      if (frame.data.length > 0) chunks.push(frame.data);
      chunks.push(frame.hash);
      bytes += FRAME_RECORD_HEAD_BYTES + frame.data.length + HASH_BYTES;
      dataBytes += frame.dataBytes;
      if (frame.waiter) waiters.push(frame.waiter);
      count += 1;
    }
    const last = pending[count - 1] as PendingFrame;
    this.pending = count === pending.length ? [] : pending.slice(count);
    this.inFlight = waiters;
    if (this.sink.writev) await this.sink.writev(chunks);
    else await this.sink.write(Buffer.concat(chunks, bytes));
    this.inFlight = [];
    this.bytes += bytes;
    this.writtenSeq = last.seq;
    this.writtenHash = last.hash as Buffer;
    this.writtenTime = last.time;
    if (this.firstFrameTime === 0) this.firstFrameTime = (pending[0] as PendingFrame).time;
    this.dataSinceCheckpoint += dataBytes;
    for (const waiter of waiters) waiter.resolve();
  }

  /** The final checkpoint: sync, then the record, nothing written in between. */
  private async writeCheckpoint(final: boolean): Promise<void> {
    const body: CheckpointBody = {
      sessionId: this.sessionId,
      seq: this.writtenSeq,
      hash: this.writtenHash,
      time: this.clock.now(),
      final,
      keyId: this.keyId,
    };
    this.checkpointRequested = false;
    const signature = this.sign(body);
    const after = this.stretchStart();
    await this.sink.sync(); // the frames it covers are durable before the checkpoint exists
    await this.writeCheckpointRecord(body, signature, after);
  }

  private async writeCheckpointRecord(
    body: CheckpointBody,
    signature: Buffer,
    after: StretchStart,
  ): Promise<void> {
    const record = encodeCheckpointRecord({ ...body, signature });
    await this.sink.write(record);
    await this.sink.flush(); // a buffering sink must not sit on the newest checkpoint
    this.seekPoints.push({
      seq: body.seq,
      hash: Buffer.from(body.hash).toString('hex'),
      time: body.time,
      frameTime: body.seq === 0 ? body.time : after.frameTime,
      final: body.final,
      offset: this.bytes,
      end: this.bytes + record.length,
      from: body.seq === 0 ? this.headerBytes : after.from,
    });
    this.bytes += record.length;
    this.checkpointSeq = body.seq;
    this.checkpointAt = body.time;
    if (this.observer) this.observeSafely((o) => o.checkpoint(body.seq));
    this.progressDirty = true;
    this.maybeWriteProgress();
  }

  private tick(): void {
    if (this.failure || this.closing) return;
    if (this.pending.length > 0 || this.writtenSeq > this.checkpointSeq) {
      this.checkpointRequested = true;
      void this.kick();
    } else {
      this.maybeWriteProgress();
    }
  }

  // --- the store row

  private progress(): RecordingProgress {
    return {
      frames: this.writtenSeq,
      bytes: this.bytes,
      lastCheckpointSeq: this.checkpointSeq,
      lastCheckpointAt: this.checkpointAt,
    };
  }

  /** At most one progress write in flight, and one per progressIntervalMs; tick() catches up. */
  private maybeWriteProgress(): void {
    if (!this.progressDirty || this.progressWrite) return;
    const now = this.clock.now();
    if (now - this.lastProgressAt < this.progressIntervalMs) return;
    this.progressDirty = false;
    this.lastProgressAt = now;
    this.progressWrite = this.store
      .updateRecordingProgress(this.sessionId, this.progress())
      .then(
        () => {},
        (error: unknown) => {
          // The bytes are safe; only the listing lags. The next checkpoint tries again.
          this.progressDirty = true;
          this.log.warn('could not update recording progress', {
            sessionId: this.sessionId,
            error: describeError(error),
          });
        },
      )
      .finally(() => {
        this.progressWrite = undefined;
      });
  }

  // --- ending

  private async finishClose(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    await this.kick();
    this.releaseLane(); // the drain loop has written every frame: nothing is on the lane
    if (this.failure === undefined) {
      try {
        await this.writeCheckpoint(true);
        await this.sink.close();
        await this.storeSeekTable();
      } catch (error) {
        this.fail(error);
      }
    }
    if (this.failure !== undefined) {
      await this.failureRecorded;
      return;
    }
    await this.progressWrite;
    await this.endObserver();
    try {
      await this.store.finishRecording(this.sessionId, {
        status: 'complete',
        endedAt: this.clock.now(),
        progress: this.progress(),
      });
    } catch (error) {
      // The recording is complete and signed; only its row lags (recovery will call it
      // interrupted, and verification will still find the final checkpoint).
      this.log.error('could not mark the recording complete', {
        sessionId: this.sessionId,
        error: describeError(error),
      });
    } finally {
      this.onEnd(this);
    }
  }

  /**
   * The complete recording's seek table, as noted while writing (issue #16), stored before the
   * row says complete so the API never scans the recording for it. Recordings that end any
   * other way get theirs from a scan of what was stored, on the first request.
   */
  private async storeSeekTable(): Promise<void> {
    if (!this.store.putSeekTable) return;
    const table: SeekTable = {
      sessionId: this.sessionId,
      headerBytes: this.headerBytes,
      bytes: this.bytes,
      firstFrameTime: this.firstFrameTime,
      lastFrameTime: this.writtenTime,
      frames: this.writtenSeq,
      points: this.seekPoints,
    };
    try {
      await this.store.putSeekTable(this.sessionId, table);
    } catch (error) {
      // The recording is whole; its table is rebuilt from the bytes when first asked for.
      this.log.warn('could not store the seek table of a recording', {
        sessionId: this.sessionId,
        error: describeError(error),
      });
    }
  }

  /** Runs an observer call; an observer that throws is dropped, the recording goes on. */
  private observeSafely(call: (observer: FrameObserver) => void): void {
    const observer = this.observer;
    if (!observer) return;
    try {
      call(observer);
    } catch (error) {
      this.observer = undefined;
      this.log.warn('a recording observer failed; recording goes on without it', {
        sessionId: this.sessionId,
        error: describeError(error),
      });
    }
  }

  private async endObserver(): Promise<void> {
    const observer = this.observer;
    this.observer = undefined;
    try {
      await observer?.end();
    } catch (error) {
      this.log.warn('a recording observer failed at the end', {
        sessionId: this.sessionId,
        error: describeError(error),
      });
    }
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    const reason = describeError(error);
    const failure = new RecorderFailure(
      `The recording could not be saved (${errorKind(this.storageKind)}: ${reason}); the session was closed so nothing unrecorded is forwarded.`,
      { cause: error },
    );
    this.failure = failure;
    this.closing = true;
    clearInterval(this.timer);
    const waiters = [
      ...this.inFlight,
      ...this.pending.flatMap((frame) => (frame.waiter ? [frame.waiter] : [])),
    ];
    this.inFlight = [];
    this.pending = [];
    this.unhashed = [];
    this.hashing = [];
    this.releaseLane();
    for (const waiter of waiters) waiter.reject(failure);
    this.resolveFailed(failure);
    this.log.error('recording failed; the session must end', {
      sessionId: this.sessionId,
      error: reason,
    });
    const endedAt = this.clock.now();
    this.failureRecorded = (async () => {
      await this.sink.close().catch(() => {});
      await this.progressWrite;
      await this.endObserver();
      await this.store
        .finishRecording(this.sessionId, {
          status: 'failed',
          endedAt,
          failureReason: reason,
          progress: this.progress(),
        })
        .catch((storeError: unknown) =>
          this.log.error('could not mark the recording failed', {
            sessionId: this.sessionId,
            error: describeError(storeError),
          }),
        );
      this.onEnd(this);
    })();
  }
}

function errorKind(storage: RecordingStorageKind): string {
  return storage === 'segments' ? 'disk error' : 'database error';
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
