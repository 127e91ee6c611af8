/**
 * What gateway replicas sharing one database keep there so no replica's memory holds what
 * another needs (issue #17): each replica's lease (its heartbeat), and the sign-in limiter's
 * count per client address.
 */
export interface ReplicaStore {
  /** Creates or extends `instanceId`'s lease to `expiresAt`. */
  renewLease(instanceId: string, now: number, expiresAt: number): Promise<void>;
  /** Replicas whose lease ran out before `now`, other than `self`. */
  listExpiredLeases(now: number, self: string): Promise<string[]>;
  /**
   * Deletes `instanceId`'s lease if it is still expired at `now` (a replica that came back and
   * renewed keeps its lease); true when this call deleted it. `now` null: delete whatever it
   * holds (a replica stopping cleanly).
   */
  releaseLease(instanceId: string, now: number | null): Promise<boolean>;
  /**
   * Counts one sign-in attempt from `address` in its current window of `windowMs` (a new
   * window starts when the last one is over), atomically, whichever replica counts it.
   */
  countLoginAttempt(
    address: string,
    now: number,
    windowMs: number,
  ): Promise<{ attempts: number; windowStart: number }>;
  /** Forgets windows that ended before `before`. */
  deleteLoginWindowsBefore(before: number): Promise<void>;
}
