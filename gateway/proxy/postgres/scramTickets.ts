/**
 * Why the PostgreSQL listener keeps fresh tickets in memory: SCRAM never sends the password, so
 * the server must know it (or a verifier derived from it) to check the client's proof. The
 * store keeps only the SHA-256 of a ticket, from which no SCRAM verifier can be derived. So the
 * gateway process that issues a ticket for a PostgreSQL resource remembers it here until it is
 * used or its 60 s run out; the listener then asks that client for SCRAM-SHA-256 and, once the
 * proof checks out, redeems the remembered ticket exactly like a cleartext one.
 *
 * A session whose ticket was issued by another replica (or before a restart) is not here; its
 * client is asked for the ticket in cleartext, which the listener only accepts over TLS.
 */
import type { Clock } from '../../clock.ts';
import type { IssuedSession, SessionService } from '../../sessions/sessionService.ts';

/** Tickets are valid for ~60 s; one extra second covers a clock step between API and listener. */
const SLACK_MS = 1_000;
/** Bounds memory if sessions are issued and never used; the oldest are dropped first. */
const MAX_ENTRIES = 100_000;

export class ScramTicketCache {
  private readonly tickets = new Map<string, { ticket: string; expiresAt: number }>();

  constructor(private readonly clock: Clock) {}

  remember(sessionId: string, ticket: string, expiresAt: number): void {
    this.sweep();
    if (this.tickets.size >= MAX_ENTRIES) {
      const oldest = this.tickets.keys().next().value;
      if (oldest !== undefined) this.tickets.delete(oldest);
    }
    this.tickets.set(sessionId, { ticket, expiresAt: expiresAt + SLACK_MS });
  }

  /** The ticket issued for `sessionId`, if this process issued it and it has not expired. */
  peek(sessionId: string): string | undefined {
    const entry = this.tickets.get(sessionId);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.clock.now()) {
      this.tickets.delete(sessionId);
      return undefined;
    }
    return entry.ticket;
  }

  forget(sessionId: string): void {
    this.tickets.delete(sessionId);
  }

  get size(): number {
    return this.tickets.size;
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [sessionId, entry] of this.tickets) {
      // Insertion order is issue order: stop at the first live one.
      if (entry.expiresAt > now) break;
      this.tickets.delete(sessionId);
    }
  }
}

/**
 * Makes `sessions` remember every ticket it issues for a PostgreSQL resource in `cache`.
 * Called once by the composition root (gateway/index.ts); SessionService itself stays unaware.
 */
export function rememberPostgresTickets(
  sessions: Pick<SessionService, 'createSession'>,
  cache: ScramTicketCache,
): void {
  const issue = sessions.createSession.bind(sessions);
  sessions.createSession = async (...args: Parameters<SessionService['createSession']>) => {
    const issued: IssuedSession = await issue(...args);
    if (issued.endpoint?.protocol === 'postgres') {
      cache.remember(issued.session.id, issued.ticket, issued.session.ticketExpiresAt);
    }
    return issued;
  };
}
