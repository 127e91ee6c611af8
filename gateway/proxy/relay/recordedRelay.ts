/**
 * The one recorded relay every protocol forwards through: one direction of a session, from a
 * source stream to a sink, recording what it forwards before it forwards it — the proxy's
 * core invariant (DESIGN.md "Record": no unrecorded byte is forwarded).
 *
 * Per socket read it makes one recorder append and one write, in arrival order:
 * - by default the read is forwarded as it is, so it is recorded as it is (SSH);
 * - with `translate`, a protocol turns the read into what it forwards (PostgreSQL: whole
 *   messages, masked rows, the gateway's own answers) and that is what is recorded — after
 *   masking, so a recording never holds a value the client was not shown. A translation may
 *   also record an event of its own between the bytes (`RelayBatch.recordBetween`: a
 *   blocked statement), which keeps its place in the recording.
 * The bytes of a read are written only after *their own* append resolved, in order; appends
 * are issued at once (the recorder's queue keeps their order and writes the appends of a turn
 * together), so a burst of reads costs one recording write, not one wait per read.
 *
 * Back-pressure: the source is paused while more than `highWaterMark` bytes wait to be
 * recorded or written, and while the sink's buffer is full (write() returned false, until
 * 'drain'). Pausing a socket stops reading it (TCP flow control reaches the peer); pausing an
 * ssh2 channel stops it from re-opening its SSH window. Memory is bounded by bytes, not by
 * messages: a read's messages are handled synchronously and only its bytes wait.
 *
 * Fail closed: when an append fails the relay stops for good, nothing after it is written,
 * and `onRecordFailure` is called once. A SIGKILL leaves whatever the recorder wrote: whole
 * records, the last checkpoint verifying a prefix (recorder.ts).
 */
import type { Readable, Writable } from 'node:stream';

export interface RecordedRelayOptions {
  source: Readable;
  sink: Writable;
  /** Persists bytes about to be forwarded; they are forwarded only after this resolves. */
  record: (bytes: Buffer) => Promise<void>;
  /** Called once if recording fails (the relay has stopped). */
  onRecordFailure: (error: unknown) => void;
  /**
   * Turns one read into what is forwarded (see RelayBatch). Without it a read is forwarded
   * and recorded as it is. It runs synchronously in arrival order; if it throws, what it
   * gathered before the throw is still recorded and forwarded and `onTranslateError` is told.
   */
  translate?: (chunk: Buffer, out: RelayBatch) => void;
  onTranslateError?: (error: unknown) => void;
  /** Bytes allowed in flight between arrival and write (default 4 MiB). */
  highWaterMark?: number;
  /**
   * Count bytes as in flight until the sink has *sent* them (its write callback: for an ssh2
   * channel, handed to the connection within the peer's window), not just until write() took
   * them. The sink's own buffer then falls under `highWaterMark` too — for terminals, where
   * every buffered byte delays the echo of a key. Bulk channels leave it off.
   */
  untilSent?: boolean;
}

export type RelayOutcome = 'ended' | 'aborted';

const DATA = 0;
const CONTROL = 1;
const END = 2;

interface QueuedData {
  type: typeof DATA;
  bytes: Buffer;
  recorded: Promise<unknown> | undefined;
}
interface QueuedControl {
  type: typeof CONTROL;
  recorded: Promise<unknown>;
  apply: () => void;
}
interface QueuedEnd {
  type: typeof END;
  recorded: undefined;
}
type Queued = QueuedData | QueuedControl | QueuedEnd;

export class RecordedRelay {
  /** Resolves when the source ended and everything was written, or when the relay aborted. */
  readonly done: Promise<RelayOutcome>;
  /** Bytes written to the sink so far. */
  forwardedBytes = 0;
  private resolveDone!: (outcome: RelayOutcome) => void;
  private readonly queue: Queued[] = [];
  private running = false;
  private aborted = false;
  private ended = false;
  /** stopReading() was called: the source is never resumed again. */
  private stopped = false;
  private waitingForDrain = false;
  private pausedSource = false;
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;
  private readonly batch: RelayBatch;

  constructor(private readonly options: RecordedRelayOptions) {
    this.highWaterMark = options.highWaterMark ?? 4 * 1024 * 1024;
    this.lowWaterMark = Math.floor(this.highWaterMark / 4);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    this.batch = new RelayBatch(options.record, (error) => this.fail(error));
    options.source.on('data', this.onData);
    options.source.once('end', this.onEnd);
    // The source may close without 'end' (a channel torn down): nothing more will come.
    options.source.once('close', this.onEnd);
  }

