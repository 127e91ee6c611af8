/**
 * The gateway's persistence boundary. Two deployments implement it through one Kysely query
 * set (see kyselyStore.ts): embedded SQLite in the data directory, and PostgreSQL for
 * several gateway replicas. The store knows no transport and no crypto: secrets arrive
 * already encrypted, tokens and tickets arrive already hashed.
 *
 * Times are epoch milliseconds. Ids are opaque strings made by the caller (see newId.ts), so
 * the store never needs dialect-specific RETURNING tricks.
 */
import type {
  DatabasePolicy,
  RecordingStatusFilter,
  RecordingTextKind,
  Role,
} from '../../shared/api/apiSchemas.ts';

export type StoreKind = 'sqlite' | 'postgres';

export interface UserRecord {
  id: string;
  username: string;
  role: Role;
  groups: string[];
  disabled: boolean;
  /** scrypt hash (see auth/passwords.ts); null until the user enrolls. */
  passwordHash: string | null;
  /** Encrypted TOTP secret once confirmed. */
  totpSecret: string | null;
  /** Encrypted TOTP secret awaiting its first code. */
  totpPendingSecret: string | null;
  /** Last accepted TOTP time step, so a code cannot be replayed inside its window. */
  totpLastStep: number | null;
  failedLogins: number;
  lockedUntil: number | null;
  createdAt: number;
}

export interface NewUser {
  id: string;
  username: string;
  role: Role;
  groups: string[];
  passwordHash: string | null;
  createdAt: number;
}

export type UserPatch = Partial<
  Pick<
    UserRecord,
    | 'role'
    | 'groups'
    | 'disabled'
    | 'passwordHash'
    | 'totpSecret'
    | 'totpPendingSecret'
    | 'totpLastStep'
    | 'failedLogins'
    | 'lockedUntil'
  >
>;

/** One-time enrollment token (hash stored) that lets a new user set a password. */
export interface EnrollmentRecord {
  tokenHash: string;
  userId: string;
  expiresAt: number;
  usedAt: number | null;
  createdAt: number;
}

export type AuthTokenKind = 'access' | 'refresh';

/**
 * Access and refresh tokens, stored as SHA-256 hashes. Refresh tokens rotate: each refresh
 * marks the old one used and issues a new one in the same family; presenting a used refresh
 * token again revokes the whole family (it has leaked).
 */
export interface AuthTokenRecord {
  tokenHash: string;
  kind: AuthTokenKind;
  userId: string;
  familyId: string;
  expiresAt: number;
  usedAt: number | null;
  revokedAt: number | null;
  createdAt: number;
}

export interface ResourceRecord {
  id: string;
  name: string;
  description: string;
  /** Resource kind, duplicated out of `target` so it can be filtered on. */
  kind: 'ssh' | 'postgres';
  labels: Record<string, string>;
  /** The API's target object (host, port, username, …) as stored JSON. */
  target: Record<string, unknown>;
  /** Encrypted credential blob (secrets/secretBox.ts), or null when none is stored. */
  secretCiphertext: string | null;
  /** Which credential fields the blob holds, so the API can say so without decrypting. */
  secretFields: string[];
  /** Masking and guardrails for database sessions on this resource. */
  policy: DatabasePolicy;
  createdAt: number;
  updatedAt: number;
}

export type ResourcePatch = Partial<
  Pick<
    ResourceRecord,
    | 'name'
    | 'description'
    | 'kind'
    | 'labels'
    | 'target'
    | 'secretCiphertext'
    | 'secretFields'
    | 'policy'
  >
> & { updatedAt: number };

export interface GrantRecord {
  id: string;
  subjectKind: 'user' | 'group';
  /** User id or group name. */
  subject: string;
  targetKind: 'resource' | 'labels';
  /** Resource id for targetKind 'resource'. */
  resourceId: string | null;
  /** Label selector for targetKind 'labels'. */
  selector: Record<string, string> | null;
  mode: 'standing' | 'approval';
  validFrom: number | null;
  validUntil: number | null;
  maxSessionSeconds: number;
  description: string;
  /** Masking and guardrails added for sessions under this grant. */
  policy: DatabasePolicy;
  createdBy: string;
  createdAt: number;
}

