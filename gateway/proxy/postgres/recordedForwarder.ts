/**
 * One direction of a PostgreSQL session's output: batches of whole messages, each written to
 * the sink only after the recorder has persisted what they carry (DESIGN.md "Record": nothing
 * unrecorded is forwarded), in the order they were produced.
 *
 * A batch is what one socket chunk turned into: its messages' bytes (mostly subarrays of that
 * chunk, so nothing is copied) and one promise for all the recorder appends it needed. The
 * appends of a chunk are issued together — the recorder's queue keeps their order and writes
 * them as one batch — so a chunk of 300 DataRows costs one wait, not 300.
 *
 * Back-pressure: the source (the socket on the other side) is paused while more than
 * `highWaterMark` bytes wait to be recorded or written, or while the sink's buffer is full
 * (write() returned false, until 'drain'). Pausing a socket stops reading it, so TCP flow
 * control reaches the peer: a 1,000,000-row result streams through in bounded memory.
 *
 * When a recording fails the forwarder stops for good: nothing after it is written.
 */
import type { Readable, Writable } from 'node:stream';

interface Batch {
  buffers: Buffer[];
  /** Bytes plus a per-message charge (see MESSAGE_OVERHEAD_BYTES). */
  cost: number;
  recorded: Promise<unknown> | undefined;
}

/**
 * What one message in flight costs beyond its bytes: the frame, its views and the recorder's
 * bookkeeping are a few hundred bytes of heap. A result of tiny rows (13 bytes each) would
 * otherwise let ~80,000 rows wait per MiB, and that heap, promoted while it waits for the
 * disk, is what makes memory grow — not the rows' bytes.
 */
export const MESSAGE_OVERHEAD_BYTES = 512;

export interface RecordedForwarderOptions {
  sink: Writable;
  /** Called once, when a batch's recording failed; the forwarder has stopped. */
  onRecordFailure: (error: unknown) => void;
  /** Bytes allowed to wait between arrival and write (default 256 KiB; see MESSAGE_OVERHEAD_BYTES). */
  highWaterMark?: number;
}

export class RecordedForwarder {
  private readonly queue: Batch[] = [];
  private running = false;
  private aborted = false;
  private waitingForDrain = false;
  private pausedSource = false;
  private inFlight = 0;
  private source: Readable | undefined;
  private idleWaiters: Array<() => void> = [];
  private roomWaiter: (() => void) | undefined;
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;
  /** Bytes written to the sink so far. */
  forwardedBytes = 0;

  constructor(private readonly options: RecordedForwarderOptions) {
    this.highWaterMark = options.highWaterMark ?? 256 * 1024;
    this.lowWaterMark = Math.floor(this.highWaterMark / 4);
  }

  /** The stream to pause while this forwarder is behind (the socket its data comes from). */
  setSource(source: Readable): void {
    this.source = source;
  }

  /**
   * Queues `buffers` to be written once `recorded` (if any) resolved and everything queued
   * before has been written.
   */
  send(buffers: Buffer[], recorded: Promise<unknown> | undefined, messages = buffers.length): void {
    if (this.aborted || buffers.length === 0) {
      // Nothing to write, but a failed append must still stop the session.
      recorded?.catch((error: unknown) => this.fail(error));
      return;
    }
    let cost = messages * MESSAGE_OVERHEAD_BYTES;
    for (const buffer of buffers) cost += buffer.length;
    if (!this.running && this.queue.length === 0 && recorded === undefined) {
      // Nothing to wait for: write now (ParseComplete, BindComplete, … after idle).
      if (!this.write(buffers)) void this.waitForDrain();
      return;
    }
    // Handled in order by run(); this only keeps a rejection from counting as unhandled.
    recorded?.catch(() => {});
    this.queue.push({ buffers, cost, recorded });
    this.inFlight += cost;
    this.updateFlow();
    if (!this.running) void this.run();
  }

  /** Stops: queued batches are dropped, the source is left paused. Idempotent. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.queue.length = 0;
    this.inFlight = 0;
    this.source?.pause();
    this.notifyIdle();
  }

  get isAborted(): boolean {
    return this.aborted;
  }

  /** Below the high-water mark and not waiting for a drain: more may be sent. */
  get hasRoom(): boolean {
    return !this.aborted && !this.waitingForDrain && this.inFlight < this.highWaterMark;
  }

  /** Calls `callback` once, when the forwarder has caught up (below its low-water mark). */
  whenRoom(callback: () => void): void {
    this.roomWaiter = callback;
  }

