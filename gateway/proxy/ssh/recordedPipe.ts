/**
 * Moves bytes from one stream to another, recording each chunk before it is written — the
 * proxy's core invariant (DESIGN.md "Record": input is recorded before it is forwarded; no
 * unrecorded byte is forwarded).
 *
 * Chunks are handed to the recorder in arrival order as they arrive (so a recorder may batch
 * its writes), and each is written to the sink only after *its own* append resolved, in order.
 * Memory stays bounded: the source is paused while more than `highWaterMark` bytes wait to be
 * recorded or written, and while the sink's buffer is full (write() returned false, until
 * 'drain'). Pausing an ssh2 channel stops it from re-opening its SSH window, so the far end
 * stops sending — back-pressure reaches the peer.
 *
 * When an append fails the pipe stops for good: nothing after the failed chunk is written.
 */
import type { Readable, Writable } from 'node:stream';

export interface RecordedPipeOptions {
  source: Readable;
  sink: Writable;
  /** Persists a chunk; the chunk is forwarded only after this resolves. */
  record: (chunk: Buffer) => Promise<void>;
  /** Called once if recording fails (the pipe has stopped). */
  onRecordFailure: (error: unknown) => void;
  /** Bytes allowed in flight between arrival and write (default 4 MiB). */
  highWaterMark?: number;
  /**
   * Count a chunk as in flight until the sink has *sent* it (its write callback: for an ssh2
   * channel, handed to the connection within the peer's window), not just until write()
   * took it. The sink's own buffer (2 MiB for an ssh2 channel) then falls under
   * `highWaterMark` too — for terminals, where every buffered byte delays the echo of a key
   * (issue #5). Bulk channels leave it off: their sink buffer keeps the pipe full.
   */
  untilSent?: boolean;
}

export type PipeOutcome = 'ended' | 'aborted';

export class RecordedPipe {
  /** Resolves when the source ended and every chunk was written, or when the pipe aborted. */
  readonly done: Promise<PipeOutcome>;
  /** Bytes written to the sink so far. */
  forwardedBytes = 0;
  private resolveDone!: (outcome: PipeOutcome) => void;
  private tail: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private waitingForDrain = false;
  private aborted = false;
  private readonly highWaterMark: number;
  private readonly lowWaterMark: number;

  constructor(private readonly options: RecordedPipeOptions) {
    this.highWaterMark = options.highWaterMark ?? 4 * 1024 * 1024;
    this.lowWaterMark = Math.floor(this.highWaterMark / 4);
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    options.source.on('data', this.onData);
    options.source.once('end', this.onEnd);
    // The source may close without 'end' (a channel torn down): nothing more will come.
    options.source.once('close', this.onEnd);
  }

  /** Stops forwarding now; chunks not yet written are dropped (they may have been recorded). */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.options.source.off('data', this.onData);
    this.options.source.pause();
    this.resolveDone('aborted');
  }

  /**
   * A control message that belongs between this pipe's data (a window-change or signal after
   * the keys typed before it): recorded now, in order with the data, and applied once
   * everything before it has been written.
   */
  control(record: () => Promise<void>, apply: () => void): void {
    if (this.aborted) return;
    const recorded = record();
    recorded.catch(() => {});
    this.tail = this.tail
      .then(async () => {
        if (this.aborted) return;
        await recorded;
        // ssh2 sends channel requests at once, while written data may wait for window.
        await flushed(this.options.sink);
        if (!this.aborted) apply();
      })
      .catch((error: unknown) => this.fail(error));
  }

  private readonly onData = (chunk: Buffer | string) => {
    if (this.aborted) return;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.inFlight += bytes.length;
    this.updateFlow();
    const recorded = this.options.record(bytes);
    // Failure is handled in order, below; this only keeps it from being "unhandled" meanwhile.
    recorded.catch(() => {});
    this.tail = this.tail
      .then(() => this.forward(bytes, recorded))
      .catch((error: unknown) => this.fail(error));
  };

  private readonly onEnd = () => {
    this.tail = this.tail.then(() => {
      if (!this.aborted) this.resolveDone('ended');
    });
  };

  private async forward(chunk: Buffer, recorded: Promise<void>): Promise<void> {
    if (this.aborted) return;
    await recorded;
    if (this.aborted) return;
    const sink = this.options.sink;
    if (sink.destroyed || sink.writableEnded) {
      // The other side went away; whoever closed it ends this pipe too.
      this.inFlight -= chunk.length;
      return;
    }
    const length = chunk.length;
    const ok = this.options.untilSent
      ? sink.write(chunk, () => {
          this.inFlight -= length;
          this.updateFlow();
        })
      : sink.write(chunk);
    this.forwardedBytes += length;
    if (!this.options.untilSent) this.inFlight -= length;
    if (!ok) {
      this.waitingForDrain = true;
      this.updateFlow();
      await drained(sink);
      this.waitingForDrain = false;
    }
    this.updateFlow();
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
      if (!source.isPaused()) source.pause();
    } else if (this.inFlight <= this.lowWaterMark && source.isPaused()) {
      source.resume();
    }
  }
}

/** Resolves on the sink's next 'drain' (or when it closes or fails, so nothing waits forever). */
function drained(sink: Writable): Promise<void> {
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
