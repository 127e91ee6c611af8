/**
 * Search-text derivation on a worker thread, so the event loop that forwards every session's
 * bytes only copies a frame and moves on (DESIGN.md, "Search indexing off the event loop").
 *
 * The frames of every session arriving within a few ms go to the worker as one message:
 * their data copied once into a transferred buffer (the recorder's data belongs to the proxy
 * and is valid only during the observer's call), their numbers in another (frameBatch.ts). `take` asks for a session's entries; the
 * worker answers in order, so they include every frame posted before it.
 *
 * Loading follows chainHashPool.ts: the worker is a few lines of eval'd source (nothing to
 * resolve from a bundle or an asar). Unlike the hashing worker, what it runs is the deriver
 * itself, several modules shared with the rest of the gateway, so the bootstrap imports the
 * worker module by URL — through recordingTextWorkerFromSource.mjs, which registers tsx's
 * loader, when the gateway runs from TypeScript source (as the desktop's
 * verifyWorkerFromSource.mjs does).
 *
 * Bounded: when the worker is more than `maxBacklogBytes` behind (by the byte count it reports
 * with each answer), frames are left out and the derivation is told of the gap. A worker that
 * fails rejects what is owed and the caller derives inline from then on.
 */
import { Worker } from 'node:worker_threads';
import { type Logger, silentLogger } from '../logger.ts';
import type { RecordingTextEntry } from '../store/store.ts';
import { FrameBatchBuilder } from './frameBatch.ts';
import type { DerivableFrame, RecordingTextDeriverOptions } from './recordingTextDeriver.ts';
import type { FromTextWorker, ToTextWorker } from './recordingTextWorker.ts';

const WORKER_BOOTSTRAP = `
// import(), not require: an eval'd worker runs as an ES module when the process was started
// with --input-type=module, and as CommonJS otherwise; import() works in both.
import('node:worker_threads').then((threads) => import(threads.workerData.entry));
`;

/** A batch is posted this long after its first frame, or sooner once it holds this much. */
const MAX_BATCH_BYTES = 1024 * 1024;
/**
 * Not every turn: a PostgreSQL session sends the worker a frame per socket read, each
 * direction (the wire is expanded there), and a message per turn cost the proxy's loop a
 * postMessage and a wake-up per read. Entries are asked for at checkpoints (~1 s), and `take`
 * posts the batch first, so holding frames a few ms delays nothing anyone sees.
 */
const BATCH_INTERVAL_MS = 10;
const DEFAULT_MAX_BACKLOG_BYTES = 32 * 1024 * 1024;

export interface TextDerivationWorkerOptions {
  log?: Logger;
  /** Frame bytes the worker may be behind before frames are left out. */
  maxBacklogBytes?: number;
  /**
   * The SQLite store's file: the worker stores the entries itself over its own connection
   * and `take` resolves with none (DESIGN.md, "Search index written where it is derived").
   * Without it (PostgreSQL, an in-memory store) `take` hands the entries back to be stored.
   */
  indexFile?: string;
  /** Replaces the bootstrap (tests: a worker that fails). */
  workerSource?: string;
}

/** The worker derived the entries but could not store them (the worker itself is fine). */
export class IndexWriteError extends Error {
  override name = 'IndexWriteError';
}

export class TextDerivationWorker {
  private worker: Worker | undefined;
  private failure: Error | undefined;
  private readonly log: Logger;
  private readonly maxBacklogBytes: number;
  private readonly batch = new FrameBatchBuilder();
  private flushQueued = false;
  private posted = 0;
  private processed = 0;
  /** Sessions whose next posted frame follows frames left out. */
  private readonly gaps = new Set<string>();
  private nextId = 1;
  private readonly waiting = new Map<
    number,
    { resolve(entries: RecordingTextEntry[]): void; reject(error: Error): void }
  >();
  private closed = false;

  constructor(private readonly options: TextDerivationWorkerOptions = {}) {
    this.log = options.log ?? silentLogger;
    this.maxBacklogBytes = options.maxBacklogBytes ?? DEFAULT_MAX_BACKLOG_BYTES;
  }

