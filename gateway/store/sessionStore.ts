/**
 * Sessions: one row per granted connection, from ticket issue to end, with its single-use
 * connect ticket (stored as a SHA-256 hash). Sessions are history: they outlive the user,
 * resource and grant they name.
 */

export type SessionState = 'pending' | 'live' | 'ended';

export interface SessionRecord {
  id: string;
  userId: string;
  resourceId: string;
  grantId: string;
  state: SessionState;
  /** SHA-256 of the single-use connect ticket. */
  ticketHash: string;
  ticketExpiresAt: number;
  ticketUsedAt: number | null;
  createdAt: number;
  startedAt: number | null;
  endedAt: number | null;
  expiresAt: number;
  endReason: string | null;
  /** The access request whose time-boxed grant enabled this session; null under other grants. */
  requestId: string | null;
  /**
   * JSON of who opened the session beyond its user, when that was a machine identity: its name
   * and its workload token's claims (issue #18); null or absent for people.
   */
  principal?: string | null;
}

export interface SessionFilter {
  state?: SessionState;
  userId?: string;
  resourceId?: string;
  limit: number;
}

/** Reading and ending sessions: what the live-session registry needs. */
export interface SessionEnder {
  getSession(id: string): Promise<SessionRecord | undefined>;
  /** Ends a session that has not ended yet; returns it, or undefined if already ended/unknown. */
  endSession(id: string, reason: string, now: number): Promise<SessionRecord | undefined>;
}

export interface SessionStore extends SessionEnder {
  createSession(session: SessionRecord): Promise<void>;
  /** The sessions an access request enabled, oldest first. */
  listSessionsForRequest(requestId: string): Promise<SessionRecord[]>;
  listSessions(filter: SessionFilter): Promise<SessionRecord[]>;
  /**
   * Redeems a connect ticket: sets ticketUsedAt and state 'live' when the hash matches, the
   * ticket is unused and unexpired at `now` and the session is pending. Atomic across
   * gateway replicas; returns the updated session or undefined.
   */
  redeemTicket(
    sessionId: string,
    ticketHash: string,
    now: number,
  ): Promise<SessionRecord | undefined>;
  /**
   * Ends every not-yet-ended session that matches (a revoked grant, a deleted resource, a
   * disabled user); returns them. The services' store announces them on the event bus
   * (events/replicaAnnouncements.ts), so the proxies close the connections at once.
   */
  endOpenSessions(
    match: { grantId: string } | { resourceId: string } | { userId: string },
    reason: string,
    now: number,
  ): Promise<SessionRecord[]>;
  /**
   * Moves the end of a session that has not ended yet (its grant's end moved earlier); the
   * live-session registry re-reads it and re-arms its timer. Returns the session, or
   * undefined if it has ended or is unknown.
   */
  setSessionExpiry(id: string, expiresAt: number): Promise<SessionRecord | undefined>;
  /**
   * Startup recovery after a crash: ends every not-yet-ended session whose recording this
   * gateway instance (`owner`, recorder/gatewayInstanceId.ts) wrote and no longer writes — the
   * dead process carried them. Sessions recorded by other replicas sharing the database are
   * not touched. Run it after the unfinished recordings were marked interrupted.
   */
  endSessionsRecordedBy(owner: string, reason: string, now: number): Promise<SessionRecord[]>;
}

/** The end reason of a session a gateway process carried when it died (found at restart). */
export const GATEWAY_STOPPED_REASON = 'gateway stopped';