  get isAborted(): boolean {
    return this.aborted;
  }

  /** Stops forwarding now; what was not yet written is dropped (it may have been recorded). */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.queue.length = 0;
    this.inFlight = 0;
    this.options.source.off('data', this.onData);
    this.options.source.pause();
    this.resolveDone('aborted');
    this.notifyIdle();
  }

  /** Stops taking reads from the source (the session is ending); queued bytes still go out. */
  stopReading(): void {
    this.stopped = true;
    this.options.source.off('data', this.onData);
    this.options.source.pause();
  }

  /**
   * Bytes the gateway itself sends in this direction (a greeting, an answer in place of the
   * server's, a notice before closing): built like a read's, recorded, and written in order
   * with the relayed bytes.
   */
  inject(build: (out: RelayBatch) => void): void {
    if (this.aborted) return;
    const batch = this.batch;
    try {
      build(batch);
    } finally {
      this.enqueue(batch);
    }
  }

  /**
   * A control message that belongs between this relay's data (a window-change or signal after
   * the keys typed before it): recorded now, in order with the data, and applied once
   * everything before it has been written and sent.
   */
  control(record: () => Promise<void>, apply: () => void): void {
    if (this.aborted) return;
    const recorded = record();
    recorded.catch(() => {});
    this.queue.push({ type: CONTROL, recorded, apply });
    if (!this.running) void this.run();
  }

  /** Resolves once everything queued so far has been written (or dropped by abort). */
  idle(): Promise<void> {
    if (this.aborted || (!this.running && this.queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private readonly onData = (chunk: Buffer | string) => {
    if (this.aborted) return;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const translate = this.options.translate;
    if (translate === undefined) {
      this.push(bytes, this.options.record(bytes));
      return;
    }
    const batch = this.batch;
    let failure: unknown;
    let failed = false;
    try {
      translate(bytes, batch);
    } catch (error) {
      failed = true;
      failure = error;
    }
    this.enqueue(batch);
    if (failed) this.options.onTranslateError?.(failure);
  };

  private readonly onEnd = () => {
    if (this.ended) return;
    this.ended = true;
    if (this.aborted) return;
    this.queue.push({ type: END, recorded: undefined });
    if (!this.running) void this.run();
  };

  /** Records what `batch` gathered and queues it; resets the batch for the next read. */
  private enqueue(batch: RelayBatch): void {
    const bytes = batch.take();
    const recorded = batch.takeRecorded();
    if (bytes !== undefined) {
      this.push(bytes, recorded);
    } else if (recorded !== undefined) {
      // Nothing to write, but a failed append must still stop the relay.
      recorded.catch((error: unknown) => this.fail(error));
    }
  }

  private push(bytes: Buffer, recorded: Promise<unknown> | undefined): void {
    if (this.aborted) return;
    if (!this.running && this.queue.length === 0 && recorded === undefined) {
      // Nothing to wait for: write now.
      this.inFlight += bytes.length;
      this.write(bytes);
      this.updateFlow();
      if (this.waitingForDrain) void this.run();
      return;
    }
    // Handled in order by run(); this only keeps a rejection from counting as unhandled.
    recorded?.catch(() => {});
    this.queue.push({ type: DATA, bytes, recorded });
    this.inFlight += bytes.length;
    this.updateFlow();
    if (!this.running) void this.run();
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      if (this.waitingForDrain) await this.drain();
      while (this.queue.length > 0 && !this.aborted) {
        const item = this.queue[0]!;
        if (item.recorded !== undefined) await item.recorded;
        if (this.aborted) break;
        this.queue.shift();
        if (item.type === DATA) {
          this.write(item.bytes);
          if (this.waitingForDrain) await this.drain();
        } else if (item.type === CONTROL) {
          // ssh2 sends channel requests at once, while written data may wait for window.
          await flushed(this.options.sink);
          if (!this.aborted) item.apply();
        } else {
          this.resolveDone('ended');
        }
        this.updateFlow();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.running = false;
      if (this.queue.length === 0) this.notifyIdle();
    }
  }

  /** Writes one read's bytes; sets `waitingForDrain` when the sink's buffer is full. */
  private write(bytes: Buffer): void {
    const sink = this.options.sink;
    const length = bytes.length;
    if (sink.destroyed || sink.writableEnded) {
      // The other side went away; whoever closed it ends this relay too.
      this.inFlight -= length;
      return;
    }
    let ok: boolean;
    if (this.options.untilSent) {
      ok = sink.write(bytes, this.onSent(length));
    } else {
      ok = sink.write(bytes);
      this.inFlight -= length;
    }
    this.forwardedBytes += length;
    if (!ok) this.waitingForDrain = true;
  }

  private onSent(length: number): () => void {
    return () => {
      this.inFlight -= length;
      this.updateFlow();
    };
  }

  private async drain(): Promise<void> {
    this.updateFlow();
    await drained(this.options.sink);
    this.waitingForDrain = false;
  }

  private fail(error: unknown): void {
    if (this.aborted) return;
    this.abort();
    this.options.onRecordFailure(error);
  }

  private updateFlow(): void {
    if (this.aborted) return;
    const source = this.options.source;
    if (this.waitingForDrain || this.inFlight >= this.highWaterMark) {
      if (!this.pausedSource) {
        this.pausedSource = true;
        source.pause();
      }
    } else if (this.inFlight <= this.lowWaterMark && this.pausedSource && !this.stopped) {
      this.pausedSource = false;
      source.resume();
    }
  }

  private notifyIdle(): void {
    const waiters = this.idleWaiters;
    if (waiters.length === 0) return;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * What one read (or one injection) turns into: the bytes to forward — views of the read where
 * messages go out unchanged, joined when they lie back to back, so the common case is one
 * view of the whole read, no copy — and the appends that record them. Reused by its relay
 * from read to read.
 */
export class RelayBatch {
  private pieces: Buffer[] = [];
  /** pieces[0 … recorded) have been handed to the recorder already. */
  private recorded = 0;
  private run: Buffer | undefined;
  private runLength = 0;
  private last: Promise<unknown> | undefined;

  constructor(
    private readonly recordBytes: (bytes: Buffer) => Promise<void>,
    /** An append before the batch's last one failed (the last one then fails too). */
    private readonly onEarlierFailure: (error: unknown) => void,
  ) {}

  /** Forwards bytes received (a message's raw bytes), joined to the previous ones if adjacent. */
  forward(raw: Buffer): void {
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

  /** Forwards bytes the gateway made (a masked DataRow, an ErrorResponse). */
  add(bytes: Buffer): void {
    this.closeRun();
    this.pieces.push(bytes);
  }

  /**
   * Records an event of the gateway's own at this point: the bytes gathered so far are
   * recorded first (they will be forwarded with the rest), then `append` is issued, so the
   * recording keeps the order in which things happened.
   */
  recordBetween(append: () => Promise<void>): void {
    this.recordRest();
    this.setLast(append());
  }

  /**
   * The bytes to forward, all recorded by now (the rest is recorded in one append), or
   * undefined when there are none; the batch is empty afterwards.
   */
  take(): Buffer | undefined {
    this.recordRest();
    const pieces = this.pieces;
    if (pieces.length === 0) return undefined;
    const bytes = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    pieces.length = 0;
    this.recorded = 0;
    return bytes;
  }

  /** The promise of the batch's last append (it settles after every earlier one), if any. */
  takeRecorded(): Promise<unknown> | undefined {
    const last = this.last;
    this.last = undefined;
    return last;
  }

  /** Hands the pieces not yet recorded to the recorder, as one append. */
  private recordRest(): void {
    this.closeRun();
    const pieces = this.pieces;
    const from = this.recorded;
    if (from === pieces.length) return;
    let rest: Buffer;
    if (from === pieces.length - 1) {
      rest = pieces[from]!;
    } else {
      rest = Buffer.concat(from === 0 ? pieces : pieces.slice(from));
      pieces.length = from;
      pieces.push(rest);
    }
    this.recorded = pieces.length;
    this.setLast(this.recordBytes(rest));
  }

  private setLast(append: Promise<unknown>): void {
    this.last?.catch(this.onEarlierFailure);
    this.last = append;
  }

  private closeRun(): void {
    const run = this.run;
    if (run === undefined) return;
    this.pieces.push(
      this.runLength === run.length ? run : Buffer.from(run.buffer, run.byteOffset, this.runLength),
    );
    this.run = undefined;
    this.runLength = 0;
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

const EMPTY = Buffer.alloc(0);

/**
 * Resolves once everything written to `stream` so far has been handed on (for an ssh2 channel:
 * sent as SSH packets, or the channel is gone). Control messages that must follow the data —
 * exit-status, EOF — wait for this, because ssh2 sends them at once while data can still be
 * queued behind the peer's window.
 */
export function flushed(stream: Writable): Promise<void> {
  if (stream.destroyed || !stream.writable || stream.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('close', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('close', done);
    stream.on('error', done);
    // A zero-length write's callback runs after every earlier write has completed.
    stream.write(EMPTY, done);
  });
}
