/**
 * Verifies, indexes and writes recording downloads on a worker thread (verifyWorker.ts). A
 * first open of a 100 MiB recording spent as long hashing and parsing as it did receiving; on
 * one thread the two add up, on two they overlap (measured by `npm run bench:replay`, cold
 * opens). The worker also writes the file: the main thread only receives and batches.
 *
 * One worker serves every download; it is started ahead of the first open (`warmUp`), since
 * loading it costs more than verifying a small recording. Chunks are sent in batches of
 * BATCH_BYTES (a message per 16 KiB TLS record would cost more than it saves). If the worker
 * cannot start, the app says so in its log and verifies on the main thread from then on:
 * slower, never wrong. If it dies in the middle of a download, the job fails with
 * VerifierWorkerLostError and the download is started again on the main thread
 * (recordingCache.ts): what the worker had not yet written is gone with it. A job the worker
 * itself cannot go on with (its file cannot be written) fails with that error: it would fail
 * the same way here.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { outsideAsar } from '../asarPaths.ts';
import {
  type VerificationJob,
  type VerificationOutcome,
  verifyToFileInThread,
} from './verificationJob.ts';
import type { FromVerifyWorker, ToVerifyWorker } from './verifyWorkerProtocol.ts';

const BATCH_BYTES = 512 * 1024;
/** Bytes sent to the worker and not yet verified before the download waits for it. */
const MAX_UNVERIFIED_BYTES = 8 * 1024 * 1024;
/** Batch buffers kept for reuse while downloads run: as many as can be out at once. */
const MAX_SPARE_BUFFERS = MAX_UNVERIFIED_BYTES / BATCH_BYTES + 2;

/** The worker went away in the middle of a job: start the job again on the main thread. */
export class VerifierWorkerLostError extends Error {}

export class BackgroundVerifier {
  private worker: Worker | null = null;
  private unusable = false;
  private nextJob = 1;
  private readonly pending = new Map<
    number,
    {
      resolve(outcome: VerificationOutcome): void;
      reject(error: Error): void;
      failed(): void;
      verified(bytes: number, buffer: ArrayBuffer): void;
    }
  >();

  /** Batch buffers the worker gave back, to fill again instead of allocating. */
  private readonly spareBuffers: ArrayBuffer[] = [];
  private readonly spawn: () => Worker;
  private readonly batchBytes: number;

  constructor(
    private readonly log: (line: string) => void,
    options: { spawn?: () => Worker; batchBytes?: number } = {},
  ) {
    this.spawn = options.spawn ?? spawnVerifyWorker;
    this.batchBytes = options.batchBytes ?? BATCH_BYTES;
  }

  /** Starts the worker now, so the first open does not wait for it to load. */
  warmUp(): void {
    this.ensureWorker();
  }