  /** Resolves once everything queued so far has been written (or dropped by abort). */
  idle(): Promise<void> {
    if (this.aborted || (!this.running && this.queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0 && !this.aborted) {
        const batch = this.queue[0]!;
        if (batch.recorded !== undefined) await batch.recorded;
        if (this.aborted) break;
        this.queue.shift();
        this.inFlight -= batch.cost;
        if (!this.write(batch.buffers)) await this.waitForDrain();
        this.updateFlow();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.running = false;
      if (this.queue.length === 0) this.notifyIdle();
    }
  }

  /** Writes in one go (one writev when corked); false when the sink wants a drain. */
  private write(buffers: Buffer[]): boolean {
    const sink = this.options.sink;
    if (sink.destroyed || sink.writableEnded) return true;
    if (buffers.length === 1) {
      this.forwardedBytes += buffers[0]!.length;
      return sink.write(buffers[0]);
    }
    sink.cork();
    for (const buffer of buffers) {
      this.forwardedBytes += buffer.length;
      sink.write(buffer);
    }
    sink.uncork();
    return !sink.writableNeedDrain;
  }

  private async waitForDrain(): Promise<void> {
    this.waitingForDrain = true;
    this.updateFlow();
    await drained(this.options.sink);
    this.waitingForDrain = false;
    this.updateFlow();
  }

  private fail(error: unknown): void {
    if (this.aborted) return;
    this.abort();
    this.options.onRecordFailure(error);
  }

  private updateFlow(): void {
    const source = this.source;
    if (this.aborted || source === undefined) return;
    if (this.waitingForDrain || this.inFlight >= this.highWaterMark) {
      if (!this.pausedSource) {
        this.pausedSource = true;
        source.pause();
      }
    } else if (this.inFlight <= this.lowWaterMark) {
      if (this.pausedSource) {
        this.pausedSource = false;
        source.resume();
      }
      const waiter = this.roomWaiter;
      if (waiter !== undefined) {
        this.roomWaiter = undefined;
        queueMicrotask(waiter);
      }
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Resolves on the sink's next 'drain' (or when it closes or fails, so nothing waits forever). */
function drained(sink: Writable): Promise<void> {
  if (sink.destroyed || !sink.writableNeedDrain) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      sink.off('drain', done);
      sink.off('close', done);
      sink.off('error', done);
      resolve();
    };
    sink.on('drain', done);
    sink.on('close', done);
    sink.on('error', done);
  });
}

/**
 * Collects what one incoming chunk turns into: the messages to forward and the recorder
 * appends they wait for. Consecutive messages that lie back to back in the same chunk are
 * forwarded as one view of it (no copy, one write).
 */
export class OutgoingBatch {
  private readonly buffers: Buffer[] = [];
  private readonly appends: Promise<void>[] = [];
  private run: Buffer | undefined;
  private runLength = 0;
  private messages = 0;

  /** Forwards bytes received (a frame's `raw`), joining them to the previous ones if adjacent. */
  forward(raw: Buffer): void {
    this.messages += 1;
    const run = this.run;
    if (
      run !== undefined &&
      raw.buffer === run.buffer &&
      raw.byteOffset === run.byteOffset + this.runLength
    ) {
      this.runLength += raw.length;
      return;
    }
    this.closeRun();
    this.run = raw;
    this.runLength = raw.length;
  }

  /** Adds bytes the gateway made (a masked DataRow, an ErrorResponse). */
  add(bytes: Buffer): void {
    this.messages += 1;
    this.closeRun();
    this.buffers.push(bytes);
  }

  record(append: Promise<void>): void {
    this.appends.push(append);
  }

  get isEmpty(): boolean {
    return this.run === undefined && this.buffers.length === 0 && this.appends.length === 0;
  }

  /** Sends everything collected to `forwarder`, after all the appends. */
  sendTo(forwarder: RecordedForwarder): void {
    this.closeRun();
    const appends = this.appends;
    const recorded =
      appends.length === 0 ? undefined : appends.length === 1 ? appends[0] : Promise.all(appends);
    forwarder.send(this.buffers, recorded, this.messages);
  }

  private closeRun(): void {
    const run = this.run;
    if (run === undefined) return;
    this.buffers.push(
      this.runLength === run.length ? run : Buffer.from(run.buffer, run.byteOffset, this.runLength),
    );
    this.run = undefined;
    this.runLength = 0;
  }
}
