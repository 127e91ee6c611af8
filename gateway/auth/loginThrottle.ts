/**
 * Two brakes on password guessing, both in the store, so every gateway replica sees them and a
 * restart does not reset them:
 * - per account: after MAX_FAILURES consecutive failures the account locks for LOCK_MS;
 * - per client address: ADDRESS_MAX_ATTEMPTS a minute, so one address cannot spray many
 *   accounts (each of which would stay under its own lockout).
 */
import type { ReplicaStore } from '../store/replicaStore.ts';

export const MAX_FAILURES = 5;
export const LOCK_MS = 15 * 60 * 1000;
const ADDRESS_WINDOW_MS = 60 * 1000;
const ADDRESS_MAX_ATTEMPTS = 30;

/** What a failed attempt does to the account's counters. */
export function afterFailedLogin(
  failedLogins: number,
  now: number,
): { failedLogins: number; lockedUntil: number | null } {
  const failures = failedLogins + 1;
  return failures >= MAX_FAILURES
    ? { failedLogins: 0, lockedUntil: now + LOCK_MS }
    : { failedLogins: failures, lockedUntil: null };
}

/**
 * The per-address brake, counted in the store (issue #17): behind a load balancer each attempt
 * may reach a different replica, and a count in one process's memory would let an address make
 * ADDRESS_MAX_ATTEMPTS on every replica. A fixed one-minute window per address (one row, one
 * atomic upsert per attempt) rather than the sliding window of before: a sliding one needs a row
 * per attempt, and a burst at a window's edge getting twice the limit is still a brake.
 */
export class AddressRateLimiter {
  private lastSweep = 0;

  constructor(
    private readonly store: Pick<ReplicaStore, 'countLoginAttempt' | 'deleteLoginWindowsBefore'>,
  ) {}

  /** Records an attempt; returns the time the address may try again, or null when allowed. */
  async hit(address: string, now: number): Promise<number | null> {
    await this.sweep(now);
    const { attempts, windowStart } = await this.store.countLoginAttempt(
      address,
      now,
      ADDRESS_WINDOW_MS,
    );
    return attempts > ADDRESS_MAX_ATTEMPTS ? windowStart + ADDRESS_WINDOW_MS : null;
  }

  /** Bounds the table under a flood of distinct addresses: windows long over are forgotten. */
  private async sweep(now: number): Promise<void> {
    if (now - this.lastSweep < ADDRESS_WINDOW_MS) return;
    this.lastSweep = now;
    await this.store.deleteLoginWindowsBefore(now - ADDRESS_WINDOW_MS);
  }
}
