/**
 * The seam that announces session changes (issue #17): every way a session row is ended or
 * shortened is published once per changed row, nothing is published for a row that did not
 * change, and a bus that fails to publish does not fail the change (the store is the truth).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../logger.ts';
import { grant, newUser, resource, session, T } from '../store/fixtures/storeContract.ts';
import { openSqliteStore } from '../store/openStore.ts';
import type { Store } from '../store/store.ts';
import type { EventPublisher } from './eventBus.ts';
import type { GatewayEvent } from './gatewayEvents.ts';
import { announceSessionChanges, announceWatchEnds } from './replicaAnnouncements.ts';

describe('announceSessionChanges', () => {
  let store: Store;
  const published: GatewayEvent[] = [];
  const bus: EventPublisher = {
    publish: async (event) => {
      published.push(event);
    },
  };

  beforeEach(async () => {
    published.length = 0;
    store = await openSqliteStore(':memory:');
    await store.createUser(newUser(1));
    await store.createResource(resource(1));
    await store.createGrant(grant(1));
    for (const n of [1, 2, 3]) await store.createSession(session(n, { state: 'live' }));
  });
  afterEach(async () => {
    await store.close();
  });

  it('announces each row ended or shortened, and only those', async () => {
    const announcing = announceSessionChanges(store, bus, silentLogger);
    expect(await announcing.endSession('ses_1', 'terminated', T + 10)).toBeDefined();
    expect(await announcing.endSession('ses_1', 'again', T + 11)).toBeUndefined();
    expect(await announcing.setSessionExpiry('ses_2', T + 1000)).toBeDefined();
    const ended = await announcing.endOpenSessions({ resourceId: 'res_1' }, 'deleted', T + 20);
    expect(ended.map((s) => s.id).sort()).toEqual(['ses_2', 'ses_3']);
    expect(published).toEqual([
      { kind: 'session.changed', sessionId: 'ses_1' },
      { kind: 'session.changed', sessionId: 'ses_2' },
      ...ended.map((s) => ({ kind: 'session.changed', sessionId: s.id })),
    ]);
    // The rest of the store is the store's own.
    expect((await announcing.getSession('ses_1'))?.endReason).toBe('terminated');
  });

  it('a publish that fails does not fail the change', async () => {
    const failing: EventPublisher = {
      publish: async () => {
        throw new Error('database unreachable');
      },
    };
    const announcing = announceSessionChanges(store, failing, silentLogger);
    expect(await announcing.endSession('ses_1', 'terminated', T + 10)).toBeDefined();
    expect((await store.getSession('ses_1'))?.state).toBe('ended');
  });
});

describe('announceWatchEnds', () => {
  it('ends the watches here at once and announces it to the others', async () => {
    const published: GatewayEvent[] = [];
    const ended: string[] = [];
    const watches = announceWatchEnds(
      { endFor: (userId, reason) => ended.push(`${userId}: ${reason}`) },
      { publish: async (event) => void published.push(event) },
      silentLogger,
    );
    expect(watches.endFor('usr_1', 'the account was disabled')).toBe(1);
    expect(ended).toEqual(['usr_1: the account was disabled']);
    await Promise.resolve();
    expect(published).toEqual([
      { kind: 'user.accessChanged', userId: 'usr_1', reason: 'the account was disabled' },
    ]);
  });
});
