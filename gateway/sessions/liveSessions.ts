/**
 * The sessions live on this gateway process, and the rule that ends them: at `expiresAt`
 * (the grant's limit, DESIGN.md "Launch a session"), or as soon as their row becomes 'ended'
 * in the store — which is how an API terminate reaches the proxy holding the connection, from
 * whichever replica served the API call.
 *
 * Whoever changes a session's row announces it on the event bus (events/, issue #17), and
 * `recheck` re-reads that one row, so a terminate acts within a bus round trip. A slow safety
 * poll (every 5 s) still reads every live session's row: it is what catches a change whose
 * announcement was lost to a bug or to a replica dying between its write and its publish —
 * the bus promises delivery of what was published, not that everything was.
 *
 * The row's `expiresAt` is re-read on every check: a grant whose end moved earlier lowers it
 * (sessions/accessReview.ts), and each session has a timer to its current end, re-armed when
 * the row changes, so it ends at the new end rather than at the poll after it (issue #14).
 */
import type { Clock } from '../clock.ts';
import type { Logger } from '../logger.ts';
import type { SessionEnder, SessionRecord } from '../store/sessionStore.ts';

export type SessionEndCause =
  /** `expiresAt` passed (the grant's window or its maximum session length). */
  | { kind: 'expired'; at: number }
  /** The session row was ended elsewhere (API terminate, an admin, another replica). */
  | { kind: 'terminated'; reason: string | null }
  /** This gateway process is stopping. */
  | { kind: 'shutdown' };

export interface LiveSession {
  readonly sessionId: string;
  /**
   * The proxied connection is over (ended by the client, the target, or after `end`): marks
   * the session ended in the store unless it already is, and stops watching it. Idempotent.
   */
  finish(reason: string): Promise<void>;
}

interface Entry {
  sessionId: string;
  expiresAt: number;
  end: (cause: SessionEndCause) => void;
  ending: boolean;
  /** Fires at `expiresAt`; re-armed when the row's `expiresAt` changes. */
  expiryTimer: NodeJS.Timeout | undefined;
}

/** setTimeout's limit (about 24.8 days); a later end is re-armed by the poll that nears it. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The safety poll of the rows (see above); was 250 ms, the only way, before the bus. */
export const LIVE_SESSION_POLL_MS = 5000;
/**
 * How often the sessions' ends are compared with the clock, without I/O. The timer per
 * session does this at the right moment; the check catches a clock that stepped (or a test's
 * clock that was advanced) past an end the timer still waits for.
 */
const EXPIRY_CHECK_MS = 250;

export class LiveSessions {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private readonly pollIntervalMs: number;
  /** performance.now() of the last read of the rows. */
  private rowsReadAt = 0;

  constructor(
    private readonly deps: {
      store: SessionEnder;
      clock: Clock;
      log: Logger;
      pollIntervalMs?: number;
    },
  ) {
    this.pollIntervalMs = deps.pollIntervalMs ?? LIVE_SESSION_POLL_MS;
  }

  /**
   * Starts watching a session. `end` is called at most once, when the session must end; the
   * proxy then closes the connection with the message from `describeSessionEnd` and calls
   * `finish`.
   */
  register(
    sessionId: string,
    expiresAt: number,
    end: (cause: SessionEndCause) => void,
  ): LiveSession {
    const entry: Entry = { sessionId, expiresAt, end, ending: false, expiryTimer: undefined };
    this.entries.set(sessionId, entry);
    this.armExpiry(entry);
    this.timer ??= setInterval(
      () => void this.poll(),
      Math.min(this.pollIntervalMs, EXPIRY_CHECK_MS),
    );
    this.timer.unref();
    return {
      sessionId,
      finish: async (reason: string) => {
        clearTimeout(entry.expiryTimer);
        if (this.entries.get(sessionId) === entry) this.entries.delete(sessionId);
        this.stopIfIdle();
        try {
          await this.deps.store.endSession(sessionId, reason, this.deps.clock.now());
        } catch (error) {
          this.deps.log.error('could not mark the session ended', {
            sessionId,
            error: String(error),
          });
        }
      },
    };
  }

  /** Ids of the sessions being watched. */
  get sessionIds(): string[] {
    return [...this.entries.keys()];
  }

