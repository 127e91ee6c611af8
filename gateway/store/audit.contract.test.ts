/**
 * The audit store's contract (auditStore.ts), on SQLite and PostgreSQL: entries round-trip,
 * the list filters and pages newest first, checkpoints are kept once per seq, and concurrent
 * appends — many at once on one store, and two replicas on two connections — form one chain
 * with no gap and no fork.
 */
import { beforeEach, expect, it } from 'vitest';
import { AUDIT_GENESIS_HASH, auditEntryHash } from '../../shared/recording/auditChain.ts';
import type { AuditEntryRecord, AuditHead } from './auditStore.ts';
import { describeStoreContract, T } from './fixtures/storeContract.ts';
import type { Store } from './store.ts';

interface Fields {
  actorId?: string | null;
  actorName?: string | null;
  action?: string;
  target?: string;
  details?: Record<string, unknown>;
  time?: number;
}

/** Builds the next entry on whatever head the store hands over, as the AuditTrail does. */
const next =
  (fields: Fields = {}) =>
  (head: AuditHead): AuditEntryRecord => {
    const body = {
      seq: head.seq + 1,
      time: fields.time ?? T + head.seq + 1,
      actorId: fields.actorId === undefined ? 'usr_1' : fields.actorId,
      actorName: fields.actorName === undefined ? 'root' : fields.actorName,
      action: fields.action ?? 'admin.createGrant',
      target: fields.target ?? 'grant:grt_1',
      outcome: 'succeeded',
      details: JSON.stringify(fields.details ?? {}),
    };
    const prevHash = head.hash ?? AUDIT_GENESIS_HASH;
    return { ...body, prevHash, hash: auditEntryHash(prevHash, body) };
  };

/** Checks that the stored entries form one unbroken chain from seq 1. */
async function expectOneChain(store: Store, count: number): Promise<void> {
  const entries = await store.readAuditEntries(1, Number.MAX_SAFE_INTEGER, 10_000);
  expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  let prev = AUDIT_GENESIS_HASH;
  for (const entry of entries) {
    expect(entry.prevHash.equals(prev)).toBe(true);
    expect(auditEntryHash(prev, entry).equals(entry.hash)).toBe(true);
    prev = entry.hash;
  }
}

describeStoreContract('audit log', (underTest) => {
  let store: Store;
  beforeEach(() => {
    store = underTest.store;
  });

  it('appends after the head and round-trips every field', async () => {
    expect(await store.auditHead()).toEqual({ seq: 0, hash: null });
    const first = await store.appendAuditEntry(next({ details: { reason: 'incident 42' } }));
    const second = await store.appendAuditEntry(next({ actorId: null, actorName: null }));
    expect(first.seq).toBe(1);
    expect(second.prevHash.equals(first.hash)).toBe(true);
    expect(await store.getAuditEntry(1)).toEqual(first);
    expect(await store.getAuditEntry(2)).toEqual(second);
    expect(await store.auditHead()).toEqual({ seq: 2, hash: second.hash });
  });

  it('filters by actor, action prefix, words and time, newest first, and pages by seq', async () => {
    await store.appendAuditEntry(next({ action: 'session.allowed', target: 'resource:db-1' }));
    await store.appendAuditEntry(
      next({ action: 'session.refused', actorId: 'usr_2', actorName: 'alice' }),
    );
    await store.appendAuditEntry(
      next({ action: 'admin.deleteGrant', details: { why: '50%_off' } }),
    );
    await store.appendAuditEntry(next({ action: 'sessionish', target: 'x' }));
    const seqs = async (filter: Parameters<Store['listAuditEntries']>[0]) =>
      (await store.listAuditEntries(filter)).map((e) => e.seq);
    expect(await seqs({ limit: 10 })).toEqual([4, 3, 2, 1]);
    expect(await seqs({ action: 'session', limit: 10 })).toEqual([2, 1]);
    expect(await seqs({ action: 'session.refused', limit: 10 })).toEqual([2]);
    expect(await seqs({ actor: 'alice', limit: 10 })).toEqual([2]);
    expect(await seqs({ actor: 'usr_2', limit: 10 })).toEqual([2]);
    expect(await seqs({ text: 'DB-1', limit: 10 })).toEqual([1]);
    expect(await seqs({ text: '50%_', limit: 10 })).toEqual([3]);
    expect(await seqs({ text: '%', limit: 10 })).toEqual([3]);
    expect(await seqs({ since: T + 2, until: T + 4, limit: 10 })).toEqual([3, 2]);
    expect(await seqs({ limit: 2 })).toEqual([4, 3]);
    expect(await seqs({ beforeSeq: 3, limit: 2 })).toEqual([2, 1]);
    expect(await store.readAuditEntries(2, 3, 10)).toHaveLength(2);
  });

  it('keeps one checkpoint per seq and finds the latest', async () => {
    const entry = await store.appendAuditEntry(next());
    const checkpoint = {
      seq: 1,
      hash: entry.hash,
      time: T + 5,
      keyId: 'ed25519:0011223344556677',
      signature: Buffer.alloc(64, 7),
    };
    expect(await store.latestAuditCheckpoint()).toBeUndefined();
    await store.addAuditCheckpoint(checkpoint);
    await store.addAuditCheckpoint({ ...checkpoint, time: T + 6 });
    expect(await store.latestAuditCheckpoint()).toEqual(checkpoint);
    expect(await store.listAuditCheckpoints(0, 1)).toEqual([checkpoint]);
    expect(await store.listAuditCheckpoints(2, 9)).toEqual([]);
  });

  it('forms one chain from many concurrent appends on one store', async () => {
    await Promise.all(Array.from({ length: 40 }, () => store.appendAuditEntry(next())));
    await expectOneChain(store, 40);
  });

  it('forms one chain when two replicas append at once on two connections', async () => {
    const other = await underTest.openAnother();
    const appends = (on: Store, count: number) =>
      Array.from({ length: count }, () => () => on.appendAuditEntry(next()));
    const mine = appends(store, 25);
    const theirs = appends(other, 25);
    if (underTest.kind === 'postgres') {
      // Interleaved on two pools: each append waits on the other's advisory lock.
      await Promise.all([...mine, ...theirs].map((append) => append()));
    } else {
      // better-sqlite3 is synchronous: a second connection in this process waiting on the
      // first's lock would block the thread the first needs to commit (SQLite replicas are
      // processes; BEGIN IMMEDIATE serialises them). Here they take turns, one by one.
      for (let i = 0; i < 25; i++) {
        await mine[i]?.();
        await theirs[i]?.();
      }
    }
    await expectOneChain(store, 50);
  });
});
