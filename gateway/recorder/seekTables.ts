/**
 * The seek tables the API serves (issue #16): for each checkpoint of a recording, where it and
 * the stretch after it lie in the stored stream. A table is built from the stored bytes by
 * reading record heads only (shared/recording/seekTable.ts) the first time a recording is
 * asked for, and kept while the stored stream has the size it was built from (the row's
 * `bytes`) — a finished recording is scanned once per gateway process, a live one whenever it
 * has grown.
 *
 * Nothing here is trusted by a client: the table says where to look, the checkpoints it
 * points at say what is signed.
 */
import { type SeekTable, SeekTableScanner } from '../../shared/recording/seekTable.ts';
import type { RecordingMetadata } from '../store/recordingStore.ts';
import type { RecordingArchive } from './recordingArchive.ts';

/** Tables kept (a 1 GiB recording checkpointed every second for an hour: ~3,600 points). */
const MAX_KEPT = 256;

type Recording = Pick<
  RecordingMetadata,
  'sessionId' | 'status' | 'storage' | 'userId' | 'resourceId' | 'protocol' | 'bytes'
>;

export class SeekTables {
  /** Insertion order is use order: a hit is moved to the end, the first is the oldest. */
  private readonly kept = new Map<string, SeekTable>();

  constructor(private readonly archive: Pick<RecordingArchive, 'open'>) {}

  async get(recording: Recording): Promise<SeekTable> {
    const known = this.kept.get(recording.sessionId);
    // A finished recording does not grow (the row's byte count may lag behind its bytes); a
    // live one is scanned again once it has.
    if (known && (recording.status !== 'recording' || known.bytes === recording.bytes)) {
      this.kept.delete(recording.sessionId);
      this.kept.set(recording.sessionId, known);
      return known;
    }
    const scanner = new SeekTableScanner();
    for await (const chunk of this.archive.open(recording)) scanner.push(chunk);
    const table = scanner.finish();
    if (recording.status !== 'recording') this.remember(recording.sessionId, table);
    return table;
  }

  /** A table made elsewhere (the recorder, which knows every offset as it writes). */
  remember(sessionId: string, table: SeekTable): void {
    this.kept.delete(sessionId);
    this.kept.set(sessionId, table);
    if (this.kept.size > MAX_KEPT) {
      const oldest = this.kept.keys().next().value;
      if (oldest !== undefined) this.kept.delete(oldest);
    }
  }
}
