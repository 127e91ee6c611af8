/**
 * The replica store's contract, on SQLite and PostgreSQL (fixtures/storeContract.ts): leases
 * (recorder/replicaLease.ts) and the sign-in limiter per address (auth/loginThrottle.ts), each
 * shared by every replica on the database (issue #17).
 */
import { beforeEach, expect, it } from 'vitest';
import { AddressRateLimiter } from '../auth/loginThrottle.ts';
import { silentLogger } from '../logger.ts';
import { ReplicaLease, type TakenOver } from '../sessions/replicaLease.ts';
import {
  describeStoreContract,
  grant,
  newUser,
  recording,
  resource,
  session,
  T,
} from './fixtures/storeContract.ts';
import type { Store } from './store.ts';

describeStoreContract('replicas', (underTest) => {
  let store: Store;
  beforeEach(() => {
    store = underTest.store;
  });

  it('lists leases that ran out, never its own, and releases only a lease still expired', async () => {
    await store.renewLease('gw_a', T, T + 5000);
    await store.renewLease('gw_b', T, T + 5000);
    expect(await store.listExpiredLeases(T + 4000, 'gw_a')).toEqual([]);
    expect(await store.listExpiredLeases(T + 6000, 'gw_a')).toEqual(['gw_b']);
    expect(await store.listExpiredLeases(T + 6000, 'gw_c')).toEqual(['gw_a', 'gw_b']);
    // gw_b comes back and renews before anyone released it: its lease is not taken.
    await store.renewLease('gw_b', T + 6500, T + 11_500);
    expect(await store.releaseLease('gw_b', T + 7000)).toBe(false);
    expect(await store.listExpiredLeases(T + 7000, 'gw_a')).toEqual([]);
    expect(await store.releaseLease('gw_b', T + 12_000)).toBe(true);
    expect(await store.releaseLease('gw_b', T + 12_000)).toBe(false);
    expect(await store.releaseLease('gw_a', null)).toBe(true);
    expect(await store.listExpiredLeases(T + 60_000, 'x')).toEqual([]);
  });

  it('counts sign-in attempts per address in one-minute windows, on every replica', async () => {
    const other = await underTest.openAnother();
    const here = new AddressRateLimiter(store);
    const there = new AddressRateLimiter(other);
    // 30 attempts spread over two replicas are allowed; the 31st, on either, is not.
    for (let n = 0; n < 30; n += 1) {
      expect(await (n % 2 ? here : there).hit('10.0.0.1', T + n)).toBeNull();
    }
    expect(await here.hit('10.0.0.1', T + 100)).toBe(T + 60_000);
    expect(await there.hit('10.0.0.1', T + 200)).toBe(T + 60_000);
    // Another address has its own count; a new window starts after the minute.
    expect(await there.hit('10.0.0.2', T + 300)).toBeNull();
    expect(await here.hit('10.0.0.1', T + 60_000)).toBeNull();
    expect(await store.countLoginAttempt('10.0.0.1', T + 60_001, 60_000)).toEqual({
      attempts: 2,
      windowStart: T + 60_000,
    });
    await store.deleteLoginWindowsBefore(T + 1000);
    expect(await store.countLoginAttempt('10.0.0.2', T + 60_002, 60_000)).toEqual({
      attempts: 1,
      windowStart: T + 60_002,
    });
  });

  it('a replica whose lease ran out is taken over: recordings interrupted, sessions ended', async () => {
    await store.createUser(newUser(1));
    await store.createResource(resource(1));
    await store.createGrant(grant(1));
    for (const n of [1, 2]) {
      await store.createSession(session(n, { state: 'live', startedAt: T + n }));
    }
    await store.createRecording(recording(1, { owner: 'gw_dead' }));
    await store.createRecording(recording(2, { owner: 'gw_alive' }));
    let now = T + 10_000;
    const clock = { now: () => now };
    const replica = (instanceId: string, onTakeOver?: (t: TakenOver) => void) =>
      new ReplicaLease({
        store,
        instanceId,
        clock,
        log: silentLogger,
        renewMs: 60_000, // ticks driven by the test
        ...(onTakeOver && { onTakeOver }),
      });
    const dead = replica('gw_dead');
    const alive = replica('gw_alive');
    await dead.start();
    await alive.start();
    expect(await alive.takeOverExpired()).toEqual([]);
    now += 6000; // gw_dead stopped renewing; gw_alive renews at its next tick
    await store.renewLease('gw_alive', now, now + 5000);
    const taken = await alive.takeOverExpired();
    expect(taken).toEqual([{ instanceId: 'gw_dead', recordings: ['ses_1'], sessions: ['ses_1'] }]);
    expect((await store.getRecording('ses_1'))?.status).toBe('interrupted');
    expect((await store.getSession('ses_1'))?.state).toBe('ended');
    // What the live replica carries is not touched, and nothing is taken over twice.
    expect((await store.getRecording('ses_2'))?.status).toBe('recording');
    expect((await store.getSession('ses_2'))?.state).toBe('live');
    expect(await alive.takeOverExpired()).toEqual([]);
    await alive.stop();
    await dead.stop();
    expect(await store.listExpiredLeases(now + 60_000, 'x')).toEqual([]);
  });
});
