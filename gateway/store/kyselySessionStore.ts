/**
 * SessionStore over Kysely, for SQLite and PostgreSQL alike. redeemTicket and endSession are
 * each ONE conditional UPDATE whose WHERE clause re-checks the precondition, so when gateway
 * replicas race the database decides the winner; `RETURNING *` gives back the row this
 * statement wrote.
 */
import type { Kysely, Selectable } from 'kysely';
import type { Database, SessionsTable } from './migrations.ts';
import type { SessionFilter, SessionRecord, SessionStore } from './sessionStore.ts';
import { asConflict } from './storeConflictError.ts';
import { rowLimit, type StoreConnection } from './storeConnection.ts';

export class KyselySessionStore implements SessionStore {
  private readonly db: Kysely<Database>;

  constructor(connection: StoreConnection) {
    this.db = connection.db;
  }

  async createSession(session: SessionRecord): Promise<void> {
    try {
      await this.db
        .insertInto('sessions')
        .values({
          id: session.id,
          user_id: session.userId,
          resource_id: session.resourceId,
          grant_id: session.grantId,
          state: session.state,
          ticket_hash: session.ticketHash,
          ticket_expires_at: session.ticketExpiresAt,
          ticket_used_at: session.ticketUsedAt,
          created_at: session.createdAt,
          started_at: session.startedAt,
          ended_at: session.endedAt,
          expires_at: session.expiresAt,
          end_reason: session.endReason,
          request_id: session.requestId,
          principal: session.principal ?? null,
        })
        .execute();
    } catch (error) {
      throw asConflict(error, { 'sessions.id': `a session with id ${session.id} already exists` });
    }
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && sessionFromRow(row);
  }

  async listSessions(filter: SessionFilter): Promise<SessionRecord[]> {
    let query = this.db.selectFrom('sessions').selectAll();
    if (filter.state !== undefined) query = query.where('state', '=', filter.state);
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.resourceId !== undefined) query = query.where('resource_id', '=', filter.resourceId);
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(rowLimit(filter.limit))
      .execute();
    return rows.map(sessionFromRow);
  }

  async listSessionsForRequest(requestId: string): Promise<SessionRecord[]> {
    const rows = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('request_id', '=', requestId)
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(sessionFromRow);
  }

  async redeemTicket(
    sessionId: string,
    ticketHash: string,
    now: number,
  ): Promise<SessionRecord | undefined> {
    const row = await this.db
      .updateTable('sessions')
      .set({ ticket_used_at: now, state: 'live', started_at: now })
      .where('id', '=', sessionId)
      .where('ticket_hash', '=', ticketHash)
      .where('ticket_used_at', 'is', null)
      .where('ticket_expires_at', '>', now)
      .where('state', '=', 'pending')
      .returningAll()
      .executeTakeFirst();
    return row && sessionFromRow(row);
  }

  async endSession(id: string, reason: string, now: number): Promise<SessionRecord | undefined> {
    const row = await this.db
      .updateTable('sessions')
      .set({ state: 'ended', ended_at: now, end_reason: reason })
      .where('id', '=', id)
      .where('state', '!=', 'ended')
      .returningAll()
      .executeTakeFirst();
    return row && sessionFromRow(row);
  }

  async endOpenSessions(
    match: { grantId: string } | { resourceId: string } | { userId: string },
    reason: string,
    now: number,
  ): Promise<SessionRecord[]> {
    const [column, value] =
      'grantId' in match
        ? (['grant_id', match.grantId] as const)
        : 'resourceId' in match
          ? (['resource_id', match.resourceId] as const)
          : (['user_id', match.userId] as const);
    const rows = await this.db
      .updateTable('sessions')
      .set({ state: 'ended', ended_at: now, end_reason: reason })
      .where(column, '=', value)
      .where('state', '!=', 'ended')
      .returningAll()
      .execute();
    return rows.map(sessionFromRow);
  }

  async setSessionExpiry(id: string, expiresAt: number): Promise<SessionRecord | undefined> {
    const row = await this.db
      .updateTable('sessions')
      .set({ expires_at: expiresAt })
      .where('id', '=', id)
      .where('state', '!=', 'ended')
      .returningAll()
      .executeTakeFirst();
    return row ? sessionFromRow(row) : undefined;
  }

  async endSessionsRecordedBy(
    owner: string,
    reason: string,
    now: number,
  ): Promise<SessionRecord[]> {
    // Sessions carry no instance id; the recording row does, and every session that reached
    // its target has one (a recording still 'recording' belongs to a live session).
    const rows = await this.db
      .updateTable('sessions')
      .set({ state: 'ended', ended_at: now, end_reason: reason })
      .where('state', '!=', 'ended')
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('recordings')
          .select('session_id')
          .where('owner', '=', owner)
          .where('status', '!=', 'recording'),
      )
      .returningAll()
      .execute();
    return rows.map(sessionFromRow).sort((a, b) => a.id.localeCompare(b.id));
  }
}

function sessionFromRow(row: Selectable<SessionsTable>): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    resourceId: row.resource_id,
    grantId: row.grant_id,
    state: row.state,
    ticketHash: row.ticket_hash,
    ticketExpiresAt: row.ticket_expires_at,
    ticketUsedAt: row.ticket_used_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    expiresAt: row.expires_at,
    endReason: row.end_reason,
    requestId: row.request_id,
    // Only machines' sessions have one (issue #18); people's records stay as they were.
    ...(row.principal !== null && { principal: row.principal }),
  };
}
