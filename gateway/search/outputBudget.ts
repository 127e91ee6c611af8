/**
 * How much terminal output the search index takes in, as token buckets over the frames'
 * recorded times (DESIGN.md, "Search indexing off the event loop").
 *
 * Output at the speed a person reads it is indexed in full; a bulk stream (`cat` of a big log,
 * a build) is indexed for its first `burstBytes`, then at `bytesPerSecond`. Every indexed byte
 * ends up in a full-text insert on the gateway's event loop (the store is synchronous SQLite or
 * a PostgreSQL round trip), which measured 25–90 ms per MiB there: indexing a bulk stream in full
 * would cost the gateway several times what forwarding and recording it do. A frame is taken
 * whole while the bucket is positive (it may go negative), so text is never cut mid-frame.
 */

export interface OutputBudgetOptions {
  /** Bytes taken in at once before the rate applies. */
  burstBytes: number;
  /** Bytes per second the budget refills at. */
  bytesPerSecond: number;
}

/** Per session: a screenful a second is well under this; a `cat` of a 200 MB log is not. */
export const SESSION_OUTPUT_BUDGET: OutputBudgetOptions = {
  burstBytes: 1024 * 1024,
  bytesPerSecond: 32 * 1024,
};

/** For the whole gateway: bounds the index's share of the event loop however many sessions stream. */
export const GATEWAY_OUTPUT_BUDGET: OutputBudgetOptions = {
  burstBytes: 8 * 1024 * 1024,
  bytesPerSecond: 1024 * 1024,
};

export class OutputBudget {
  private tokens: number;
  private at: number | undefined;

  constructor(private readonly options: OutputBudgetOptions) {
    this.tokens = options.burstBytes;
  }

  /** Whether a frame of `bytes` at epoch ms `time` is indexed; if so it is charged. */
  take(bytes: number, time: number): boolean {
    this.refill(time);
    if (this.tokens <= 0) return false;
    this.tokens -= bytes;
    return true;
  }

  /** Whether `take` would say yes now, without charging (to check a second budget first). */
  allows(time: number): boolean {
    this.refill(time);
    return this.tokens > 0;
  }

  private refill(time: number): void {
    // Times come from the recorder's clock, which only moves forward; a step back refills nothing.
    if (this.at !== undefined && time > this.at) {
      const refill = ((time - this.at) / 1000) * this.options.bytesPerSecond;
      this.tokens = Math.min(this.options.burstBytes, this.tokens + refill);
    }
    if (this.at === undefined || time > this.at) this.at = time;
  }
}