export type GrantPatch = Partial<
  Pick<
    GrantRecord,
    'mode' | 'validFrom' | 'validUntil' | 'maxSessionSeconds' | 'description' | 'policy'
  >
>;

export type SessionState = 'pending' | 'live' | 'ended';

export interface SessionRecord {
  id: string;
  userId: string;
  resourceId: string;
  grantId: string;
  state: SessionState;
  /** SHA-256 of the single-use connect ticket. */
  ticketHash: string;
  ticketExpiresAt: number;
  ticketUsedAt: number | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  expiresAt: number;
  endReason: string | null;
}

export interface SessionFilter {
  state?: SessionState;
  userId?: string;
  resourceId?: string;
  limit: number;
}

export type RecordingStatus = 'recording' | 'complete' | 'interrupted' | 'failed';
export type RecordingProtocol = 'ssh' | 'postgres';
/** Where a recording's bytes live: segment files in the data dir, or `recording_chunks`. */
export type RecordingStorageKind = 'segments' | 'database';

/**
 * What the store knows about a recording. The bytes themselves (and the proof they are
 * intact) are in the recording stream; these columns are for listing and filtering.
 */
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

/**
 * One piece of text derived from a recording for search (search/recordingTextDeriver.ts): a
 * reconstructed command line, a query, or a stretch of ANSI-stripped output. Derived data, not
 * part of the recording's chain: the recording stays the record, this is an index of it.
 */
export interface RecordingTextEntry {
  sessionId: string;
  /** Seq of the frame the text starts at (for a command, the frame with its Enter). */
  seq: number;
  /** Epoch ms of that frame. */
  time: number;
  channel: number;
  kind: RecordingTextKind;
  text: string;
}

export interface RecordingTextSearch {
  /** Normalized words (search/searchTerms.ts); every one must match, as a word or a prefix. */
  terms: string[];
  filter: Omit<RecordingFilter, 'after' | 'limit'>;
  /** Paging: only hits with an id below this (hits come newest first, by id). */
  beforeId?: number;
  limit: number;
}

export interface RecordingTextHit extends RecordingTextEntry {
  /** Increases in the order text was indexed: the paging position. */
  id: number;
  recording: RecordingMetadata;
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

export interface Store {
  readonly kind: StoreKind;

