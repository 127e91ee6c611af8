/**
 * SHA-256 chain hashing off the gateway's event loop (issue #3).
 *
 * Every frame's chain hash is SHA-256(previous hash ‖ frame header ‖ data) (FORMAT.md §2). In a
 * bulk transfer that is about a fifth of the event loop's work — the loop that also decrypts,
 * re-encrypts and forwards every session's bytes — so one busy session slows all the others.
 * The pool hashes bulk frames on worker threads instead. A chain is sequential, so each
 * session gets one *lane*, bound to one worker, that keeps the chain's last hash between
 * batches; sessions spread over the workers.
 *
 * The recorder decides what goes here (small frames are cheaper to hash inline than to post)
 * and keeps every frame's bytes until they are written, so when a worker fails it hashes the
 * lane's outstanding frames itself: the pool only ever makes hashing faster, never changes
 * what is hashed or whether a recording survives.
 *
 * The worker is a few lines of plain JavaScript run with `eval`, so it loads the same way from
 * source (tsx), from a bundle, and from inside an asar archive — no file to resolve.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { HASH_BYTES } from '../../shared/recording/recordingFormat.ts';
import { type Logger, silentLogger } from '../logger.ts';

/** One frame to hash: the frame header as it is hashed (the record head without 'F' | u32) and its data. */
export interface FrameToHash {
  header: Uint8Array;
  data: Uint8Array;
}

/**
 * The worker. Messages: `{id, lane, seed, buffer, sizes}` hashes the frames laid out in `buffer`
 * as `[32 bytes of room ‖ header ‖ data]` each (`sizes` = header and data length per frame),
 * starting from `seed` or, when it is null, from the lane's last hash; it writes the previous
 * hash into each frame's room and hashes the region in one call — no copy, no Hash object per
 * frame. It answers `{id, hashes}` (32 bytes per frame) or `{id, error}`. `{release}` forgets a lane.
 */
const WORKER_SOURCE = `
// import(), not require: an eval'd worker runs as an ES module when the process was started
// with --input-type=module, and as CommonJS otherwise; import() works in both.
Promise.all([import('node:worker_threads'), import('node:crypto')]).then(([threads, crypto]) => {
  const { parentPort } = threads;
  const { hash } = crypto;
  const lanes = new Map();
  parentPort.on('message', (message) => {
    if (message.release !== undefined) {
      lanes.delete(message.release);
      return;
    }
    const { id, lane, seed, buffer, sizes } = message;
    try {
      let previous = seed === null ? lanes.get(lane) : Buffer.from(seed);
      if (previous === undefined) throw new Error('lane ' + lane + ' has no chain to continue');
      const bytes = Buffer.from(buffer);
      const hashes = Buffer.allocUnsafeSlow((sizes.length / 2) * 32);
      let offset = 0;
      for (let i = 0; i < sizes.length; i += 2) {
        const end = offset + 32 + sizes[i] + sizes[i + 1];
        previous.copy(bytes, offset);
        previous = hash('sha256', bytes.subarray(offset, end), 'buffer');
        previous.copy(hashes, (i / 2) * 32);
        offset = end;
      }
      lanes.set(lane, previous);
      parentPort.postMessage({ id, hashes: hashes.buffer }, [hashes.buffer]);
    } catch (error) {
      parentPort.postMessage({ id, error: String(error && error.message ? error.message : error) });
    }
  });
});
`;

interface Reply {
  id: number;
  hashes?: ArrayBuffer;
  error?: string;
}

/** Hashes one chain on one worker, in order. */
export interface ChainHashLane {
  /**
   * Hashes `frames` in order, continuing from `seed` (the hash before the first of them) or,
   * when `seed` is null, from where this lane's previous call left off. Resolves with the
   * frames' hashes, 32 bytes each, in order; rejects if the worker fails (the caller then
   * hashes those frames itself). The frames' bytes are copied before this returns.
   */
  hash(seed: Uint8Array | null, frames: readonly FrameToHash[]): Promise<Buffer>;
  /** The chain is finished: the worker forgets it. */
  release(): void;
}

export interface ChainHashPoolOptions {
  /** Worker threads (default: one per core beyond the first, at least one, at most four). */
  threads?: number;
  log?: Logger;
  /** Replaces the worker's source (tests: a worker that fails). */
  workerSource?: string;
}

export class ChainHashPool {
  private readonly workers: (HashWorker | undefined)[];
  private readonly log: Logger;
  private readonly source: string;
  private nextWorker = 0;
  private nextLane = 1;
  private closed = false;
  /** Workers that failed; past MAX_WORKER_FAILURES the pool stops starting new ones. */
  private failures = 0;