  /** Ends every live session (gateway shutdown) and stops polling. */
  shutdown(): void {
    for (const entry of this.entries.values()) {
      clearTimeout(entry.expiryTimer);
      this.trigger(entry, { kind: 'shutdown' });
    }
    this.entries.clear();
    this.stopIfIdle();
  }

  /**
   * Re-reads one session's row now, if this process carries it (an event said it changed).
   * Sessions carried elsewhere are ignored: every replica hears every event.
   */
  async recheck(sessionId: string): Promise<void> {
    const entry = this.entries.get(sessionId);
    if (!entry || entry.ending) return;
    try {
      this.apply(entry, await this.deps.store.getSession(sessionId));
    } catch (error) {
      // The safety poll reads it again.
      this.deps.log.warn('could not re-read a changed session', {
        sessionId,
        error: String(error),
      });
    }
  }

  private async poll(): Promise<void> {
    if (this.polling) return; // a slow store must not pile up overlapping polls
    this.polling = true;
    try {
      const now = this.deps.clock.now();
      const watched = [...this.entries.values()].filter((e) => !e.ending);
      for (const entry of watched) {
        if (now >= entry.expiresAt) await this.expire(entry, now);
      }
      if (performance.now() - this.rowsReadAt < this.pollIntervalMs) return;
      this.rowsReadAt = performance.now();
      const rows = await Promise.all(
        watched
          .filter((e) => !e.ending)
          .map(async (entry) => ({
            entry,
            row: await this.deps.store.getSession(entry.sessionId),
          })),
      );
      for (const { entry, row } of rows) this.apply(entry, row);
    } catch (error) {
      this.deps.log.warn('live session poll failed; retrying', { error: String(error) });
    } finally {
      this.polling = false;
    }
  }

  /** Acts on a session's row as read now: ended elsewhere, or a new end. */
  private apply(entry: Entry, row: SessionRecord | undefined): void {
    if (entry.ending) return;
    if (!row || row.state === 'ended') {
      this.trigger(entry, { kind: 'terminated', reason: row?.endReason ?? null });
    } else if (row.expiresAt !== entry.expiresAt) {
      entry.expiresAt = row.expiresAt;
      this.armExpiry(entry);
    }
  }

  private armExpiry(entry: Entry): void {
    clearTimeout(entry.expiryTimer);
    const delay = Math.max(0, entry.expiresAt - this.deps.clock.now());
    entry.expiryTimer = setTimeout(
      () => {
        if (!entry.ending && this.deps.clock.now() >= entry.expiresAt) {
          void this.expire(entry, this.deps.clock.now());
        }
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    entry.expiryTimer.unref();
  }

  private async expire(entry: Entry, now: number): Promise<void> {
    if (entry.ending) return;
    // Mark the row first so the API reports why the session ended.
    await this.deps.store
      .endSession(entry.sessionId, expiredReason(entry.expiresAt), now)
      .catch((error: unknown) =>
        this.deps.log.error('could not mark an expired session ended', {
          sessionId: entry.sessionId,
          error: String(error),
        }),
      );
    this.trigger(entry, { kind: 'expired', at: entry.expiresAt });
  }

  private trigger(entry: Entry, cause: SessionEndCause): void {
    clearTimeout(entry.expiryTimer);
    if (entry.ending) return;
    entry.ending = true;
    try {
      entry.end(cause);
    } catch (error) {
      this.deps.log.error('ending a live session failed', {
        sessionId: entry.sessionId,
        error: String(error),
      });
    }
  }

  private stopIfIdle(): void {
    if (this.entries.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

function expiredReason(expiresAt: number): string {
  return `expired at ${new Date(expiresAt).toISOString()} (grant limit)`;
}

/** `14:02 UTC` — the time people see in the end-of-session message. */
function clockTime(epochMs: number): string {
  const date = new Date(epochMs);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())} UTC`;
}

/** What the person at the other end is told when their session ends. */
export function describeSessionEnd(cause: SessionEndCause, resourceName: string): string {
  switch (cause.kind) {
    case 'expired':
      return `Your access to ${resourceName} ended at ${clockTime(cause.at)} (grant limit). Request access again to continue.`;
    case 'terminated':
      return `Your session on ${resourceName} was ended${cause.reason ? ` (${cause.reason})` : ''}.`;
    case 'shutdown':
      return `The Witness gateway is shutting down; your session on ${resourceName} was closed. Start a new session to reconnect.`;
  }
}