  createUser(user: NewUser): Promise<UserRecord>;
  getUserById(id: string): Promise<UserRecord | undefined>;
  getUserByUsername(username: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
  updateUser(id: string, patch: UserPatch): Promise<UserRecord | undefined>;

  createEnrollment(enrollment: EnrollmentRecord): Promise<void>;
  /**
   * Marks the enrollment used if it is unused and unexpired at `now`; returns it, or undefined
   * when it is unknown, used or expired. Atomic: two concurrent calls cannot both succeed.
   */
  consumeEnrollment(tokenHash: string, now: number): Promise<EnrollmentRecord | undefined>;

  insertAuthToken(token: AuthTokenRecord): Promise<void>;
  getAuthToken(tokenHash: string): Promise<AuthTokenRecord | undefined>;
  /** Marks a refresh token used if it is not yet; true when this call did it (atomic). */
  markAuthTokenUsed(tokenHash: string, now: number): Promise<boolean>;
  revokeAuthTokenFamily(familyId: string, now: number): Promise<void>;
  revokeAuthTokensOfUser(userId: string, now: number): Promise<void>;
  deleteExpiredAuthTokens(now: number): Promise<number>;

  createResource(resource: ResourceRecord): Promise<void>;
  getResource(id: string): Promise<ResourceRecord | undefined>;
  getResourceByName(name: string): Promise<ResourceRecord | undefined>;
  listResources(): Promise<ResourceRecord[]>;
  updateResource(id: string, patch: ResourcePatch): Promise<ResourceRecord | undefined>;
  /** False when there was no such resource. */
  deleteResource(id: string): Promise<boolean>;

  createGrant(grant: GrantRecord): Promise<void>;
  getGrant(id: string): Promise<GrantRecord | undefined>;
  listGrants(): Promise<GrantRecord[]>;
  updateGrant(id: string, patch: GrantPatch): Promise<GrantRecord | undefined>;
  deleteGrant(id: string): Promise<boolean>;

  createSession(session: SessionRecord): Promise<void>;
  getSession(id: string): Promise<SessionRecord | undefined>;
  listSessions(filter: SessionFilter): Promise<SessionRecord[]>;
  /**
   * Redeems a connect ticket: sets ticketUsedAt and state 'live' when the hash matches, the
   * ticket is unused and unexpired at `now` and the session is pending. Atomic across
   * gateway replicas; returns the updated session or undefined.
   */
  redeemTicket(
    sessionId: string,
    ticketHash: string,
    now: number,
  ): Promise<SessionRecord | undefined>;
  /** Ends a session that has not ended yet; returns it, or undefined if already ended/unknown. */
  endSession(id: string, reason: string, now: number): Promise<SessionRecord | undefined>;
  /**
   * Ends every not-yet-ended session that matches (a revoked grant, a deleted resource, a
   * disabled user); returns them. The proxies notice within their poll interval and close
   * the connections.
   */
  endOpenSessions(
    match: { grantId: string } | { resourceId: string } | { userId: string },
    reason: string,
    now: number,
  ): Promise<SessionRecord[]>;

  /** Starts a recording row with status 'recording'; StoreConflictError if one exists. */
  createRecording(recording: NewRecording): Promise<RecordingMetadata>;
  getRecording(sessionId: string): Promise<RecordingMetadata | undefined>;
  /** Newest first (startedAt, then sessionId). */
  listRecordings(filter: RecordingFilter): Promise<RecordingMetadata[]>;
  /** Records a checkpoint's progress; false (and no change) unless the recording is still 'recording'. */
  updateRecordingProgress(sessionId: string, progress: RecordingProgress): Promise<boolean>;
  /** Stores the outcome of the gateway verifying a recording (for list badges and filters). */
  recordRecordingVerification(
    sessionId: string,
    verification: RecordingVerificationSummary,
  ): Promise<void>;
  /** Ends a recording that is still 'recording'; undefined if it is unknown or already ended. */
  finishRecording(sessionId: string, end: RecordingEnd): Promise<RecordingMetadata | undefined>;
  /**
   * Startup recovery: every recording `owner` left in status 'recording' (the instance died
   * while writing it) becomes 'interrupted', ended at its last checkpoint. Recordings of other
   * gateway instances sharing the database are not touched — they may still be live.
   * Returns the session ids it marked.
   */
  markUnfinishedRecordingsInterrupted(owner: string, now: number): Promise<string[]>;

  /** Stores one chunk of a recording's bytes (PostgreSQL deployment); chunk numbers are unique. */
  appendRecordingChunk(sessionId: string, chunkNo: number, data: Uint8Array): Promise<void>;
  /** Up to `limit` chunks with chunkNo > afterChunkNo, in order: one page of a streamed read. */
  listRecordingChunks(
    sessionId: string,
    afterChunkNo: number,
    limit: number,
  ): Promise<RecordingChunk[]>;

  /** Adds derived text to the search index (in one transaction); entries without words are skipped. */
  insertRecordingText(entries: readonly RecordingTextEntry[]): Promise<void>;
  /**
   * Indexed text matching every term, newest first (by id), with its recording, filtered like
   * listRecordings. Served by the full-text index (FTS5 / tsvector + GIN), never a scan.
   */
  searchRecordingText(search: RecordingTextSearch): Promise<RecordingTextHit[]>;
  /** Removes a recording's derived text (before re-indexing it); returns the rows removed. */
  deleteRecordingText(sessionId: string): Promise<number>;
  /** The derived text of one recording in seq order (tests, re-indexing checks). */
  listRecordingText(sessionId: string): Promise<RecordingTextEntry[]>;

  insertRecordingAccess(access: RecordingAccessRecord): Promise<void>;
  /** Newest first. */
  listRecordingAccess(filter: RecordingAccessFilter): Promise<RecordingAccessRecord[]>;

  close(): Promise<void>;
}

/**
 * A write broke a uniqueness rule: the username or resource name is taken, or the id/hash is
 * already stored. Thrown by every `create*`/`insert*`/`update*` method so the API can answer
 * 409 without knowing which database is underneath.
 */
export class StoreConflictError extends Error {
  override readonly name = 'StoreConflictError';
  constructor(
    message: string,
    /** `table.column` that clashed, e.g. `users.username`; `unknown` if the driver did not say. */
    readonly conflict: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