  constructor(options: ChainHashPoolOptions = {}) {
    const threads = options.threads ?? Math.min(4, Math.max(1, os.availableParallelism() - 1));
    this.workers = new Array(threads).fill(undefined);
    this.log = options.log ?? silentLogger;
    this.source = options.workerSource ?? WORKER_SOURCE;
  }

  /** A lane for a new chain, on the next worker in turn (started, or restarted, on demand). */
  lane(): ChainHashLane | undefined {
    if (this.closed || this.failures >= MAX_WORKER_FAILURES) return undefined;
    const index = this.nextWorker;
    this.nextWorker = (index + 1) % this.workers.length;
    let worker = this.workers[index];
    if (worker === undefined || worker.failure !== undefined) {
      try {
        worker = new HashWorker(this.source, (failure) => {
          this.failures += 1;
          this.log.warn('a chain-hashing worker failed; its sessions hash on the main thread', {
            error: failure.message,
            ...(this.failures >= MAX_WORKER_FAILURES && {
              consequence: `${this.failures} workers failed: new sessions hash on the main thread too`,
            }),
          });
        });
      } catch (error) {
        this.log.warn('could not start a chain-hashing worker; hashing on the main thread', {
          error: error instanceof Error ? error.message : String(error),
        });
        return undefined;
      }
      this.workers[index] = worker;
    }
    return worker.lane(this.nextLane++);
  }

  /** Stops the workers; lanes still open fail over to hashing on the caller's thread. */
  async close(): Promise<void> {
    this.closed = true;
    const workers = this.workers.splice(0);
    await Promise.all(workers.map((worker) => worker?.terminate()));
  }
}

/** A worker that keeps failing (a broken install) is not restarted for every new session. */
const MAX_WORKER_FAILURES = 3;

class HashWorker {
  failure: Error | undefined;
  private terminating = false;
  private readonly worker: Worker;
  private readonly waiting = new Map<
    number,
    { resolve(hashes: Buffer): void; reject(error: Error): void }
  >();
  private nextId = 1;

  constructor(source: string, onFailure: (failure: Error) => void) {
    this.worker = new Worker(source, { eval: true });
    this.worker.on('message', (reply: Reply) => {
      const waiter = this.waiting.get(reply.id);
      if (!waiter) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) this.worker.unref();
      if (reply.hashes) waiter.resolve(Buffer.from(reply.hashes));
      else waiter.reject(new Error(reply.error ?? 'the hashing worker sent no hashes'));
    });
    const fail = (failure: Error) => {
      if (this.failure) return;
      this.failure = failure;
      for (const waiter of this.waiting.values()) waiter.reject(failure);
      this.waiting.clear();
      if (!this.terminating) onFailure(failure); // a shutdown is not a failure to report
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) =>
      fail(new Error(`the hashing worker exited with code ${code}`)),
    );
    // Idle, the worker does not keep the process alive (the sessions do); with hashes owed it
    // does, so a shutdown that waits for a recording's last frames gets them. After the
    // listeners: adding a 'message' listener refs the worker again.
    this.worker.unref();
  }

  lane(id: number): ChainHashLane {
    return {
      hash: (seed, frames) => this.post(id, seed, frames),
      release: () => {
        if (this.failure === undefined) this.worker.postMessage({ release: id });
      },
    };
  }

  terminate(): Promise<number> {
    this.terminating = true;
    return this.worker.terminate();
  }

  private post(
    lane: number,
    seed: Uint8Array | null,
    frames: readonly FrameToHash[],
  ): Promise<Buffer> {
    if (this.failure) return Promise.reject(this.failure);
    let total = 0;
    for (const frame of frames) total += HASH_BYTES + frame.header.length + frame.data.length;
    // A buffer of its own (not from Node's pool), so it can be moved to the worker, not copied twice.
    const bytes = Buffer.allocUnsafeSlow(total);
    const sizes = new Array<number>(frames.length * 2);
    let offset = 0;
    frames.forEach((frame, i) => {
      offset += HASH_BYTES; // room for the previous hash, filled in by the worker
      bytes.set(frame.header, offset);
      offset += frame.header.length;
      bytes.set(frame.data, offset);
      offset += frame.data.length;
      sizes[i * 2] = frame.header.length;
      sizes[i * 2 + 1] = frame.data.length;
    });
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.worker.ref();
      const seedCopy = seed === null ? null : Uint8Array.from(seed).buffer;
      this.worker.postMessage({ id, lane, seed: seedCopy, buffer: bytes.buffer, sizes }, [
        bytes.buffer,
      ]);
    });
  }
}
