/**
 * RecordingStore over Kysely, for SQLite and PostgreSQL alike. A recording row only moves
 * forward ('recording' → complete/failed/interrupted): each transition is one conditional
 * UPDATE on status = 'recording', so a late progress write cannot reopen an ended recording.
 */
import type { Kysely, Selectable, Updateable } from 'kysely';
import type { SeekTable } from '../../shared/recording/seekTable.ts';
import type { Database, RecordingAccessTable, RecordingsTable } from './migrations.ts';
import { recordingConditions, recordingFromRow, verdictDetailToRow } from './recordingRows.ts';
import type {
  NewRecording,
  RecordingAccessFilter,
  RecordingAccessRecord,
  RecordingChunk,
  RecordingEnd,
  RecordingFilter,
  RecordingMetadata,
  RecordingProgress,
  RecordingStore,
  RecordingVerificationSummary,
} from './recordingStore.ts';
import { asConflict } from './storeConflictError.ts';
import { rowLimit, type StoreConnection } from './storeConnection.ts';

export class KyselyRecordingStore implements RecordingStore {
  private readonly db: Kysely<Database>;

  constructor(connection: StoreConnection) {
    this.db = connection.db;
  }

  // -------------------------------------------------------------------------------------------
  // Recordings

  async createRecording(recording: NewRecording): Promise<RecordingMetadata> {
    try {
      const row = await this.db
        .insertInto('recordings')
        .values({
          session_id: recording.sessionId,
          user_id: recording.userId,
          resource_id: recording.resourceId,
          protocol: recording.protocol,
          status: 'recording',
          owner: recording.owner,
          storage: recording.storage,
          started_at: recording.startedAt,
          ended_at: null,
          frames: 0,
          bytes: 0,
          last_checkpoint_seq: 0,
          last_checkpoint_at: null,
          failure_reason: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return recordingFromRow(row);
    } catch (error) {
      throw asConflict(error, {
        'recordings.session_id': `session ${recording.sessionId} already has a recording`,
      });
    }
  }

  async getRecording(sessionId: string): Promise<RecordingMetadata | undefined> {
    const row = await this.db
      .selectFrom('recordings')
      .selectAll()
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    return row && recordingFromRow(row);
  }

  async listRecordings(filter: RecordingFilter): Promise<RecordingMetadata[]> {
    const rows = await this.db
      .selectFrom('recordings')
      .selectAll()
      .where((eb) => recordingConditions(eb, filter))
      .orderBy('started_at', 'desc')
      .orderBy('session_id', 'desc')
      .limit(rowLimit(filter.limit))
      .execute();
    return rows.map(recordingFromRow);
  }

  async recordRecordingVerification(
    sessionId: string,
    verification: RecordingVerificationSummary,
  ): Promise<void> {
    await this.db
      .updateTable('recordings')
      .set({
        last_verification: verification.status,
        last_verification_seq: verification.verifiedThroughSeq,
        last_verification_at: verification.at,
        last_verification_detail: verdictDetailToRow(verification),
      })
      .where('session_id', '=', sessionId)
      .execute();
  }

  async getSeekTable(sessionId: string): Promise<SeekTable | undefined> {
    const row = await this.db
      .selectFrom('recording_seek_tables')
      .select('table_json')
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    if (!row) return undefined;
    try {
      return JSON.parse(row.table_json) as SeekTable;
    } catch {
      // Unreadable: the table is rebuilt from the bytes and stored again.
      return undefined;
    }
  }

  async putSeekTable(sessionId: string, table: SeekTable): Promise<void> {
    const tableJson = JSON.stringify(table);
    await this.db
      .insertInto('recording_seek_tables')
      .values({ session_id: sessionId, table_json: tableJson })
      .onConflict((oc) => oc.column('session_id').doUpdateSet({ table_json: tableJson }))
      .execute();
  }

  async updateRecordingProgress(sessionId: string, progress: RecordingProgress): Promise<boolean> {
    const result = await this.db
      .updateTable('recordings')
      .set(progressToRow(progress))
      .where('session_id', '=', sessionId)
      .where('status', '=', 'recording')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async finishRecording(
    sessionId: string,
    end: RecordingEnd,
  ): Promise<RecordingMetadata | undefined> {
    const row = await this.db
      .updateTable('recordings')
      .set({
        status: end.status,
        ended_at: end.endedAt,
        failure_reason: end.failureReason ?? null,
        ...(end.progress ? progressToRow(end.progress) : {}),
      })
      .where('session_id', '=', sessionId)
      .where('status', '=', 'recording')
      .returningAll()
      .executeTakeFirst();
    return row && recordingFromRow(row);
  }

  async markUnfinishedRecordingsInterrupted(owner: string, now: number): Promise<string[]> {
    const rows = await this.db
      .updateTable('recordings')
      .set((eb) => ({
        status: 'interrupted',
        // The last moment the recording is known to have been written.
        ended_at: eb.fn.coalesce('last_checkpoint_at', 'started_at'),
        failure_reason: `The gateway stopped while recording (found at its restart, ${new Date(now).toISOString()}); the recording verifies up to its last checkpoint.`,
      }))
      .where('owner', '=', owner)
      .where('status', '=', 'recording')
      .returning('session_id')
      .execute();
    return rows.map((row) => row.session_id).sort();
  }

  async listRecordingChunkSessionIds(): Promise<string[]> {
    const rows = await this.db
      .selectFrom('recording_chunks')
      .select('session_id')
      .distinct()
      .orderBy('session_id')
      .execute();
    return rows.map((row) => row.session_id);
  }

  async appendRecordingChunk(sessionId: string, chunkNo: number, data: Uint8Array): Promise<void> {
    try {
      await this.db
        .insertInto('recording_chunks')
        .values({
          session_id: sessionId,
          chunk_no: chunkNo,
          // better-sqlite3 binds a Buffer, not a bare Uint8Array; this view copies nothing.
          data: Buffer.isBuffer(data)
            ? data
            : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        })
        .execute();
    } catch (error) {
      const message = `chunk ${chunkNo} of the recording of ${sessionId} is already stored`;
      // SQLite names the first column of the composite key, PostgreSQL lists both.
      throw asConflict(error, {
        'recording_chunks.session_id': message,
        'recording_chunks.session_id, chunk_no': message,
      });
    }
  }

  async listRecordingChunks(
    sessionId: string,
    afterChunkNo: number,
    limit: number,
  ): Promise<RecordingChunk[]> {
    const rows = await this.db
      .selectFrom('recording_chunks')
      .select(['chunk_no', 'data'])
      .where('session_id', '=', sessionId)
      .where('chunk_no', '>', afterChunkNo)
      .orderBy('chunk_no')
      .limit(rowLimit(limit))
      .execute();
    return rows.map((row) => ({ chunkNo: row.chunk_no, data: row.data }));
  }

  // -------------------------------------------------------------------------------------------
  // Who read which recording

  async insertRecordingAccess(access: RecordingAccessRecord): Promise<void> {
    try {
      await this.db
        .insertInto('recording_access')
        .values({
          id: access.id,
          session_id: access.sessionId,
          user_id: access.userId,
          action: access.action,
          at: access.at,
          detail: access.detail ?? null,
        })
        .execute();
    } catch (error) {
      throw asConflict(error, { 'recording_access.id': `access ${access.id} is already stored` });
    }
  }

  async listRecordingAccess(filter: RecordingAccessFilter): Promise<RecordingAccessRecord[]> {
    let query = this.db.selectFrom('recording_access').selectAll();
    if (filter.sessionId !== undefined) query = query.where('session_id', '=', filter.sessionId);
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    const rows = await query
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(rowLimit(filter.limit))
      .execute();
    return rows.map(recordingAccessFromRow);
  }
}

function progressToRow(progress: RecordingProgress): Updateable<RecordingsTable> {
  return {
    frames: progress.frames,
    bytes: progress.bytes,
    last_checkpoint_seq: progress.lastCheckpointSeq,
    last_checkpoint_at: progress.lastCheckpointAt,
  };
}

function recordingAccessFromRow(row: Selectable<RecordingAccessTable>): RecordingAccessRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    userId: row.user_id,
    action: row.action,
    at: row.at,
    detail: row.detail,
  };
}
