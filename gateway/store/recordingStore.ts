/**
 * Recordings: the row that describes each recording (lifecycle, checkpoint progress, last
 * verification), the recording bytes of the PostgreSQL deployment (chunks), and the audit
 * trail of who read which recording. The bytes themselves, and the proof they are intact, are
 * in the recording stream; these rows are for listing, filtering and recovery.
 */

import type { SeekTable } from '../../shared/recording/seekTable.ts';
import type { SignedSessionFacts } from '../../shared/recording/signedSessionFacts.ts';

export type RecordingStatus = 'recording' | 'complete' | 'interrupted' | 'failed';
/** A list filter: a lifecycle status, or 'verified' (the last verification verified). */
export type RecordingStatusFilter = RecordingStatus | 'verified';
export type RecordingProtocol = 'ssh' | 'postgres';
/** Where a recording's bytes live: segment files in the data dir, or `recording_chunks`. */
export type RecordingStorageKind = 'segments' | 'database';

export interface RecordingMetadata {
  sessionId: string;
  userId: string;
  resourceId: string;
  protocol: RecordingProtocol;
  status: RecordingStatus;
  /** Gateway instance id that writes the recording (see recorder/gatewayInstanceId.ts). */
  owner: string;
  storage: RecordingStorageKind;
  startedAt: number;
  endedAt: number | null;
  /** Frames written: the last seq. */
  frames: number;
  /** Size of the recording stream in bytes. */
  bytes: number;
  lastCheckpointSeq: number;
  lastCheckpointAt: number | null;
  failureReason: string | null;
  /** The gateway's last verification of the recording, null when it never verified it. */
  lastVerification: RecordingVerificationSummary | null;
}

export interface RecordingVerificationSummary {
  status: 'verified' | 'partial' | 'failed';
  verifiedThroughSeq: number;
  at: number;
  /** Since 0006; undefined for verdicts stored before (and when not given). */
  firstBadSeq?: number | null;
  message?: string;
  /**
   * What the signed content said when it was checked (null when the bytes could not be read),
   * so a row edited after the check is flagged without verifying again (issue #12).
   */
  signed?: SignedSessionFacts | null;
  /**
   * What the verdict was made on (issue #16): the stored bytes' fingerprint and the row facts the
   * check read, hashed (recordingJudge.ts). Absent when the storage could not tell cheaply.
   */
  judgedOn?: string;
}

export type NewRecording = Pick<
  RecordingMetadata,
  'sessionId' | 'userId' | 'resourceId' | 'protocol' | 'owner' | 'storage' | 'startedAt'
>;

export type RecordingProgress = Pick<
  RecordingMetadata,
  'frames' | 'bytes' | 'lastCheckpointSeq' | 'lastCheckpointAt'
>;

export interface RecordingEnd {
  status: 'complete' | 'failed';
  endedAt: number;
  failureReason?: string | null;
  /** The progress at the end; omitted to keep the last one stored. */
  progress?: RecordingProgress;
}

export interface RecordingFilter {
  userId?: string;
  resourceId?: string;
  /**
   * Lifecycle status, or 'verified' (last verification verified). 'failed' also matches a
   * recording whose last verification failed.
   */
  status?: RecordingStatusFilter;
  protocol?: RecordingProtocol;
  /** Inclusive bounds on startedAt. */
  from?: number;
  to?: number;
  /** Paging: only recordings after this one in the list order (newest first). */
  after?: RecordingListPosition;
  limit: number;
}

/** A recording's place in the list order (startedAt desc, then sessionId desc). */
export interface RecordingListPosition {
  startedAt: number;
  sessionId: string;
}

export interface RecordingChunk {
  chunkNo: number;
  data: Buffer;
}

/**
 * `stream` is a view (the raw stream, which the desktop plays); `live` a live watch; `search` a
 * search inside recordings (no session: `detail` holds the query); the rest are exports.
 */
