/**
 * A lock across processes around one sign-in's renewal (issue #12). Refresh tokens rotate and
 * the gateway ends the whole sign-in when a spent one comes back, so two processes sharing a
 * stored sign-in (`witness tunnel`, `witness whoami`, the desktop) must never both spend the
 * same token. Whoever renews holds this lock while it reads the stored token, spends it and
 * stores the new pair; the next holder then reads the new pair and has nothing to renew.
 *
 * The keychain and the credentials file offer no lock of their own, so it is a lock directory
 * beside the profile (`proper-lockfile`: `mkdir` is atomic on every local file system, and the
 * holder keeps touching its mtime). A holder that was killed stops touching it, and after
 * `staleMs` the next process takes the lock over: a dead process cannot block renewals for
 * longer than that.
 */
import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { withStopSignalsHeld } from './stopSignalsHeld.ts';

export interface RenewalLock {
  /** Runs `work` while holding the lock; waits for another holder first. */
  hold<T>(work: () => Promise<T>): Promise<T>;
}

/** The part of proper-lockfile's API used here (the package ships no types). */
interface ProperLockfile {
  lock(
    file: string,
    options: {
      stale: number;
      update: number;
      realpath: false;
      retries: 0;
      onCompromised(error: Error): void;
    },
  ): Promise<() => Promise<void>>;
}

const properLockfile = createRequire(import.meta.url)('proper-lockfile') as ProperLockfile;

/** The lock could not be had in time: another process holds it and keeps it fresh. */
export class RenewalLockTimeoutError extends Error {
  override readonly name = 'RenewalLockTimeoutError';
}

export interface FileRenewalLockOptions {
  /**
   * A lock whose holder stopped touching it this long ago is taken over (default 10 s; at
   * least 2 s). The holder touches it every `staleMs / 2`, so a busy event loop on a loaded
   * machine must stall for half of it before a live holder loses the lock.
   */
  staleMs?: number;
  /**
   * How long to wait for a live holder (default 60 s). A renewal is one round trip with the
   * client's own deadline; this only guards against a holder stuck for good.
   */
  waitMs?: number;
}

/** A lock at `lockPath` (a directory created and removed by the lock; its parent is created 0700). */
export function fileRenewalLock(
  lockPath: string,
  options: FileRenewalLockOptions = {},
): RenewalLock {
  const staleMs = Math.max(options.staleMs ?? 10_000, 2_000);
  const waitMs = options.waitMs ?? 60_000;
  return {
    async hold(work) {
      await mkdir(path.dirname(lockPath), { recursive: true, mode: 0o700 });
      const release = await acquire(lockPath, staleMs, waitMs);
      try {
        // Not cut short by Ctrl+C or `kill` between spending the token and storing the next.
        return await withStopSignalsHeld(work);
      } finally {
        // Rejects when the lock was taken over meanwhile (we stalled past `staleMs`); the work
        // is done either way, and the new holder re-reads what it stored.
        await release().catch(() => undefined);
      }
    },
  };
}

async function acquire(
  lockPath: string,
  staleMs: number,
  waitMs: number,
): Promise<() => Promise<void>> {
  const deadline = Date.now() + waitMs;
  // Our own polling rather than the library's retries: a short, jittered interval so waiting
  // processes get the lock soon after it is released, with one deadline for all attempts.
  for (;;) {
    try {
      return await properLockfile.lock(lockPath, {
        stale: staleMs,
        update: staleMs / 2,
        realpath: false,
        retries: 0,
        // The default throws from a timer, which would kill the process; losing the lock only
        // means another process may renew too — it re-reads the store under the lock first.
        onCompromised: () => {},
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      if (Date.now() >= deadline) {
        throw new RenewalLockTimeoutError(
          `another process has been renewing this sign-in for over ${Math.round(waitMs / 1000)} s ` +
            `(lock ${lockPath}); try again, or remove that directory if no witness process is running`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 60));
    }
  }
}
