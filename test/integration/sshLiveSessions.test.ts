/**
 * The live-session registry the SSH proxy uses (gateway/sessions/liveSessions.ts), against a
 * real SQLite store and a hand-driven clock: ends sessions at expiresAt, notices a row ended
 * elsewhere (API terminate, another replica) within a poll, and marks normal ends in the store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../gateway/clock.ts';
import { silentLogger } from '../../gateway/logger.ts';
import { newId } from '../../gateway/newId.ts';
import { reviewAccess } from '../../gateway/sessions/accessReview.ts';
import {
  describeSessionEnd,
  LiveSessions,
  type SessionEndCause,
} from '../../gateway/sessions/liveSessions.ts';
import { openSqliteStore } from '../../gateway/store/openStore.ts';
import type { Store } from '../../gateway/store/store.ts';

let dir: string;
let store: Store;
let clock: ManualClock;
let live: LiveSessions;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'witness-live-'));
  store = await openSqliteStore(path.join(dir, 'witness.sqlite'));
  clock = new ManualClock(Date.UTC(2026, 0, 5, 13, 0, 0));
  live = new LiveSessions({ store, clock, log: silentLogger, pollIntervalMs: 20 });
});
afterEach(async () => {
  live.shutdown();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function liveSession(
  expiresInMs: number,
): Promise<{ id: string; expiresAt: number; userId: string; grantId: string }> {
  const now = clock.now();
  const userId = newId('usr');
  await store.createUser({
    id: userId,
    username: `u-${userId}`,
    role: 'engineer',
    groups: [],
    passwordHash: null,
    createdAt: now,
  });
  const resourceId = newId('res');
  await store.createResource({
    id: resourceId,
    name: `r-${resourceId}`,
    description: '',
    kind: 'ssh',
    labels: {},
    target: {},
    secretCiphertext: null,
    secretFields: [],
    policy: { masking: [], guardrails: [] },
    createdAt: now,
    updatedAt: now,
  });
  const grantId = newId('grt');
  await store.createGrant({
    id: grantId,
    subjectKind: 'user',
    subject: userId,
    targetKind: 'resource',
    resourceId,
    selector: null,
    mode: 'standing',
    policy: { masking: [], guardrails: [] },
    validFrom: null,
    validUntil: null,
    maxSessionSeconds: 3600,
    description: '',
    createdBy: userId,
    createdAt: now,
    approvers: { users: [], groups: [] },
    approvalsRequired: 1,
    requestId: null,
  });
  const id = newId('ses');
  await store.createSession({
    id,
    userId,
    resourceId,
    grantId,
    state: 'live',
    ticketHash: id,
    ticketExpiresAt: now + 60_000,
    ticketUsedAt: now,
    createdAt: now,
    startedAt: now,
    endedAt: null,
    expiresAt: now + expiresInMs,
    endReason: null,
    requestId: null,
  });
  return { id, expiresAt: now + expiresInMs, userId, grantId };
}

function waitForEnd(): { ended: Promise<SessionEndCause>; end: (cause: SessionEndCause) => void } {
  let end!: (cause: SessionEndCause) => void;
  const ended = new Promise<SessionEndCause>((resolve) => {
    end = resolve;
  });
  return { ended, end };
}

describe('LiveSessions', () => {
  it('ends a session when the clock reaches expiresAt, and marks it ended', async () => {
    const session = await liveSession(120_000);
    const { ended, end } = waitForEnd();
    live.register(session.id, session.expiresAt, end);
    clock.advance(119_000);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(live.sessionIds).toEqual([session.id]);
    clock.advance(1_000);
    expect(await ended).toEqual({ kind: 'expired', at: session.expiresAt });
    const row = await store.getSession(session.id);
    expect(row?.state).toBe('ended');
    expect(row?.endReason).toMatch(/^expired at .* \(grant limit\)$/);
  });

  it('notices a row ended elsewhere (terminate) within a poll', async () => {
    const session = await liveSession(3600_000);
    const { ended, end } = waitForEnd();
    live.register(session.id, session.expiresAt, end);
    await store.endSession(session.id, 'terminated by root', clock.now());
    const started = Date.now();
    expect(await ended).toEqual({ kind: 'terminated', reason: 'terminated by root' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('marks a normally finished session ended and stops watching it; end is never called', async () => {
    const session = await liveSession(3600_000);
    let calls = 0;
    const handle = live.register(session.id, session.expiresAt, () => {
      calls += 1;
    });
    await handle.finish('closed by the client');
    await handle.finish('twice');
    expect(live.sessionIds).toEqual([]);
    const row = await store.getSession(session.id);
    expect(row).toMatchObject({ state: 'ended', endReason: 'closed by the client' });
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls).toBe(0);
  });

  it('ends a session at its end moved earlier in the store (a grant narrowed), not the old one', async () => {
    const session = await liveSession(3600_000);
    const { ended, end } = waitForEnd();
    let endedAt: number | undefined;
    live.register(session.id, session.expiresAt, (cause) => {
      endedAt = clock.now();
      end(cause);
    });
    const newEnd = clock.now() + 30_000;
    await store.setSessionExpiry(session.id, newEnd);
    await new Promise((resolve) => setTimeout(resolve, 60)); // a poll reads the new end
    clock.advance(29_000);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(endedAt).toBeUndefined();
    clock.advance(1_000);
    expect(await ended).toEqual({ kind: 'expired', at: newEnd });
    expect(endedAt).toBe(newEnd);
  });

  it('says what happened in words a person can act on', () => {
    const at = Date.UTC(2026, 0, 5, 14, 2, 0);
    expect(describeSessionEnd({ kind: 'expired', at }, 'web-1')).toBe(
      'Your access to web-1 ended at 14:02 UTC (grant limit). Request access again to continue.',
    );
    expect(describeSessionEnd({ kind: 'terminated', reason: 'terminated by root' }, 'web-1')).toBe(
      'Your session on web-1 was ended (terminated by root).',
    );
    expect(describeSessionEnd({ kind: 'shutdown' }, 'web-1')).toContain('shutting down');
  });
});

describe('reviewAccess: the one rule for taking access away (issue #14)', () => {
  it("moves a session's end to its grant's new, earlier end and keeps it running", async () => {
    const session = await liveSession(3600_000);
    const validUntil = clock.now() + 10_000;
    await store.updateGrant(session.grantId, { validUntil });
    const result = await reviewAccess(store, clock, { grantId: session.grantId });
    expect(result.ended).toEqual([]);
    expect(result.shortened.map((s) => s.id)).toEqual([session.id]);
    expect(await store.getSession(session.id)).toMatchObject({
      state: 'live',
      expiresAt: validUntil,
    });
  });

  it('never lengthens a session: a later grant end leaves its end alone', async () => {
    const session = await liveSession(60_000);
    await store.updateGrant(session.grantId, { validUntil: clock.now() + 7200_000 });
    const result = await reviewAccess(store, clock, { grantId: session.grantId });
    expect(result).toEqual({ ended: [], shortened: [] });
    expect((await store.getSession(session.id))?.expiresAt).toBe(session.expiresAt);
  });

  it("ends a disabled user's sessions, and those of a grant that no longer applies", async () => {
    const disabled = await liveSession(3600_000);
    await store.updateUser(disabled.userId, { disabled: true });
    const byUser = await reviewAccess(store, clock, { userId: disabled.userId });
    expect(byUser.ended.map((s) => [s.id, s.endReason])).toEqual([
      [disabled.id, 'access revoked: the account was disabled'],
    ]);

    const lapsed = await liveSession(3600_000);
    await store.updateGrant(lapsed.grantId, { validUntil: clock.now() });
    const byGrant = await reviewAccess(store, clock, { grantId: lapsed.grantId });
    expect(byGrant.ended.map((s) => [s.id, s.endReason])).toEqual([
      [lapsed.id, 'access revoked: the grant is no longer valid'],
    ]);
    expect((await store.getSession(lapsed.id))?.state).toBe('ended');
  });
});
