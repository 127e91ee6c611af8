/**
 * Two brakes on password guessing:
 * - per account: after MAX_FAILURES consecutive failures the account locks for LOCK_MS; the
 *   counter lives in the store, so every gateway replica sees it and a restart does not reset it;
 * - per client address: a sliding one-minute window, in memory, so one address cannot spray
 *   many accounts (each of which would stay under its own lockout).
 */
export const MAX_FAILURES = 5;
export const LOCK_MS = 15 * 60 * 1000;
const ADDRESS_WINDOW_MS = 60 * 1000;
const ADDRESS_MAX_ATTEMPTS = 30;
const MAX_TRACKED_ADDRESSES = 10_000;

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

export class AddressRateLimiter {
  private readonly attempts = new Map<string, number[]>();

  /** Records an attempt; returns the time the address may try again, or null when allowed. */
  hit(address: string, now: number): number | null {
    const recent = (this.attempts.get(address) ?? []).filter((t) => t > now - ADDRESS_WINDOW_MS);
    if (recent.length >= ADDRESS_MAX_ATTEMPTS) {
      this.attempts.set(address, recent);
      return recent[0]! + ADDRESS_WINDOW_MS;
    }
    recent.push(now);
    // Bound memory under a flood of distinct addresses: forget the oldest entry.
    if (!this.attempts.has(address) && this.attempts.size >= MAX_TRACKED_ADDRESSES) {
      const oldest = this.attempts.keys().next().value;
      if (oldest !== undefined) this.attempts.delete(oldest);
    }
    this.attempts.set(address, recent);
    return null;
  }
}
