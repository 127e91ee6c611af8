import { generateKeyPairSync, sign } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { auditCheckpointToLine, auditEntryToLine } from '../../shared/recording/auditChain.ts';
import { verifyAuditExport } from '../../shared/recording/verifyAuditLog.ts';
import { recordingKeyId } from '../../shared/recording/verifyRecording.ts';
import { ManualClock } from '../clock.ts';
import { openSqliteStore } from '../store/openStore.ts';
import type { Store } from '../store/store.ts';
import { AuditTrail } from './auditTrail.ts';

const key = generateKeyPairSync('ed25519');
const publicKeyPem = key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const signer = {
  keyId: recordingKeyId(publicKeyPem),
  sign: (bytes: Uint8Array) => sign(null, bytes, key.privateKey),
};
const event = (n: number) => ({
  actor: { id: 'usr_1', name: 'root' },
  action: 'admin.createGrant',
  target: `/grants/grt_${n}`,
  outcome: 'succeeded' as const,
  details: { n },
});

/** The store's log as an export would carry it. */
async function exported(store: Store): Promise<string> {
  const entries = await store.readAuditEntries(1, Number.MAX_SAFE_INTEGER, 10_000);
  const checkpoints = await store.listAuditCheckpoints(0, Number.MAX_SAFE_INTEGER);
  const lines: unknown[] = [];
  for (const entry of entries) {
    lines.push(auditEntryToLine(entry));
    const checkpoint = checkpoints.find((c) => c.seq === entry.seq);
    if (checkpoint) lines.push(auditCheckpointToLine(checkpoint));
  }
  return lines.map((line) => JSON.stringify(line)).join('\n');
}

describe('AuditTrail', () => {
  let store: Store;
  const clock = new ManualClock(1_750_000_000_000);
  beforeEach(async () => {
    store = await openSqliteStore(':memory:');
  });
  afterEach(async () => {
    await store.close();
  });

  it('chains entries and signs the head every N entries', async () => {
    const trail = new AuditTrail({
      store,
      clock,
      signer,
      checkpointEvery: 3,
      checkpointAfterMs: 60_000,
    });
    for (let n = 1; n <= 7; n++) await trail.record(event(n));
    await trail.checkpointNow(); // waits for the checkpoints the appends queued
    const seqs = (await store.listAuditCheckpoints(0, 100)).map((c) => c.seq);
    // The 3rd and 6th appends each queue a signature of the head; an append racing it may
    // land first, so the checkpoint covers that one too.
    expect(seqs.some((seq) => seq === 3 || seq === 4)).toBe(true);
    expect(seqs.some((seq) => seq === 6 || seq === 7)).toBe(true);
    expect(await verifyAuditExport(await exported(store), publicKeyPem)).toMatchObject({
      ok: true,
      lastSeq: 7,
      lastCheckpointSeq: 7,
    });
    await trail.close();
  });

  it('signs within checkpointAfterMs of an entry even when few arrive', async () => {
    const trail = new AuditTrail({
      store,
      clock,
      signer,
      checkpointEvery: 100,
      checkpointAfterMs: 50,
    });
    await trail.record(event(1));
    expect(await store.latestAuditCheckpoint()).toBeUndefined();
    const deadline = Date.now() + 2000;
    while (!(await store.latestAuditCheckpoint()) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect((await store.latestAuditCheckpoint())?.seq).toBe(1);
    await trail.close();
  });

  it('does not sign the same head twice, and signs what is left when it closes', async () => {
    const trail = new AuditTrail({
      store,
      clock,
      signer,
      checkpointEvery: 100,
      checkpointAfterMs: 60_000,
    });
    expect(await trail.checkpointNow()).toBeUndefined(); // an empty log has nothing to sign
    await trail.record(event(1));
    const first = await trail.checkpointNow();
    expect(await trail.checkpointNow()).toEqual(first);
    await trail.record(event(2));
    await trail.close();
    expect((await store.listAuditCheckpoints(0, 100)).map((c) => c.seq)).toEqual([1, 2]);
  });

  it('keeps one chain when records are made concurrently', async () => {
    const trail = new AuditTrail({
      store,
      clock,
      signer,
      checkpointEvery: 5,
      checkpointAfterMs: 60_000,
    });
    await Promise.all(Array.from({ length: 30 }, (_, n) => trail.record(event(n))));
    await trail.close();
    expect(await verifyAuditExport(await exported(store), publicKeyPem)).toMatchObject({
      ok: true,
      lastSeq: 30,
      lastCheckpointSeq: 30,
    });
  });
});
