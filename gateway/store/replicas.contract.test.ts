/**
 * The replica store's contract, on SQLite and PostgreSQL (fixtures/storeContract.ts): leases
 * (recorder/replicaLease.ts) and the sign-in limiter per address (auth/loginThrottle.ts), each
 * shared by every replica on the database (issue #17).
 */
import { beforeEach, expect, it } from 'vitest';
import { AddressRateLimiter } from '../auth/loginThrottle.ts';
import { describeStoreContract, T } from './fixtures/storeContract.ts';
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
});
