import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_GENESIS_HASH,
  type AuditEntry,
  type AuditEntryBody,
  auditCheckpointSigningBytes,
  auditCheckpointToLine,
  auditEntryHash,
  auditEntryToLine,
} from './auditChain.ts';
import { checkpointSigningBytes } from './recordingFormat.ts';
import { describeAuditVerification, verifyAuditExport } from './verifyAuditLog.ts';
import { recordingKeyId } from './verifyRecording.ts';

const gateway = generateKeyPairSync('ed25519');
const publicKeyPem = gateway.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const keyId = recordingKeyId(publicKeyPem);
const T = 1_750_000_000_000;

function body(seq: number): AuditEntryBody {
  return {
    seq,
    time: T + seq,
    actorId: 'usr_1',
    actorName: 'root',
    action: 'createGrant',
    target: `grant:grt_${seq}`,
    outcome: 'succeeded',
    details: JSON.stringify({ body: { subject: 'usr_2' } }),
  };
}

function chain(count: number): AuditEntry[] {
  const entries: AuditEntry[] = [];
  let prev = AUDIT_GENESIS_HASH;
  for (let seq = 1; seq <= count; seq++) {
    const hash = auditEntryHash(prev, body(seq));
    entries.push({ ...body(seq), prevHash: prev, hash });
    prev = hash;
  }
  return entries;
}

function checkpointAfter(entry: AuditEntry, key = gateway.privateKey) {
  const unsigned = { seq: entry.seq, hash: entry.hash, time: entry.time, keyId };
  return { ...unsigned, signature: sign(null, auditCheckpointSigningBytes(unsigned), key) };
}

/** An export of `count` entries with a checkpoint after every `every` and after the last. */
function exportLines(count: number, every = 3): Record<string, unknown>[] {
  const lines: Record<string, unknown>[] = [
    { type: 'audit-log', formatVersion: 1, exportedAt: new Date(T).toISOString(), keyId },
  ];
  for (const entry of chain(count)) {
    lines.push(auditEntryToLine(entry));
    if (entry.seq % every === 0 || entry.seq === count) {
      lines.push(auditCheckpointToLine(checkpointAfter(entry)));
    }
  }
  return lines;
}

const text = (lines: Record<string, unknown>[]) =>
  `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`;
const entryLine = (lines: Record<string, unknown>[], seq: number) =>
  lines.findIndex((l) => l.type === 'entry' && l.seq === seq);

