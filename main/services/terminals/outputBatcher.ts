/**
 * Terminal output on its way to the renderer: decoded as UTF-8 with streaming decoders (a
 * character split across two SSH packets is held back until its last byte arrives, never
 * turned into U+FFFD), gathered into batches (one IPC message per `flushIntervalMs` or
 * `maxBatchBytes`, not one per packet), and metered: the renderer acks the bytes it has
 * painted, and while more than `highWaterBytes` are unacknowledged the source is paused until
 * acks bring it under `lowWaterBytes` (DESIGN.md "Desktop": a `cat` of a huge file cannot
 * freeze the UI). Nothing is dropped or reordered — pausing only stops reading.
 *
 * No I/O here: the owner passes `emit`, `pause` and `resume`, so the rules are unit-testable.
 */
import { StringDecoder } from 'node:string_decoder';

export interface OutputFlowOptions {
  /** A batch goes out this long after its first byte arrived (default 8 ms). */
  flushIntervalMs?: number;
  /** …or as soon as it holds this many bytes (default 64 KiB). */
  maxBatchBytes?: number;
  /** Pause the source when this many bytes are unacknowledged (default 256 KiB). */
  highWaterBytes?: number;
  /** Resume it when acks bring the unacknowledged bytes down to this (default 128 KiB). */
  lowWaterBytes?: number;
}

export interface OutputBatcherSinks {
  /** One batch: the text and the raw byte count it stands for (what the renderer acks). */
  emit(data: string, bytes: number): void;
  pause(): void;
  resume(): void;
}

export type OutputStream = 'stdout' | 'stderr';

/**
 * Unacked bytes are output the user sees late: everything unacked is queued ahead of the echo
 * of the next key (issue #5; it was 1 MiB). The renderer parses ~2-5 MB/s, so 256 KiB is
 * ~50-120 ms of painting: four 64 KiB batches, and the channel resumes once two are acked, so
 * the renderer still has two to parse (tens of ms) while the ack travels to main and the next
 * batch comes back. 128/64 KiB measured ~1/3 slower in bench:desktop on a loaded machine: the
 * one batch left did not cover that round trip. The channel's own buffer
 * (gatewayShell.ts TERMINAL_RECEIVE_WINDOW) refills main at once on resume.
 */
export const DEFAULT_OUTPUT_FLOW: Required<OutputFlowOptions> = {
  flushIntervalMs: 8,
  maxBatchBytes: 64 * 1024,
  highWaterBytes: 256 * 1024,
  lowWaterBytes: 128 * 1024,
};

export class OutputBatcher {
  private readonly options: Required<OutputFlowOptions>;
  // stdout and stderr are separate byte streams: each needs its own decoder state.
  private readonly decoders: Record<OutputStream, StringDecoder> = {
    stdout: new StringDecoder('utf8'),
    stderr: new StringDecoder('utf8'),
  };
  private pendingText: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private unacked = 0;
  private paused = false;
  private finished = false;

  constructor(
    private readonly sinks: OutputBatcherSinks,
    options: OutputFlowOptions = {},
  ) {
    this.options = { ...DEFAULT_OUTPUT_FLOW, ...stripUndefined(options) };
    if (this.options.lowWaterBytes > this.options.highWaterBytes) {
      throw new Error('lowWaterBytes must not exceed highWaterBytes');
    }
  }

  /** Bytes sent to the renderer and not acknowledged yet. */
  get unackedBytes(): number {
    return this.unacked;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  push(stream: OutputStream, chunk: Buffer): void {
    if (this.finished) return;
    const text = this.decoders[stream].write(chunk);
    if (text.length > 0) this.pendingText.push(text);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.options.maxBatchBytes) {
      this.flush();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.options.flushIntervalMs);
    }
  }

  /** The renderer painted `bytes` more bytes. */
  ack(bytes: number): void {
    this.unacked = Math.max(0, this.unacked - bytes);
    if (this.paused && this.unacked <= this.options.lowWaterBytes) {
      this.paused = false;
      this.sinks.resume();
    }
  }

  /** Sends what is pending now. */
  flush(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    // Bytes of a character still incomplete have no text yet: they travel with the next batch,
    // so every batch the renderer acks stands for text it actually received.
    if (this.pendingText.length === 0) return;
    const data = this.pendingText.length === 1 ? this.pendingText[0]! : this.pendingText.join('');
    const bytes = this.pendingBytes;
    this.pendingText = [];
    this.pendingBytes = 0;
    this.unacked += bytes;
    this.sinks.emit(data, bytes);
    if (!this.paused && !this.finished && this.unacked >= this.options.highWaterBytes) {
      this.paused = true;
      this.sinks.pause();
    }
  }

  /**
   * The output is over: an incomplete trailing character becomes U+FFFD (as any terminal
   * shows it), the last batch goes out, and later pushes are ignored.
   */
  finish(): void {
    if (this.finished) return;
    for (const decoder of Object.values(this.decoders)) {
      const rest = decoder.end();
      if (rest.length > 0) this.pendingText.push(rest);
    }
    this.flush();
    this.finished = true;
  }

  /** Drops whatever is pending (the user closed the terminal; nobody will read it). */
  discard(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.pendingText = [];
    this.pendingBytes = 0;
    this.finished = true;
  }
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
