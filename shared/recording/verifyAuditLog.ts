/**
 * Verifies an audit log export (JSON lines, auditChain.ts) offline with the gateway's public
 * key: every entry in order from seq 1, each one's `prevHash` the previous entry's hash and its
 * `hash` recomputed from its content, and every checkpoint's Ed25519 signature made by that
 * key over the hash the chain has at the checkpoint's seq. Streams: one line at a time, in
 * constant memory.
 *
 * What it proves: entries 1…C (C, the last valid checkpoint) are exactly what the gateway
 * signed — none edited, dropped, inserted or reordered. Entries after C are chained but
 * unsigned: anyone could drop or rewrite them consistently, so they are reported apart.
 */

import { type KeyObject, verify } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import {
  AUDIT_GENESIS_HASH,
  auditCheckpointSigningBytes,
  auditEntryFromLine,
  auditEntryHash,
  auditExportLine,
} from './auditChain.ts';
import { parseRecordingPublicKey, recordingKeyId } from './verifyRecording.ts';

export type AuditProblem =
  | 'malformed'
  | 'dropped'
  | 'edited'
  | 'reordered'
  | 'forged_signature'
  | 'other_key'
  | 'checkpoint_mismatch'
  | 'missing_entries';

export type AuditVerification =
  | {
      ok: true;
      entries: number;
      /** Seq of the last entry (0 when the log is empty). */
      lastSeq: number;
      /** Seq of the last valid signed checkpoint (0: none). */
      lastCheckpointSeq: number;
    }
  | {
      ok: false;
      problem: AuditProblem;
      /** The first seq that cannot be trusted. */
      firstBadSeq: number;
      message: string;
      /** Entries up to here were covered by a valid checkpoint before the problem. */
      verifiedThroughSeq: number;
    };

export class AuditLogVerifier {
  private readonly keyId: string;
  /** The key given and, after rotations (issue #17), the same gateway's earlier keys, by id. */
  private readonly trusted = new Map<string, KeyObject>();
  private hash: Buffer = AUDIT_GENESIS_HASH;
  private lastSeq = 0;
  private lastCheckpointSeq = 0;
  private lineNumber = 0;
  private failure: AuditVerification | null = null;

  /**
   * `alsoTrustedKeys`: the gateway's earlier recording keys (`earlierRecordingKeys` of GET
   * /v1/keys). The log outlives a rotation, so checkpoints written before it name an earlier key;
   * each checkpoint is verified with the key it names, if that key is trusted.
   */
  constructor(publicKeyPem: string, alsoTrustedKeys: readonly string[] = []) {
    for (const pem of alsoTrustedKeys) {
      const key = parseRecordingPublicKey(pem);
      this.trusted.set(recordingKeyId(key), key);
    }
    const key = parseRecordingPublicKey(publicKeyPem);
    this.keyId = recordingKeyId(key);
    this.trusted.set(this.keyId, key);
  }

  /** Feeds one line; false once the log has failed (later lines change nothing). */
  pushLine(text: string): boolean {
    if (this.failure) return false;
    this.lineNumber += 1;
    if (text.trim() === '') return true;
    let parsed: ReturnType<typeof auditExportLine.parse>;
    try {
      parsed = auditExportLine.parse(JSON.parse(text));
    } catch (error) {
      const why = error instanceof SyntaxError ? 'is not JSON' : 'is not an audit log record';
      return this.fail('malformed', this.lastSeq + 1, `line ${this.lineNumber} ${why}`);
    }
    switch (parsed.type) {
      case 'audit-log':
        return true; // informational: the key that matters is the one given, not the header's
      case 'entry':
        return this.entry(parsed);
      case 'checkpoint':
        return this.checkpoint(parsed);
    }
  }

  private entry(line: Parameters<typeof auditEntryFromLine>[0]): boolean {
    const entry = auditEntryFromLine(line);
    const expected = this.lastSeq + 1;
    if (entry.seq > expected) {
      return this.fail(
        'dropped',
        expected,
        `seq ${expected}${entry.seq - 1 > expected ? `–${entry.seq - 1}` : ''} is missing: the next entry is seq ${entry.seq} (entries were dropped)`,
      );
    }
    if (entry.seq < expected) {
      return this.fail(
        'reordered',
        entry.seq,
        `seq ${entry.seq} appears again after seq ${this.lastSeq} (entries repeated or reordered)`,
      );
    }
    if (!entry.prevHash.equals(this.hash)) {
      return this.fail(
        'dropped',
        entry.seq,
        `seq ${entry.seq} does not follow the entry before it (its previous hash differs): an entry before it was dropped, replaced or renumbered`,
      );
    }
    const hash = auditEntryHash(this.hash, entry);
    if (!hash.equals(entry.hash)) {
      return this.fail(
        'edited',
        entry.seq,
        `seq ${entry.seq} was edited: its content does not hash to the hash it carries`,
      );
    }
    this.hash = hash;
    this.lastSeq = entry.seq;
    return true;
  }

