/**
 * One recording's search text being derived, wherever that runs (the indexer's worker, or the
 * calling thread when there is no worker and when re-indexing): the deriver plus the entries
 * closed early because frames were skipped.
 *
 * A `gap` (frames the budget or a backlog left out) closes the output gathered so far, so an
 * entry never joins text from both sides of what is missing.
 *
 * A PostgreSQL session recorded as wire (FORMAT.md §5.3) is expanded here, not where frames
 * are recorded: its `p` / `P` frames become the `q`, `E` and `N` events they carry
 * (postgresWireFrames.ts), so the proxy's event loop only copies the bytes to the worker.
 */
import type { PostgresWireEvents } from '../../shared/recording/postgresWire.ts';
import { isPostgresWire } from '../../shared/recording/postgresWire.ts';
import type { EventKind } from '../../shared/recording/recordingFormat.ts';
import type { RecordingTextEntry } from '../store/store.ts';
import { searchedWireEvents } from './postgresWireFrames.ts';
import {
  type DerivableFrame,
  RecordingTextDeriver,
  type RecordingTextDeriverOptions,
} from './recordingTextDeriver.ts';

export class SessionDerivation {
  private readonly deriver: RecordingTextDeriver;
  private closedEarly: RecordingTextEntry[] = [];
  private afterGap = false;
  /** Cuts the wire into messages; started at the first wire frame, and again after a gap. */
  private wire: PostgresWireEvents | undefined;

  constructor(sessionId: string, options: RecordingTextDeriverOptions = {}) {
    this.deriver = new RecordingTextDeriver(sessionId, options);
  }

  frame(frame: DerivableFrame): void {
    if (this.afterGap) {
      this.afterGap = false;
      for (const entry of this.deriver.take({ flush: true })) this.closedEarly.push(entry);
    }
    if (!isPostgresWire(frame)) {
      this.deriver.frame(frame);
      return;
    }
    this.wire ??= searchedWireEvents();
    for (const event of this.wire.accept({ ...frame, kind: frame.kind as EventKind })) {
      this.deriver.frame(event);
    }
  }

  /** Frames were left out here. */
  gap(): void {
    this.afterGap = true;
    // The wire cut mid-stream: a fresh cutter takes the next frame as the start of a message
    // (a socket read usually is); statements prepared before the gap are not known to it.
    this.wire = undefined;
  }

  take(options: { flush: boolean }): RecordingTextEntry[] {
    const entries = this.deriver.take(options);
    if (this.closedEarly.length === 0) return entries;
    const all = this.closedEarly.concat(entries);
    this.closedEarly = [];
    return all;
  }
}
