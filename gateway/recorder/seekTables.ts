/**
 * The seek tables the API serves (issue #16): for each checkpoint of a recording, where it and
 * the stretch after it lie in the stored stream. A complete recording's table is noted by the
 * recorder as it writes and stored with the row (`recording_seek_tables`); any other finished
 * recording's (older than the table, interrupted, failed) is built from the stored bytes by
 * reading record heads only (shared/recording/seekTable.ts) the first time it is asked for, and
 * stored then. A live recording is scanned whenever it has grown. Tables in use are kept in
 * memory; one scan per recording runs at a time, however many ask at once.
 *
 * Nothing here is trusted by a client: the table says where to look, the checkpoints it
 * points at say what is signed.
 */
import { type SeekTable, SeekTableScanner } from '../../shared/recording/seekTable.ts';
import type { RecordingMetadata, RecordingSeekTableStore } from '../store/recordingStore.ts';
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
  /** Tables being read or built, so concurrent requests share one scan. */
  private readonly building = new Map<string, Promise<SeekTable>>();

  constructor(
    private readonly archive: Pick<RecordingArchive, 'open' | 'storedBytes'>,
    private readonly store?: RecordingSeekTableStore,
  ) {}

  async get(recording: Recording): Promise<SeekTable> {
    const known = this.kept.get(recording.sessionId);
    // A finished recording does not grow (the row's byte count may lag behind its bytes); a
    // live one is scanned again once it has.
    if (known && (recording.status !== 'recording' || known.bytes === recording.bytes)) {
      this.kept.delete(recording.sessionId);
      this.kept.set(recording.sessionId, known);
      return known;
    }
    const pending = this.building.get(recording.sessionId);
    if (pending) return pending;
    const building = this.build(recording).finally(() => this.building.delete(recording.sessionId));
    this.building.set(recording.sessionId, building);
    return building;
  }

  private async build(recording: Recording): Promise<SeekTable> {
    const finished = recording.status !== 'recording';
    if (finished && this.store) {
      const stored = await this.store.getSeekTable(recording.sessionId);
      // Bytes cut or appended since make it a wrong map (its stretches would fail where the
      // bytes did not): built again. A storage that cannot tell its size cheaply is trusted.
      const bytes = stored && (await this.archive.storedBytes(recording));
      if (stored && (bytes === undefined || bytes === stored.bytes)) {
        this.remember(recording.sessionId, stored);
        return stored;
      }
    }
    const scanner = new SeekTableScanner();
    for await (const chunk of this.archive.open(recording)) scanner.push(chunk);
    const table = scanner.finish();
    if (finished) {
      this.remember(recording.sessionId, table);
      // Not kept is not lost: the next gateway scans again.
      await this.store?.putSeekTable(recording.sessionId, table).catch(() => {});
    }
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
