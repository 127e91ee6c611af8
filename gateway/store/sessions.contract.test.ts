/**
 * The sessions store's contract, on SQLite and PostgreSQL (fixtures/storeContract.ts).
 * Sessions and connect tickets (sessionStore.ts): a ticket is redeemed once, a session ends
 * once, across replicas.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  describeStoreContract,
  grant,
  newUser,
  resource,
  session,
  T,
} from './fixtures/storeContract.ts';
import type { Store } from './store.ts';
import { StoreConflictError } from './storeConflictError.ts';

describeStoreContract('sessions', (underTest) => {
  let store: Store;
  const openAnother = () => underTest.openAnother();
  beforeEach(() => {
    store = underTest.store;
  });

  describe('sessions', () => {
    beforeEach(async () => {
      await store.createUser(newUser(1));
      await store.createUser(newUser(2));
      await store.createResource(resource(1));
      await store.createResource(resource(2));
      await store.createGrant(grant(1));
    });

    it('stores and returns sessions', async () => {
      await store.createSession(session(1));
      expect(await store.getSession('ses_1')).toEqual(session(1));
      expect(await store.getSession('ses_404')).toBeUndefined();
      await expect(store.createSession(session(1))).rejects.toBeInstanceOf(StoreConflictError);
    });

    it('refuses a session for an unknown user', async () => {
      await expect(store.createSession(session(1, { userId: 'usr_404' }))).rejects.toThrow();
    });

    it('lists newest first, filtered by state, user and resource, up to the limit', async () => {
      await store.createSession(session(1, { createdAt: T + 1 }));
      await store.createSession(session(2, { createdAt: T + 2, userId: 'usr_2' }));
      await store.createSession(session(3, { createdAt: T + 3, resourceId: 'res_2' }));
      await store.createSession(session(4, { createdAt: T + 4, state: 'ended', endedAt: T + 5 }));
      await store.createSession(session(5, { createdAt: T + 5, state: 'live' }));
      const ids = async (filter: Parameters<Store['listSessions']>[0]) =>
        (await store.listSessions(filter)).map((s) => s.id);

      expect(await ids({ limit: 100 })).toEqual(['ses_5', 'ses_4', 'ses_3', 'ses_2', 'ses_1']);
      expect(await ids({ limit: 2 })).toEqual(['ses_5', 'ses_4']);
      expect(await ids({ state: 'pending', limit: 100 })).toEqual(['ses_3', 'ses_2', 'ses_1']);
      expect(await ids({ userId: 'usr_2', limit: 100 })).toEqual(['ses_2']);
      expect(await ids({ resourceId: 'res_2', limit: 100 })).toEqual(['ses_3']);
      expect(await ids({ userId: 'usr_1', resourceId: 'res_1', limit: 100 })).toEqual([
        'ses_5',
        'ses_4',
        'ses_1',
      ]);
      expect(await ids({ userId: 'usr_1', state: 'live', limit: 100 })).toEqual(['ses_5']);
      expect(await ids({ userId: 'usr_404', limit: 100 })).toEqual([]);
      // Full records, not just ids.
      expect((await store.listSessions({ state: 'ended', limit: 1 }))[0]).toEqual(
        session(4, { createdAt: T + 4, state: 'ended', endedAt: T + 5 }),
      );
    });

    it('redeems a ticket once: live, started and marked used at now', async () => {
      await store.createSession(session(1));
      const redeemed = await store.redeemTicket('ses_1', 'ticket-1', T + 100);
      const expected = session(1, {
        state: 'live',
        ticketUsedAt: T + 100,
        startedAt: T + 100,
      });
      expect(redeemed).toEqual(expected);
      expect(await store.getSession('ses_1')).toEqual(expected);
      expect(await store.redeemTicket('ses_1', 'ticket-1', T + 101)).toBeUndefined();
      expect(await store.getSession('ses_1')).toEqual(expected);
    });

    it('refuses wrong-hash, expired, unknown and non-pending tickets without touching them', async () => {
      await store.createSession(session(1));
      expect(await store.redeemTicket('ses_1', 'ticket-2', T + 100)).toBeUndefined();
      expect(await store.redeemTicket('ses_404', 'ticket-1', T + 100)).toBeUndefined();
      // Expiry is exclusive: at ticketExpiresAt the ticket is dead.
      expect(await store.redeemTicket('ses_1', 'ticket-1', T + 60_000)).toBeUndefined();
      expect(await store.getSession('ses_1')).toEqual(session(1));

      await store.createSession(session(2));
      await store.endSession('ses_2', 'cancelled', T + 10);
      expect(await store.redeemTicket('ses_2', 'ticket-2', T + 20)).toBeUndefined();
      expect((await store.getSession('ses_2'))?.state).toBe('ended');

      // A ticket already marked used is refused even if the session still reads pending.
      await store.createSession(session(3, { ticketUsedAt: T + 1 }));
      expect(await store.redeemTicket('ses_3', 'ticket-3', T + 20)).toBeUndefined();
      expect(await store.getSession('ses_3')).toEqual(session(3, { ticketUsedAt: T + 1 }));
    });

    it('lets exactly one of several concurrent redemptions win, across replicas', async () => {
      await store.createSession(session(1));
      const replica = await openAnother();
      const attempts = [store, replica, store, replica, store, replica];
      const results = await Promise.all(
        attempts.map((s, i) => s.redeemTicket('ses_1', 'ticket-1', T + 100 + i)),
      );
      const winners = results.filter((r) => r !== undefined);
      expect(winners).toHaveLength(1);
      expect(await store.getSession('ses_1')).toEqual(winners[0]);
    });

    it('ends a session once, keeping the first reason', async () => {
      await store.createSession(session(1));
      await store.redeemTicket('ses_1', 'ticket-1', T + 100);
      const ended = await store.endSession('ses_1', 'client closed', T + 200);
      const expected = session(1, {
        state: 'ended',
        ticketUsedAt: T + 100,
        startedAt: T + 100,
        endedAt: T + 200,
        endReason: 'client closed',
      });
      expect(ended).toEqual(expected);
      expect(await store.endSession('ses_1', 'killed by admin', T + 300)).toBeUndefined();
      expect(await store.getSession('ses_1')).toEqual(expected);
      expect(await store.endSession('ses_404', 'x', T)).toBeUndefined();
    });

    it('ends all open sessions of a grant, a resource or a user, and only those', async () => {
      await store.createSession(session(1));
      await store.createSession(session(2, { grantId: 'grt_2', resourceId: 'res_2' }));
      await store.createSession(session(3, { state: 'ended', endedAt: T + 3, endReason: 'done' }));
      await store.createSession(
        session(4, { userId: 'usr_2', grantId: 'grt_2', resourceId: 'res_2' }),
      );
      const byGrant = await store.endOpenSessions({ grantId: 'grt_1' }, 'grant revoked', T + 50);
      expect(byGrant.map((s) => s.id)).toEqual(['ses_1']);
      expect(await store.getSession('ses_3')).toMatchObject({
        endReason: 'done',
        endedAt: T + 3,
      });
      const byUser = await store.endOpenSessions({ userId: 'usr_2' }, 'user disabled', T + 60);
      expect(byUser.map((s) => s.id)).toEqual(['ses_4']);
      const byResource = await store.endOpenSessions(
        { resourceId: 'res_2' },
        'resource deleted',
        T + 70,
      );
      expect(byResource).toEqual([
        session(2, {
          grantId: 'grt_2',
          resourceId: 'res_2',
          state: 'ended',
          endedAt: T + 70,
          endReason: 'resource deleted',
        }),
      ]);
      expect(await store.endOpenSessions({ resourceId: 'res_2' }, 'again', T + 80)).toEqual([]);
    });

    it('moves the end of an open session, never of an ended one (issue #14)', async () => {
      await store.createSession(session(1));
      await store.createSession(session(2, { state: 'ended', endedAt: T + 3, endReason: 'done' }));
      expect(await store.setSessionExpiry('ses_1', T + 40)).toEqual(
        session(1, { expiresAt: T + 40 }),
      );
      expect((await store.getSession('ses_1'))?.expiresAt).toBe(T + 40);
      expect(await store.setSessionExpiry('ses_2', T + 40)).toBeUndefined();
      expect((await store.getSession('ses_2'))?.expiresAt).toBe(session(2).expiresAt);
      expect(await store.setSessionExpiry('ses_404', T + 40)).toBeUndefined();
    });

    it('ends a pending session, after which its ticket no longer works', async () => {
      await store.createSession(session(1));
      expect(await store.endSession('ses_1', 'grant revoked', T + 5)).toMatchObject({
        state: 'ended',
        startedAt: null,
        endedAt: T + 5,
        endReason: 'grant revoked',
      });
      expect(await store.redeemTicket('ses_1', 'ticket-1', T + 6)).toBeUndefined();
    });

    it('lets exactly one of several concurrent endSession calls win, across replicas', async () => {
      await store.createSession(session(1));
      const replica = await openAnother();
      const results = await Promise.all(
        [store, replica, store, replica].map((s, i) => s.endSession('ses_1', `r${i}`, T + i)),
      );
      const winners = results.filter((r) => r !== undefined);
      expect(winners).toHaveLength(1);
      expect((await store.getSession('ses_1'))?.endReason).toBe(winners[0]?.endReason);
    });
  });
});
