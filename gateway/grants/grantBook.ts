import type { z } from 'zod';
import type {
  createGrantRequestSchema,
  updateGrantRequestSchema,
} from '../../shared/api/apiSchemas.ts';
import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import { newId } from '../newId.ts';
import { type AccessReviewStore, reviewAccess } from '../sessions/accessReview.ts';
import type { CatalogStore, GrantRecord } from '../store/catalogStore.ts';
import type { UserDirectory, UserRecord } from '../store/identityStore.ts';

const toMs = (iso: string | null) => (iso === null ? null : Date.parse(iso));

/** Grants: admins write them; everyone reads the ones that name them or their groups. */
export class GrantBook {
  constructor(
    private readonly store: CatalogStore & Pick<UserDirectory, 'getUserById'> & AccessReviewStore,
    private readonly clock: Clock,
  ) {}

  /**
   * `expiringWithinSeconds`: only grants whose end falls between now and then (the "expire
   * soon" list, issue #14), soonest first.
   */
  async listFor(user: UserRecord, expiringWithinSeconds?: number): Promise<GrantRecord[]> {
    const all = await this.store.listGrants();
    const grants =
      user.role === 'admin' || user.role === 'auditor'
        ? all
        : all.filter((g) =>
            g.subjectKind === 'user' ? g.subject === user.id : user.groups.includes(g.subject),
          );
    if (expiringWithinSeconds === undefined) return grants;
    const now = this.clock.now();
    const horizon = now + expiringWithinSeconds * 1000;
    return grants
      .filter((g) => g.validUntil !== null && now < g.validUntil && g.validUntil <= horizon)
      .sort((a, b) => (a.validUntil ?? 0) - (b.validUntil ?? 0));
  }

  async getFor(user: UserRecord, id: string): Promise<GrantRecord> {
    const grant = (await this.listFor(user)).find((g) => g.id === id);
    if (!grant) throw notFound(id);
    return grant;
  }

  async create(
    createdBy: UserRecord,
    request: z.infer<typeof createGrantRequestSchema>,
  ): Promise<GrantRecord> {
    if (
      request.subject.kind === 'user' &&
      !(await this.store.getUserById(request.subject.userId))
    ) {
      throw new GatewayError(
        'bad_request',
        `There is no user ${request.subject.userId} to grant access to.`,
      );
    }
    if (
      request.target.kind === 'resource' &&
      !(await this.store.getResource(request.target.resourceId))
    ) {
      throw new GatewayError(
        'bad_request',
        `There is no resource ${request.target.resourceId} to grant access to.`,
      );
    }
    if (request.target.kind === 'labels' && Object.keys(request.target.selector).length === 0) {
      throw new GatewayError(
        'bad_request',
        'A label selector needs at least one label; an empty one would match nothing.',
      );
    }
    const grant: GrantRecord = {
      id: newId('grt'),
      subjectKind: request.subject.kind,
      subject: request.subject.kind === 'user' ? request.subject.userId : request.subject.group,
      targetKind: request.target.kind,
      resourceId: request.target.kind === 'resource' ? request.target.resourceId : null,
      selector: request.target.kind === 'labels' ? request.target.selector : null,
      mode: request.mode,
      validFrom: toMs(request.validFrom),
      validUntil: toMs(request.validUntil),
      maxSessionSeconds: request.maxSessionSeconds,
      description: request.description,
      policy: request.policy,
      createdBy: createdBy.id,
      createdAt: this.clock.now(),
      approvers: request.approvers,
      approvalsRequired: request.approvalsRequired,
      requestId: null,
    };
    await this.store.createGrant(grant);
    return grant;
  }

  async update(
    id: string,
    request: z.infer<typeof updateGrantRequestSchema>,
  ): Promise<GrantRecord> {
    const existing = await this.store.getGrant(id);
    if (!existing) throw notFound(id);
    const validFrom =
      request.validFrom !== undefined ? toMs(request.validFrom) : existing.validFrom;
    const validUntil =
      request.validUntil !== undefined ? toMs(request.validUntil) : existing.validUntil;
    if (validFrom !== null && validUntil !== null && validFrom >= validUntil) {
      throw new GatewayError('bad_request', 'validFrom must be before validUntil.');
    }
    const updated = await this.store.updateGrant(id, {
      ...(request.mode !== undefined && { mode: request.mode }),
      ...(request.maxSessionSeconds !== undefined && {
        maxSessionSeconds: request.maxSessionSeconds,
      }),
      ...(request.description !== undefined && { description: request.description }),
      ...(request.policy !== undefined && { policy: request.policy }),
      ...(request.approvers !== undefined && { approvers: request.approvers }),
      ...(request.approvalsRequired !== undefined && {
        approvalsRequired: request.approvalsRequired,
      }),
      validFrom,
      validUntil,
    });
    if (!updated) throw notFound(id);
    // A narrowed window takes access away: sessions under this grant end now if it is over,
    // or at its new end (issue #14; sessions/accessReview.ts).
    await reviewAccess(this.store, this.clock, { grantId: id });
    return updated;
  }

  async remove(id: string): Promise<void> {
    if (!(await this.store.deleteGrant(id))) throw notFound(id);
    await reviewAccess(this.store, this.clock, { grantId: id });
  }
}

function notFound(id: string): GatewayError {
  return new GatewayError('not_found', `There is no grant ${id} you can see.`);
}
