/**
 * The audit log (issue #14): an append-only chain of what admins did, which sessions were
 * allowed or refused and why, and every access request and decision; with the signed
 * checkpoints over it. Its own aggregate: nothing else writes these tables. The chain itself
 * (hashes, signatures) is computed by the caller (gateway/audit/auditTrail.ts): the store only
 * guarantees that appends are serialised, so two entries never claim the same predecessor.
 */

export interface AuditEntryRecord {
  seq: number;
  /** Epoch ms. */
  time: number;
  actorId: string | null;
  actorName: string | null;
  action: string;
  target: string;
  outcome: string;
  /** JSON text, exactly as the chain hashed it. */
  details: string;
  prevHash: Buffer;
  hash: Buffer;
}

export interface AuditCheckpointRecord {
  seq: number;
  hash: Buffer;
  time: number;
  keyId: string;
  signature: Buffer;
}

/** Where the chain stands: the last entry's seq and hash (seq 0: empty, hash null). */
export interface AuditHead {
  seq: number;
  hash: Buffer | null;
}

export interface AuditEntryFilter {
  /** Words anywhere in the action, target, actor's name or details (case-insensitive). */
  text?: string;
  /** A user id or username. */
  actor?: string;
  /** An action, or a prefix before a dot: `session` matches `session.allowed`. */
  action?: string;
  since?: number;
  until?: number;
  /** Paging: only entries with a smaller seq. */
  beforeSeq?: number;
  limit: number;
}

export interface AuditStore {
  /**
   * Appends one entry after the current head, in one write transaction that holds the log's
   * lock from reading the head to the insert (PostgreSQL: an advisory transaction lock;
   * SQLite: BEGIN IMMEDIATE), so concurrent appends from any replica form one chain.
   * `build` gets the head and returns the entry (seq = head.seq + 1, prevHash = head.hash).
   */
  appendAuditEntry(build: (head: AuditHead) => AuditEntryRecord): Promise<AuditEntryRecord>;
  auditHead(): Promise<AuditHead>;
  getAuditEntry(seq: number): Promise<AuditEntryRecord | undefined>;
  /** Newest first. */
  listAuditEntries(filter: AuditEntryFilter): Promise<AuditEntryRecord[]>;
  /** Oldest first, `fromSeq` ≤ seq ≤ `toSeq`, at most `limit` (for exports, page by page). */
  readAuditEntries(fromSeq: number, toSeq: number, limit: number): Promise<AuditEntryRecord[]>;
  /** Stores a checkpoint; one at a seq already checkpointed is ignored. */
  addAuditCheckpoint(checkpoint: AuditCheckpointRecord): Promise<void>;
  latestAuditCheckpoint(): Promise<AuditCheckpointRecord | undefined>;
  /** Oldest first, `fromSeq` ≤ seq ≤ `toSeq`. */
  listAuditCheckpoints(fromSeq: number, toSeq: number): Promise<AuditCheckpointRecord[]>;
}
