import type { z } from 'zod';
import type {
  accessRequestListQuerySchema,
  createAccessRequestSchema,
} from '../../shared/api/apiSchemas.ts';
import type { AuditRecorder } from '../audit/auditTrail.ts';
import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import { newId } from '../newId.ts';
import { decideAccess, grantAppliesTo, isWithinWindow } from '../policy/accessDecision.ts';
import type { AccessRequestRecord, AccessRequestStore } from '../store/accessRequestStore.ts';
import type {
  GrantRecord,
  GrantStore,
  ResourceRecord,
  ResourceStore,
} from '../store/catalogStore.ts';
import type { UserRecord } from '../store/identityStore.ts';
import type { AccessRequestEvents } from './accessRequestEvents.ts';

/**
 * Just-in-time access (issue #14): engineers ask for time-boxed access under an
 * approval-required grant; the grant's approvers decide; the approval that completes the count
 * issues a standing grant for the requester on that one resource, from now for the asked
 * duration. Sessions opened under it end when it does (their `expiresAt` is the grant's end,
 * policy/accessDecision.ts `sessionEnd`, and the live-session registry ends them at it).
 * Every rule is the gateway's: the desktop and the CLI only ask.
 */
export class AccessRequestDesk {
  constructor(
    private readonly store: AccessRequestStore &
      Pick<GrantStore, 'getGrant' | 'listGrants'> &
      Pick<ResourceStore, 'getResource' | 'getResourceByName'>,
    private readonly clock: Clock,
    private readonly events: Pick<AccessRequestEvents, 'publish'>,
    /** Where an issued grant is logged (the decision itself is logged by the route). */
    private readonly audit?: AuditRecorder,
  ) {}

  async request(
    user: UserRecord,
    body: z.infer<typeof createAccessRequestSchema>,
  ): Promise<AccessRequestRecord> {
    const resource =
      (await this.store.getResource(body.resource)) ??
      (await this.store.getResourceByName(body.resource));
    if (!resource) throw resourceNotFound(body.resource);
    const now = this.clock.now();
    const grants = await this.store.listGrants();
    const decision = decideAccess(user, resource, grants, now);
    if (decision.kind === 'granted') {
      throw new GatewayError(
        'bad_request',
        `You already have access to ${resource.name} — connect without a request.`,
      );
    }
    if (decision.kind !== 'requestable') throw notRequestable(user, resource, grants, now);
    const grant = decision.grant;
    if (body.durationSeconds > grant.maxSessionSeconds) {
      throw new GatewayError(
        'bad_request',
        `Access to ${resource.name} can be requested for at most ${formatSeconds(grant.maxSessionSeconds)} — ask for a shorter time.`,
      );
    }
    const request: AccessRequestRecord = {
      id: newId('req'),
      userId: user.id,
      resourceId: resource.id,
      grantId: grant.id,
      reason: body.reason,
      durationSeconds: body.durationSeconds,
      approvalsRequired: grant.approvalsRequired,
      state: 'pending',
      createdAt: now,
      decidedAt: null,
      issuedGrantId: null,
      decisions: [],
    };
    await this.store.createAccessRequest(request);
    this.events.publish({ kind: 'created', request });
    return request;
  }

  /** `mine`: the caller's own; `queue`: pending ones the caller may decide; `all`: admins and auditors. */
  async list(
    user: UserRecord,
    query: z.infer<typeof accessRequestListQuerySchema>,
  ): Promise<AccessRequestRecord[]> {
    switch (query.scope) {
      case 'mine':
        return this.store.listAccessRequests({
          userId: user.id,
          limit: query.limit,
          ...(query.state ? { state: query.state } : {}),
        });
      case 'queue': {
        const pending = await this.store.listAccessRequests({ state: 'pending', limit: 500 });
        const mine: AccessRequestRecord[] = [];
        for (const request of pending) {
          if (mine.length >= query.limit) break;
          if (await this.mayDecide(user, request)) mine.push(request);
        }
        return mine;
      }
      case 'all':
        if (user.role !== 'admin' && user.role !== 'auditor') {
          throw new GatewayError(
            'forbidden',
            'Every request is for admins and auditors; use scope=mine or scope=queue.',
          );
        }
        return this.store.listAccessRequests({
          limit: query.limit,
          ...(query.state ? { state: query.state } : {}),
        });
    }
  }

  /** The requester, the request's approvers, admins and auditors may read it. */
  async getFor(user: UserRecord, id: string): Promise<AccessRequestRecord> {
    const request = await this.store.getAccessRequest(id);
    if (!request || !(await this.maySee(user, request))) throw requestNotFound(id);
    return request;
  }

  async maySee(user: UserRecord, request: AccessRequestRecord): Promise<boolean> {
    if (request.userId === user.id || user.role === 'admin' || user.role === 'auditor') {
      return true;
    }
    const grant = await this.store.getGrant(request.grantId);
    return grant !== undefined && isApprover(user, grant);
  }

  /** Whether `user` may approve or deny `request` now. */
  async mayDecide(user: UserRecord, request: AccessRequestRecord): Promise<boolean> {
    if (request.state !== 'pending' || request.userId === user.id) return false;
    if (request.decisions.some((d) => d.approverId === user.id)) return false;
    const grant = await this.store.getGrant(request.grantId);
    return grant !== undefined && isApprover(user, grant);
  }

