/**
 * One recording's search text being derived, wherever that runs (the indexer's worker, or the
 * calling thread when there is no worker and when re-indexing): the deriver plus the entries
 * closed early because frames were skipped.
 *
 * A `gap` (frames the budget or a backlog left out) closes the output gathered so far, so an
 * entry never joins text from both sides of what is missing.
 */
import type { RecordingTextEntry } from '../store/store.ts';
import {
  type DerivableFrame,
  RecordingTextDeriver,
  type RecordingTextDeriverOptions,
} from './recordingTextDeriver.ts';

export class SessionDerivation {
  private readonly deriver: RecordingTextDeriver;
  private closedEarly: RecordingTextEntry[] = [];
  private afterGap = false;

  constructor(sessionId: string, options: RecordingTextDeriverOptions = {}) {
    this.deriver = new RecordingTextDeriver(sessionId, options);
  }

  frame(frame: DerivableFrame): void {
    if (this.afterGap) {
      this.afterGap = false;
      for (const entry of this.deriver.take({ flush: true })) this.closedEarly.push(entry);
    }
    this.deriver.frame(frame);
  }

  /** Frames were left out here. */
  gap(): void {
    this.afterGap = true;
  }

  take(options: { flush: boolean }): RecordingTextEntry[] {
    const entries = this.deriver.take(options);
    if (this.closedEarly.length === 0) return entries;
    const all = this.closedEarly.concat(entries);
    this.closedEarly = [];
    return all;
  }
}