  /**
   * Verifies against `publicKeyPem` (the recording must be `sessionId`'s) and writes the
   * download to `file`.
   */
  async start(publicKeyPem: string, sessionId: string, file: string): Promise<VerificationJob> {
    const worker = this.ensureWorker();
    if (worker === null) return verifyToFileInThread(publicKeyPem, sessionId, file);
    const job = this.nextJob++;
    const batchLimit = this.batchBytes;
    let failed = false;
    let batch: Uint8Array[] = [];
    let batchBytes = 0;
    let settled = false;
    /** The worker went away: the download stops (and is started again on the main thread). */
    let lost = false;
    /** Sent to the worker, not yet verified; the download waits above MAX_UNVERIFIED_BYTES. */
    let unverified = 0;
    let waiting: { promise: Promise<void>; resolve(): void } | null = null;
    const release = () => {
      waiting?.resolve();
      waiting = null;
    };
    const post = (message: ToVerifyWorker, transfer: ArrayBuffer[] = []) =>
      worker.postMessage(message, transfer);
    const sendBatch = () => {
      if (lost) {
        batch = [];
        batchBytes = 0;
      }
      if (batchBytes === 0) return;
      const buffer = batchBytes <= batchLimit ? this.batchBuffer() : new ArrayBuffer(batchBytes);
      const joined = new Uint8Array(buffer, 0, batchBytes);
      let at = 0;
      for (const piece of batch) {
        joined.set(piece, at);
        at += piece.length;
      }
      unverified += batchBytes;
      post({ type: 'chunk', job, chunk: buffer, bytes: batchBytes }, [buffer]);
      batch = [];
      batchBytes = 0;
    };
    const outcome = new Promise<VerificationOutcome>((resolve, reject) => {
      this.pending.set(job, {
        resolve,
        reject,
        failed: () => {
          failed = true;
          release();
        },
        verified: (bytes, buffer) => {
          this.keepBatchBuffer(buffer);
          unverified -= bytes;
          if (unverified <= MAX_UNVERIFIED_BYTES / 2) release();
        },
      });
    });
    // However the job ends (verdict, lost worker), nobody may stay waiting to push.
    outcome.then(release, () => {
      lost = true;
      release();
    });
    // Rejections surface through finish(); an abandoned job must not warn as unhandled.
    outcome.catch(() => {});
    post({ type: 'start', job, publicKeyPem, sessionId, file });
    return {
      push(chunk) {
        // Gone with the worker: the download stops, and is started again on the main thread.
        if (lost) return false;
        // A batch fits its buffer: send what is queued first if this chunk would overflow it.
        if (batchBytes + chunk.length > batchLimit) sendBatch();
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= batchLimit) sendBatch();
        // Failed verification: this chunk is still written (a failed recording is kept as far as
        // it was received), and nothing more is read.
        return !failed;
      },
      ready() {
        if (failed || settled || lost || unverified <= MAX_UNVERIFIED_BYTES) return undefined;
        if (waiting === null) {
          let resolve!: () => void;
          const promise = new Promise<void>((r) => {
            resolve = r;
          });
          waiting = { promise, resolve };
        }
        return waiting.promise;
      },
      finish: () => {
        if (!settled) {
          settled = true;
          sendBatch();
          post({ type: 'finish', job });
        }
        return outcome;
      },
      cancel: () => {
        if (settled) return;
        settled = true;
        this.pending.delete(job);
        if (this.pending.size === 0) this.spareBuffers.length = 0;
        release();
        post({ type: 'cancel', job });
      },
    };
  }

  async dispose(): Promise<void> {
    const worker = this.worker;
    this.worker = null;
    this.unusable = true;
    this.rejectAll(new Error('the app is closing'));
    await worker?.terminate();
  }

  /** A buffer of `batchBytes` to fill and transfer: a spare one, or a new one. */
  private batchBuffer(): ArrayBuffer {
    // allocUnsafeSlow: its own ArrayBuffer (not Buffer's shared pool, which cannot be
    // transferred), not zero-filled — it is overwritten.
    return this.spareBuffers.pop() ?? Buffer.allocUnsafeSlow(this.batchBytes).buffer;
  }

  private keepBatchBuffer(buffer: ArrayBuffer): void {
    if (buffer.byteLength !== this.batchBytes) return;
    if (this.spareBuffers.length < MAX_SPARE_BUFFERS) this.spareBuffers.push(buffer);
  }

  private ensureWorker(): Worker | null {
    if (this.worker !== null || this.unusable) return this.worker;
    let worker: Worker;
    try {
      worker = this.spawn();
    } catch (error) {
      this.giveUp(`could not start the verification worker (${String(error)})`);
      return null;
    }
    // Idle, it must not keep the process alive.
    worker.unref();
    worker.on('message', (message: FromVerifyWorker) => this.onMessage(message));
    worker.on('error', (error) => this.lost(worker, `failed: ${error.message}`));
    worker.on('exit', (code) => this.lost(worker, `exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  private onMessage(message: FromVerifyWorker): void {
    const job = this.pending.get(message.job);
    if (job === undefined) return;
    if (message.type === 'failed') {
      job.failed();
      return;
    }
    if (message.type === 'verified') {
      job.verified(message.bytes, message.chunk);
      return;
    }
    this.pending.delete(message.job);
    // Idle, the app keeps no batch buffers (up to MAX_SPARE_BUFFERS × 512 KiB).
    if (this.pending.size === 0) this.spareBuffers.length = 0;
    if (message.type === 'done') job.resolve({ report: message.report, index: message.index });
    // Its file could not be written, or the pass threw: it would again on the main thread.
    else job.reject(new Error(`could not verify and save the recording: ${message.message}`));
  }

  private lost(worker: Worker, what: string): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.giveUp(`the verification worker ${what}`);
    this.rejectAll(new VerifierWorkerLostError(`the verification worker stopped: ${what}`));
  }

  private giveUp(why: string): void {
    this.unusable = true;
    this.log(`${why}; recordings are verified on the main thread from now on (slower)`);
  }

  private rejectAll(error: Error): void {
    for (const job of this.pending.values()) job.reject(error);
    this.pending.clear();
    this.spareBuffers.length = 0;
  }
}

/**
 * The worker script sits next to this module: verifyWorkerFromSource.mjs when running from
 * source (tsx, vitest — it registers tsx's loader, then loads verifyWorker.ts), verifyWorker.mjs
 * in the Electron bundle (scripts/build-electron.mjs builds it beside index.mjs). Packaged, it
 * is loaded from app.asar.unpacked (electron-builder.yml unpacks it): worker threads reading
 * from inside the asar archive depend on the Electron version.
 */
function spawnVerifyWorker(): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  if (fromSource) return new Worker(new URL('./verifyWorkerFromSource.mjs', import.meta.url));
  const script = fileURLToPath(new URL('./verifyWorker.mjs', import.meta.url));
  return new Worker(outsideAsar(script));
}
