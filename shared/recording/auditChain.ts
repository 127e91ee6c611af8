/**
 * The audit log's chain and its export (issue #14), built from the recording primitives so one
 * key and one kind of signature cover both (FORMAT.md §14):
 *
 *   h0 = SHA-256("witness-audit-v1\0")
 *   hn = SHA-256(h(n-1) ‖ "witness-audit-entry-v1\0" ‖ JSON of [seq, time, actorId, actorName,
 *                                                               action, target, outcome, details])
 *
 * `details` enters the chain as the exact JSON text stored (a string inside the array), so a
 * verifier in any language hashes the bytes it reads and never re-serialises an object.
 * Checkpoints are recording checkpoints (`checkpointSigningBytes`) whose session id is
 * `AUDIT_CHAIN_ID`: it holds a `:`, which no session id may, so no recording checkpoint can be
 * passed off as an audit one, nor the other way round. Pure functions, no I/O.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { chainHash, checkpointSigningBytes, HASH_BYTES } from './recordingFormat.ts';

/** The "session id" audit checkpoints are signed under; recording session ids cannot hold `:`. */
export const AUDIT_CHAIN_ID = 'witness:audit-log';
export const AUDIT_FORMAT_VERSION = 1;

const ENTRY_TAG = Buffer.from('witness-audit-entry-v1\0', 'ascii');

/** The chain value before entry 1. */
export const AUDIT_GENESIS_HASH: Buffer = createHash('sha256')
  .update('witness-audit-v1\0', 'ascii')
  .digest();

/** What an entry says; `details` is JSON text (an object), hashed as stored. */
export interface AuditEntryBody {
  seq: number;
  /** Epoch ms. */
  time: number;
  /** Null for the gateway itself (a grant expiring, a session refused before sign-in). */
  actorId: string | null;
  actorName: string | null;
  action: string;
  target: string;
  outcome: string;
  details: string;
}

export interface AuditEntry extends AuditEntryBody {
  prevHash: Buffer;
  hash: Buffer;
}

export interface AuditCheckpoint {
  /** Last entry covered. */
  seq: number;
  /** The chain hash after entry `seq`. */
  hash: Buffer;
  time: number;
  keyId: string;
  signature: Buffer;
}

/** The bytes of an entry the chain hashes. */
export function auditEntryBytes(entry: AuditEntryBody): Buffer {
  const json = JSON.stringify([
    entry.seq,
    entry.time,
    entry.actorId,
    entry.actorName,
    entry.action,
    entry.target,
    entry.outcome,
    entry.details,
  ]);
  return Buffer.concat([ENTRY_TAG, Buffer.from(json, 'utf8')]);
}

export function auditEntryHash(prevHash: Uint8Array, entry: AuditEntryBody): Buffer {
  if (prevHash.length !== HASH_BYTES) throw new Error('an audit chain hash is 32 bytes');
  return chainHash(prevHash, auditEntryBytes(entry));
}

/** The exact bytes an audit checkpoint's Ed25519 signature covers (a recording checkpoint's). */
export function auditCheckpointSigningBytes(
  checkpoint: Pick<AuditCheckpoint, 'seq' | 'hash' | 'time' | 'keyId'>,
): Buffer {
  return checkpointSigningBytes({
    sessionId: AUDIT_CHAIN_ID,
    seq: checkpoint.seq,
    hash: checkpoint.hash,
    time: checkpoint.time,
    final: false,
    keyId: checkpoint.keyId,
  });
}

// ---------------------------------------------------------------------------------------------
// The export: JSON lines — one header, then entries in seq order, each checkpoint right after
// the entry it covers.

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);
const seq = z.number().int().nonnegative();

export const auditExportHeaderLine = z.object({
  type: z.literal('audit-log'),
  formatVersion: z.literal(AUDIT_FORMAT_VERSION),
  exportedAt: z.string(),
  keyId: z.string(),
});

export const auditEntryLine = z.object({
  type: z.literal('entry'),
  seq: seq.min(1),
  time: z.number().int(),
  actor: z.object({ id: z.string(), name: z.string() }).nullable(),
  action: z.string(),
  target: z.string(),
  outcome: z.string(),
  /** JSON text, exactly as hashed. */
  details: z.string(),
  prevHash: hex32,
  hash: hex32,
});

export const auditCheckpointLine = z.object({
  type: z.literal('checkpoint'),
  seq,
  hash: hex32,
  time: z.number().int(),
  keyId: z.string(),
  signature: z.string(),
});

export const auditExportLine = z.discriminatedUnion('type', [
  auditExportHeaderLine,
  auditEntryLine,
  auditCheckpointLine,
]);
export type AuditExportLine = z.infer<typeof auditExportLine>;

export function auditEntryToLine(entry: AuditEntry): z.infer<typeof auditEntryLine> {
  return {
    type: 'entry',
    seq: entry.seq,
    time: entry.time,
    actor:
      entry.actorId === null ? null : { id: entry.actorId, name: entry.actorName ?? entry.actorId },
    action: entry.action,
    target: entry.target,
    outcome: entry.outcome,
    details: entry.details,
    prevHash: entry.prevHash.toString('hex'),
    hash: entry.hash.toString('hex'),
  };
}

export function auditCheckpointToLine(
  checkpoint: AuditCheckpoint,
): z.infer<typeof auditCheckpointLine> {
  return {
    type: 'checkpoint',
    seq: checkpoint.seq,
    hash: checkpoint.hash.toString('hex'),
    time: checkpoint.time,
    keyId: checkpoint.keyId,
    signature: checkpoint.signature.toString('base64'),
  };
}

export function auditEntryFromLine(line: z.infer<typeof auditEntryLine>): AuditEntry {
  return {
    seq: line.seq,
    time: line.time,
    actorId: line.actor?.id ?? null,
    actorName: line.actor?.name ?? null,
    action: line.action,
    target: line.target,
    outcome: line.outcome,
    details: line.details,
    prevHash: Buffer.from(line.prevHash, 'hex'),
    hash: Buffer.from(line.hash, 'hex'),
  };
}