  async decide(
    user: UserRecord,
    id: string,
    decision: 'approve' | 'deny',
    comment: string,
  ): Promise<AccessRequestRecord> {
    const request = await this.getFor(user, id);
    // Nobody approves their own request, whatever their role or groups (issue #14).
    if (request.userId === user.id) {
      throw new GatewayError(
        'forbidden',
        'You cannot approve or deny your own request — another approver must decide it.',
      );
    }
    const grant = await this.store.getGrant(request.grantId);
    if (!grant) {
      throw new GatewayError(
        'conflict',
        'The grant this request was made under was deleted — the requester must ask again.',
      );
    }
    if (!isApprover(user, grant)) {
      throw new GatewayError(
        'forbidden',
        `You are not an approver for this request — ${describeApprovers(grant)} may decide it.`,
      );
    }
    const now = this.clock.now();
    const outcome = await this.store.decideAccessRequest(
      id,
      { approverId: user.id, decision, comment, createdAt: now },
      (counted) => issuedGrant(counted, grant, user, now),
    );
    switch (outcome.kind) {
      case 'not_found':
        throw requestNotFound(id);
      case 'not_pending':
        throw new GatewayError(
          'conflict',
          `This request was already ${outcome.request.state}; nothing to decide.`,
        );
      case 'already_decided':
        throw new GatewayError(
          'conflict',
          'You already decided this request; another approver must add theirs.',
        );
      case 'recorded': {
        if (outcome.issuedGrant) {
          const issued = outcome.issuedGrant;
          await this.audit?.record({
            actor: { id: user.id, name: user.username },
            action: 'grant.issued',
            target: `/grants/${issued.id}`,
            outcome: 'succeeded',
            details: {
              requestId: outcome.request.id,
              subject: issued.subject,
              resourceId: issued.resourceId,
              validFrom: issued.validFrom,
              validUntil: issued.validUntil,
            },
          });
        }
        const kind = outcome.request.state === 'pending' ? 'decided' : outcome.request.state;
        this.events.publish({ kind, request: outcome.request });
        return outcome.request;
      }
    }
  }
}

/** The grant an approval issues: the requester, this resource, from now for the asked time. */
function issuedGrant(
  request: AccessRequestRecord,
  underGrant: GrantRecord,
  approver: UserRecord,
  now: number,
): GrantRecord {
  const end = now + request.durationSeconds * 1000;
  return {
    id: newId('grt'),
    subjectKind: 'user',
    subject: request.userId,
    targetKind: 'resource',
    resourceId: request.resourceId,
    selector: null,
    mode: 'standing',
    validFrom: now,
    // Never past the window of the grant that allowed asking.
    validUntil: underGrant.validUntil === null ? end : Math.min(end, underGrant.validUntil),
    maxSessionSeconds: underGrant.maxSessionSeconds,
    description: `access request ${request.id}: ${request.reason}`.slice(0, 1024),
    // Masking and guardrails of the grant that allowed asking apply to these sessions too.
    policy: underGrant.policy,
    createdBy: approver.id,
    createdAt: now,
    approvers: { users: [], groups: [] },
    approvalsRequired: 1,
    requestId: request.id,
  };
}

/**
 * The grant's named approvers (users, or members of its groups); a grant that names none is
 * decided by admins, so an approval-required grant is never undecidable.
 */
export function isApprover(user: UserRecord, grant: GrantRecord): boolean {
  if (user.disabled) return false;
  const { users, groups } = grant.approvers;
  if (users.length === 0 && groups.length === 0) return user.role === 'admin';
  return users.includes(user.id) || user.groups.some((group) => groups.includes(group));
}

function describeApprovers(grant: GrantRecord): string {
  const { users, groups } = grant.approvers;
  if (users.length === 0 && groups.length === 0) return 'an admin';
  const names = [...users.map((u) => `user ${u}`), ...groups.map((g) => `group ${g}`)];
  return names.join(', ');
}

function notRequestable(
  user: UserRecord,
  resource: ResourceRecord,
  grants: readonly GrantRecord[],
  now: number,
): GatewayError {
  const lapsed = grants.find(
    (grant) =>
      grant.mode === 'approval' &&
      grantAppliesTo(grant, user, resource) &&
      !isWithinWindow(grant, now),
  );
  if (lapsed) {
    const when =
      lapsed.validUntil !== null && lapsed.validUntil <= now
        ? `ended at ${new Date(lapsed.validUntil).toISOString()}`
        : `opens at ${new Date(lapsed.validFrom ?? now).toISOString()}`;
    return new GatewayError(
      'no_active_grant',
      `The grant that lets you request ${resource.name} ${when} — ask an admin to extend it.`,
    );
  }
  return resourceNotFound(resource.name);
}

// The same answer for "does not exist" and "nothing lets you ask", so hidden names don't leak.
function resourceNotFound(name: string): GatewayError {
  return new GatewayError(
    'not_found',
    `There is no resource ${name} you may request — see \`witness resources\` for what you can request.`,
  );
}

function requestNotFound(id: string): GatewayError {
  return new GatewayError('not_found', `There is no access request ${id} you can see.`);
}

export function formatSeconds(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
