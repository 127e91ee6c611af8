/**
 * AccessRequestStore over Kysely, for SQLite and PostgreSQL alike. Deciding reads, counts and
 * writes inside `writeTransaction` (BEGIN IMMEDIATE on SQLite), and the decisions table's
 * primary key (request, approver) makes each approver count once even across replicas.
 */
import type { Kysely, Selectable } from 'kysely';
import type {
  AccessRequestDecisionOutcome,
  AccessRequestDecisionRecord,
  AccessRequestFilter,
  AccessRequestRecord,
  AccessRequestStore,
} from './accessRequestStore.ts';
import type { GrantRecord } from './catalogStore.ts';
import { grantToRow } from './kyselyCatalogStore.ts';
import type { AccessRequestDecisionsTable, AccessRequestsTable, Database } from './migrations.ts';
import { asConflict } from './storeConflictError.ts';
import { rowLimit, type StoreConnection, writeTransaction } from './storeConnection.ts';

export class KyselyAccessRequestStore implements AccessRequestStore {
  private readonly db: Kysely<Database>;

  constructor(private readonly connection: StoreConnection) {
    this.db = connection.db;
  }

  async createAccessRequest(request: AccessRequestRecord): Promise<void> {
    try {
      await this.db
        .insertInto('access_requests')
        .values({
          id: request.id,
          user_id: request.userId,
          resource_id: request.resourceId,
          grant_id: request.grantId,
          reason: request.reason,
          duration_seconds: request.durationSeconds,
          approvals_required: request.approvalsRequired,
          state: request.state,
          created_at: request.createdAt,
          decided_at: request.decidedAt,
          issued_grant_id: request.issuedGrantId,
        })
        .execute();
    } catch (error) {
      throw asConflict(error, {
        'access_requests.id': `an access request with id ${request.id} already exists`,
      });
    }
  }

  getAccessRequest(id: string): Promise<AccessRequestRecord | undefined> {
    return readRequest(this.db, id);
  }

  async listAccessRequests(filter: AccessRequestFilter): Promise<AccessRequestRecord[]> {
    let query = this.db.selectFrom('access_requests').selectAll();
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.state !== undefined) query = query.where('state', '=', filter.state);
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(rowLimit(filter.limit))
      .execute();
    if (rows.length === 0) return [];
    const decisions = await this.db
      .selectFrom('access_request_decisions')
      .selectAll()
      .where(
        'request_id',
        'in',
        rows.map((row) => row.id),
      )
      .orderBy('created_at')
      .execute();
    return rows.map((row) =>
      requestFromRows(
        row,
        decisions.filter((d) => d.request_id === row.id),
      ),
    );
  }

  decideAccessRequest(
    id: string,
    decision: AccessRequestDecisionRecord,
    issue: (request: AccessRequestRecord) => GrantRecord,
  ): Promise<AccessRequestDecisionOutcome> {
    return writeTransaction(this.connection, async (tx) => {
      // Lock the request row before reading it: on PostgreSQL (read committed) a second
      // approver's transaction waits here until this one commits, then reads the new state, so
      // two approvals completing the count at once issue one grant. (SQLite's BEGIN IMMEDIATE
      // already serialises writers; the statement is harmless there.)
      await tx
        .updateTable('access_requests')
        .set((eb) => ({ state: eb.ref('state') }))
        .where('id', '=', id)
        .execute();
      const request = await readRequest(tx, id);
      if (!request) return { kind: 'not_found' };
      if (request.state !== 'pending') return { kind: 'not_pending', request };
      if (request.decisions.some((d) => d.approverId === decision.approverId)) {
        return { kind: 'already_decided', request };
      }
      await tx
        .insertInto('access_request_decisions')
        .values({
          request_id: id,
          approver_id: decision.approverId,
          decision: decision.decision,
          comment: decision.comment,
          created_at: decision.createdAt,
        })
        .execute();
      const decided = { ...request, decisions: [...request.decisions, decision] };
      const approvals = decided.decisions.filter((d) => d.decision === 'approve').length;
      if (decision.decision === 'deny') {
        await tx
          .updateTable('access_requests')
          .set({ state: 'denied', decided_at: decision.createdAt })
          .where('id', '=', id)
          .execute();
        return {
          kind: 'recorded',
          request: { ...decided, state: 'denied', decidedAt: decision.createdAt },
          issuedGrant: null,
        };
      }
      if (approvals < request.approvalsRequired) {
        return { kind: 'recorded', request: decided, issuedGrant: null };
      }
      const grant = issue(decided);
      await tx.insertInto('grants').values(grantToRow(grant)).execute();
      await tx
        .updateTable('access_requests')
        .set({ state: 'approved', decided_at: decision.createdAt, issued_grant_id: grant.id })
        .where('id', '=', id)
        .execute();
      return {
        kind: 'recorded',
        request: {
          ...decided,
          state: 'approved',
          decidedAt: decision.createdAt,
          issuedGrantId: grant.id,
        },
        issuedGrant: grant,
      };
    });
  }
}

async function readRequest(
  db: Kysely<Database>,
  id: string,
): Promise<AccessRequestRecord | undefined> {
  const row = await db
    .selectFrom('access_requests')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) return undefined;
  const decisions = await db
    .selectFrom('access_request_decisions')
    .selectAll()
    .where('request_id', '=', id)
    .orderBy('created_at')
    .execute();
  return requestFromRows(row, decisions);
}

function requestFromRows(
  row: Selectable<AccessRequestsTable>,
  decisions: Selectable<AccessRequestDecisionsTable>[],
): AccessRequestRecord {
  return {
    id: row.id,
    userId: row.user_id,
    resourceId: row.resource_id,
    grantId: row.grant_id,
    reason: row.reason,
    durationSeconds: row.duration_seconds,
    approvalsRequired: row.approvals_required,
    state: row.state,
    createdAt: row.created_at,
    decidedAt: row.decided_at,
    issuedGrantId: row.issued_grant_id,
    decisions: decisions.map((d) => ({
      approverId: d.approver_id,
      decision: d.decision,
      comment: d.comment,
      createdAt: d.created_at,
    })),
  };
}