  private checkpoint(line: {
    seq: number;
    hash: string;
    time: number;
    keyId: string;
    signature: string;
  }): boolean {
    const hash = Buffer.from(line.hash, 'hex');
    const signature = Buffer.from(line.signature, 'base64');
    const key = this.trusted.get(line.keyId);
    if (key === undefined) {
      const earlier = this.trusted.size > 1 ? ' nor one of its earlier keys' : '';
      return this.fail(
        'other_key',
        this.lastCheckpointSeq + 1,
        `the checkpoint at seq ${line.seq} names key ${line.keyId}, not the key given (${this.keyId})${earlier}`,
      );
    }
    const signed =
      signature.length === 64 &&
      verify(null, auditCheckpointSigningBytes({ ...line, hash }), key, signature);
    if (!signed) {
      return this.fail(
        'forged_signature',
        this.lastCheckpointSeq + 1,
        `the checkpoint at seq ${line.seq} has a signature the gateway's key did not make (forged or altered)`,
      );
    }
    if (line.seq > this.lastSeq) {
      return this.fail(
        'missing_entries',
        this.lastSeq + 1,
        `the checkpoint at seq ${line.seq} covers entries the file does not have (it ends at seq ${this.lastSeq}): entries were dropped`,
      );
    }
    if (line.seq < this.lastSeq) {
      return this.fail(
        'reordered',
        line.seq + 1,
        `the checkpoint at seq ${line.seq} comes after seq ${this.lastSeq}: the file's order was changed`,
      );
    }
    if (!hash.equals(this.hash)) {
      const from = this.lastCheckpointSeq + 1;
      return this.fail(
        'checkpoint_mismatch',
        from,
        `entries ${from}–${line.seq} do not match the signed checkpoint at seq ${line.seq}: one of them was edited, dropped or inserted and the chain recomputed`,
      );
    }
    this.lastCheckpointSeq = line.seq;
    return true;
  }

  private fail(problem: AuditProblem, firstBadSeq: number, message: string): false {
    this.failure = {
      ok: false,
      problem,
      firstBadSeq,
      message,
      verifiedThroughSeq: Math.min(this.lastCheckpointSeq, firstBadSeq - 1),
    };
    return false;
  }

  finish(): AuditVerification {
    return (
      this.failure ?? {
        ok: true,
        entries: this.lastSeq,
        lastSeq: this.lastSeq,
        lastCheckpointSeq: this.lastCheckpointSeq,
      }
    );
  }
}

/** Verifies a whole export given as text, bytes or a byte stream. */
export async function verifyAuditExport(
  source: string | Uint8Array | AsyncIterable<Uint8Array | string>,
  publicKeyPem: string,
  alsoTrustedKeys: readonly string[] = [],
): Promise<AuditVerification> {
  const verifier = new AuditLogVerifier(publicKeyPem, alsoTrustedKeys);
  const input =
    typeof source === 'string' || source instanceof Uint8Array
      ? Readable.from([source])
      : Readable.from(source);
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (!verifier.pushLine(line)) break;
  }
  lines.close();
  input.destroy();
  return verifier.finish();
}

/** One sentence for a person: what was verified, or the first bad seq and why. */
export function describeAuditVerification(result: AuditVerification): string {
  if (!result.ok) {
    return `FAILED at seq ${result.firstBadSeq}: ${result.message}${
      result.verifiedThroughSeq > 0
        ? ` (entries up to seq ${result.verifiedThroughSeq} verified)`
        : ''
    }`;
  }
  const head = `verified ${result.entries} entries up to seq ${result.lastSeq} (last signed checkpoint at seq ${result.lastCheckpointSeq})`;
  if (result.lastCheckpointSeq >= result.lastSeq) return head;
  if (result.lastCheckpointSeq === 0) {
    return `${head}; no checkpoint signs them, so the chain shows only that they are in order, not that the gateway wrote them`;
  }
  return `${head}; entries ${result.lastCheckpointSeq + 1}–${result.lastSeq} are chained but not signed yet`;
}