  /** False once the worker failed or could not start: callers derive inline. */
  get usable(): boolean {
    return this.failure === undefined && !this.closed;
  }

  open(sessionId: string, options: RecordingTextDeriverOptions): boolean {
    return this.post({ open: sessionId, options });
  }

  /** Copies the frame into this turn's batch; false when the worker is unusable. */
  frame(sessionId: string, frame: DerivableFrame): boolean {
    if (!this.usable) return false;
    if (this.posted + this.batch.bytes - this.processed > this.maxBacklogBytes) {
      this.gaps.add(sessionId);
      return true;
    }
    this.batch.add(sessionId, frame, this.gaps.delete(sessionId));
    if (this.batch.bytes >= MAX_BATCH_BYTES) this.flush();
    else if (!this.flushQueued) {
      this.flushQueued = true;
      // Unref'd: shutdown takes every session's last entries, which posts the batch first.
      setTimeout(() => this.flush(), BATCH_INTERVAL_MS).unref();
    }
    return true;
  }

  /** Frames of this session were left out before its next one. */
  gap(sessionId: string): void {
    this.gaps.add(sessionId);
  }

  /** The session's entries so far (with `end`, its last ones: the worker forgets it). */
  take(
    sessionId: string,
    options: { flush: boolean; end: boolean },
  ): Promise<RecordingTextEntry[]> {
    this.flush();
    const id = this.nextId++;
    const answer = new Promise<RecordingTextEntry[]>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
    });
    if (!this.post({ take: sessionId, id, ...options })) {
      this.waiting.delete(id);
      return Promise.reject(this.failure ?? new Error('the search-text worker is closed'));
    }
    if (options.end) this.gaps.delete(sessionId);
    this.worker?.ref(); // answers owed: a shutdown that waits for them gets them
    return answer;
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.rejectAll(new Error('the search-text worker was stopped'));
    await worker?.terminate();
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.batch.empty) return;
    this.posted += this.batch.bytes;
    const { message, transfer } = this.batch.take();
    this.post({ frames: message }, transfer);
  }

  private post(message: ToTextWorker, transfer: ArrayBuffer[] = []): boolean {
    if (!this.usable) return false;
    const worker = this.worker ?? this.start();
    if (!worker) return false;
    worker.postMessage(message, transfer);
    return true;
  }

  private start(): Worker | undefined {
    try {
      // From source the entry registers tsx first; compiled, the module sits beside this one.
      const fromSource = import.meta.url.endsWith('.ts');
      const entry = new URL(
        fromSource ? './recordingTextWorkerFromSource.mjs' : './recordingTextWorker.js',
        import.meta.url,
      );
      const worker = new Worker(this.options.workerSource ?? WORKER_BOOTSTRAP, {
        eval: true,
        workerData: {
          entry: entry.href,
          ...(this.options.indexFile !== undefined && { indexFile: this.options.indexFile }),
        },
      });
      worker.on('message', (reply: FromTextWorker) => this.answer(reply));
      worker.on('error', (error) => this.fail(error));
      worker.on('exit', (code) =>
        this.fail(new Error(`the search-text worker exited with code ${code}`)),
      );
      // Idle, the worker does not keep the process alive; with answers owed it does.
      worker.unref();
      this.worker = worker;
      return worker;
    } catch (error) {
      this.fail(error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
  }

  private answer(reply: FromTextWorker): void {
    if ('error' in reply) {
      this.fail(new Error(`the search-text worker failed: ${reply.error}`));
      return;
    }
    this.processed = reply.processed;
    const waiter = this.waiting.get(reply.id);
    this.waiting.delete(reply.id);
    if (this.waiting.size === 0) this.worker?.unref();
    if (reply.writeError !== undefined) waiter?.reject(new IndexWriteError(reply.writeError));
    else waiter?.resolve(reply.entries);
  }

  private fail(error: Error): void {
    if (this.failure !== undefined || this.closed) return;
    this.failure = error;
    this.log.warn('the search-text worker failed; recordings are indexed on the main thread', {
      error: error.message,
    });
    const worker = this.worker;
    this.worker = undefined;
    this.batch.clear();
    this.rejectAll(error);
    void worker?.terminate();
  }

  private rejectAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}