export const recordingAccessActions = [
  'stream',
  'live',
  'search',
  'export_cast',
  'export_bundle',
  'export_jsonl',
] as const;
export type RecordingAccessAction = (typeof recordingAccessActions)[number];

/** One read of recordings by a person (DESIGN.md: who watched what is audited). */
export interface RecordingAccessRecord {
  id: string;
  /** Null for a search, which reads no one recording. */
  sessionId: string | null;
  userId: string;
  action: RecordingAccessAction;
  at: number;
  /** What was asked for, when the action has more to say (a search's query and filters). */
  detail?: string | null;
}

export interface RecordingAccessFilter {
  sessionId?: string;
  userId?: string;
  limit: number;
}

/** Reading recording rows: what listing, exporting and verification need. */
export interface RecordingCatalog {
  getRecording(sessionId: string): Promise<RecordingMetadata | undefined>;
  /** Newest first (startedAt, then sessionId). */
  listRecordings(filter: RecordingFilter): Promise<RecordingMetadata[]>;
}

/** The recording rows' lifecycle, as the recorder drives it. */
export interface RecordingLifecycle {
  /** Starts a recording row with status 'recording'; StoreConflictError if one exists. */
  createRecording(recording: NewRecording): Promise<RecordingMetadata>;
  /** Records a checkpoint's progress; false (and no change) unless the recording is still 'recording'. */
  updateRecordingProgress(sessionId: string, progress: RecordingProgress): Promise<boolean>;
  /** Ends a recording that is still 'recording'; undefined if it is unknown or already ended. */
  finishRecording(sessionId: string, end: RecordingEnd): Promise<RecordingMetadata | undefined>;
  /**
   * Startup recovery: every recording `owner` left in status 'recording' (the instance died
   * while writing it) becomes 'interrupted', ended at its last checkpoint. Recordings of other
   * gateway instances sharing the database are not touched — they may still be live.
   * Returns the session ids it marked.
   */
  markUnfinishedRecordingsInterrupted(owner: string, now: number): Promise<string[]>;
}

/** A recording's bytes in the database (the PostgreSQL deployment's storage). */
export interface RecordingChunkStore {
  /** Stores one chunk of a recording's bytes; chunk numbers are unique per recording. */
  appendRecordingChunk(sessionId: string, chunkNo: number, data: Uint8Array): Promise<void>;
  /** Up to `limit` chunks with chunkNo > afterChunkNo, in order: one page of a streamed read. */
  listRecordingChunks(
    sessionId: string,
    afterChunkNo: number,
    limit: number,
  ): Promise<RecordingChunk[]>;
}

/**
 * Finished recordings' seek tables (issue #16). A table is a map of the stored stream, never
 * evidence: a wrong one makes the stretches it names fail verification, nothing more.
 */
export interface RecordingSeekTableStore {
  getSeekTable(sessionId: string): Promise<SeekTable | undefined>;
  /** Stores it, replacing one stored before (rebuilt when the stored bytes no longer match). */
  putSeekTable(sessionId: string, table: SeekTable): Promise<void>;
}

/** Who read which recording. */
export interface RecordingAccessLog {
  insertRecordingAccess(access: RecordingAccessRecord): Promise<void>;
  /** Newest first. */
  listRecordingAccess(filter: RecordingAccessFilter): Promise<RecordingAccessRecord[]>;
}

export interface RecordingStore
  extends RecordingCatalog,
    RecordingLifecycle,
    RecordingChunkStore,
    RecordingSeekTableStore,
    RecordingAccessLog {
  /**
   * Session ids that have recording chunks stored, in order (the recordings check compares
   * them with the rows: bytes without a row are reported, never silently kept).
   */
  listRecordingChunkSessionIds(): Promise<string[]>;
  /** Stores the outcome of the gateway verifying a recording (for list badges and filters). */
  recordRecordingVerification(
    sessionId: string,
    verification: RecordingVerificationSummary,
  ): Promise<void>;
}