describe('audit log verification', () => {
  it('verifies an untouched export and says up to which seq it is signed', async () => {
    const result = await verifyAuditExport(text(exportLines(7)), publicKeyPem);
    expect(result).toEqual({ ok: true, entries: 7, lastSeq: 7, lastCheckpointSeq: 7 });
    expect(describeAuditVerification(result)).toBe(
      'verified 7 entries up to seq 7 (last signed checkpoint at seq 7)',
    );
  });

  it('reports entries after the last checkpoint as chained but unsigned', async () => {
    const lines = exportLines(7).slice(0, -1); // the final checkpoint removed
    const result = await verifyAuditExport(text(lines), publicKeyPem);
    expect(result).toMatchObject({ ok: true, lastSeq: 7, lastCheckpointSeq: 6 });
    expect(describeAuditVerification(result)).toContain(
      'entries 7–7 are chained but not signed yet',
    );
  });

  it('names an edited entry', async () => {
    const lines = exportLines(7);
    lines[entryLine(lines, 4)] = { ...lines[entryLine(lines, 4)], outcome: 'refused' };
    const result = await verifyAuditExport(text(lines), publicKeyPem);
    expect(result).toMatchObject({ ok: false, problem: 'edited', firstBadSeq: 4 });
    expect(describeAuditVerification(result)).toMatch(/^FAILED at seq 4: seq 4 was edited/);
  });

  it('names an entry edited with its hashes recomputed, by the checkpoint that no longer matches', async () => {
    const entries = chain(7);
    const edited = { ...body(5), details: JSON.stringify({ body: { subject: 'usr_9' } }) };
    let prev = entries[3]?.hash ?? AUDIT_GENESIS_HASH;
    const forged: AuditEntry[] = entries.slice(0, 4);
    for (const entry of [edited, body(6), body(7)]) {
      const hash = auditEntryHash(prev, entry);
      forged.push({ ...entry, prevHash: prev, hash });
      prev = hash;
    }
    const lines: Record<string, unknown>[] = [];
    for (const entry of forged) {
      lines.push(auditEntryToLine(entry));
      // The original signed checkpoints are kept: the forger has no key to sign new ones.
      const original = entries[entry.seq - 1];
      if (original && (entry.seq === 3 || entry.seq === 6)) {
        lines.push(auditCheckpointToLine(checkpointAfter(original)));
      }
    }
    const result = await verifyAuditExport(text(lines), publicKeyPem);
    expect(result).toMatchObject({
      ok: false,
      problem: 'checkpoint_mismatch',
      firstBadSeq: 4,
      verifiedThroughSeq: 3,
    });
  });

  it('names a dropped entry', async () => {
    const lines = exportLines(7);
    lines.splice(entryLine(lines, 5), 1);
    const result = await verifyAuditExport(text(lines), publicKeyPem);
    expect(result).toMatchObject({ ok: false, problem: 'dropped', firstBadSeq: 5 });
    expect(describeAuditVerification(result)).toContain('seq 5 is missing');
  });

  it('catches a dropped entry whose followers were renumbered', async () => {
    const lines = exportLines(7, 100).slice(0, -1);
    lines.splice(entryLine(lines, 5), 1);
    for (const line of lines) {
      if (line.type === 'entry' && (line.seq as number) > 5) line.seq = (line.seq as number) - 1;
    }
    const result = await verifyAuditExport(text(lines), publicKeyPem);
    expect(result).toMatchObject({ ok: false, problem: 'dropped', firstBadSeq: 5 });
  });

  it('names a forged checkpoint signature', async () => {
    const lines = exportLines(7);
    const impostor = generateKeyPairSync('ed25519');
    const at = lines.findIndex((l) => l.type === 'checkpoint' && l.seq === 6);
    const entry = chain(6)[5] as AuditEntry;
    lines[at] = auditCheckpointToLine(checkpointAfter(entry, impostor.privateKey));
    const result = await verifyAuditExport(text(lines), publicKeyPem);
    expect(result).toMatchObject({
      ok: false,
      problem: 'forged_signature',
      firstBadSeq: 4,
      verifiedThroughSeq: 3,
    });
    expect(describeAuditVerification(result)).toContain('forged or altered');
  });

  it('refuses a recording checkpoint passed off as an audit one', async () => {
    const lines = exportLines(3, 100).slice(0, -1);
    const entry = chain(3)[2] as AuditEntry;
    const recordingCheckpoint = {
      sessionId: 'sess_1',
      seq: 3,
      hash: entry.hash,
      time: T,
      final: false,
      keyId,
    };
    lines.push({
      type: 'checkpoint',
      seq: 3,
      hash: entry.hash.toString('hex'),
      time: T,
      keyId,
      signature: sign(
        null,
        checkpointSigningBytes(recordingCheckpoint),
        gateway.privateKey,
      ).toString('base64'),
    });
    const result = await verifyAuditExport(text(lines), publicKeyPem);
    expect(result).toMatchObject({ ok: false, problem: 'forged_signature' });
  });

  it('refuses a checkpoint that covers entries cut off the end', async () => {
    const lines = exportLines(6, 6);
    lines.splice(entryLine(lines, 6), 1);
    const result = await verifyAuditExport(text(lines), publicKeyPem);
    expect(result).toMatchObject({ ok: false, problem: 'missing_entries', firstBadSeq: 6 });
  });

  it('says which line is not a record', async () => {
    const result = await verifyAuditExport(`${text(exportLines(2))}{"type":"entry"`, publicKeyPem);
    expect(result).toMatchObject({ ok: false, problem: 'malformed', firstBadSeq: 3 });
    expect(result.ok === false && result.message).toContain('is not JSON');
  });

  describe('across a recording key rotation (issue #17)', () => {
    const before = generateKeyPairSync('ed25519');
    const beforePem = before.publicKey.export({ type: 'spki', format: 'pem' }).toString();

    /** Seq 1–3 checkpointed by the key before the rotation, 4–7 by the current one. */
    function rotatedExport(): string {
      const lines = exportLines(7).filter((line) => line.type !== 'checkpoint');
      const entries = chain(7);
      const third = entries[2] as AuditEntry;
      const unsigned = {
        seq: third.seq,
        hash: third.hash,
        time: third.time,
        keyId: recordingKeyId(beforePem),
      };
      lines.splice(
        entryLine(lines, 4),
        0,
        auditCheckpointToLine({
          ...unsigned,
          signature: sign(null, auditCheckpointSigningBytes(unsigned), before.privateKey),
        }),
      );
      lines.push(auditCheckpointToLine(checkpointAfter(entries[6] as AuditEntry)));
      return text(lines);
    }

    it('verifies checkpoints signed by an earlier key when that key is trusted', async () => {
      const result = await verifyAuditExport(rotatedExport(), publicKeyPem, [beforePem]);
      expect(result).toEqual({ ok: true, entries: 7, lastSeq: 7, lastCheckpointSeq: 7 });
    });

    it('refuses them with the current key alone, naming the key the checkpoint names', async () => {
      const result = await verifyAuditExport(rotatedExport(), publicKeyPem);
      expect(result).toMatchObject({ ok: false, problem: 'other_key', firstBadSeq: 1 });
      expect(result.ok === false && result.message).toContain(recordingKeyId(beforePem));
    });

    it('does not trust a key merely because a checkpoint names it', async () => {
      const stranger = generateKeyPairSync('ed25519');
      const strangerPem = stranger.publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const result = await verifyAuditExport(rotatedExport(), publicKeyPem, [strangerPem]);
      expect(result).toMatchObject({ ok: false, problem: 'other_key', firstBadSeq: 1 });
      expect(result.ok === false && result.message).toContain('nor one of its earlier keys');
    });
  });
});
