/**
 * Admins' user management (issue #14): list, create, disable (offboarding), enable, change a
 * role. Disabling takes every kind of access away at once, in the order that closes doors
 * before it clears rooms: the account is marked disabled (every API call with an access token
 * already issued is refused from the next request: authentication reads the user each time),
 * its sign-ins are revoked (no refresh), the grants naming it end, and then its open sessions
 * and live watches are ended through the one access rule (sessions/accessReview.ts).
 * Resetting a password or TOTP revokes sign-ins but leaves live sessions running: the person
 * is still allowed, only their credentials change.
 */
import type { z } from 'zod';
import type { createUserRequestSchema, Role } from '../../shared/api/apiSchemas.ts';
import type { AuthService } from '../auth/authService.ts';
import { hashPassword } from '../auth/passwords.ts';
import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import { newId } from '../newId.ts';
import { type AccessReviewStore, reviewAccess } from '../sessions/accessReview.ts';
import type { LiveWatches } from '../sessions/liveWatches.ts';
import type { GrantStore } from '../store/catalogStore.ts';
import type { IdentityStore, UserRecord } from '../store/identityStore.ts';

export interface UserAdminStore
  extends Pick<
      IdentityStore,
      | 'listUsers'
      | 'getUserById'
      | 'getUserByUsername'
      | 'createUser'
      | 'updateUser'
      | 'revokeAuthTokensOfUser'
      | 'spendEnrollmentsOfUser'
    >,
    Pick<GrantStore, 'listGrants' | 'updateGrant'>,
    AccessReviewStore {}

/** What a change that took access away revoked (the API's `accessRevokedSchema`). */
export interface AccessRevocation {
  user: UserRecord;
  signInsRevoked: boolean;
  grantsEnded: string[];
  sessionsEnded: string[];
  watchesEnded: number;
}

/** What a reset did (the API's `resetUserResponseSchema`). */
export interface UserResetOutcome {
  user: UserRecord;
  reset: { password: boolean; totp: boolean };
  signInsRevoked: boolean;
  enrollment: { token: string; expiresAt: number } | null;
}

/** Roles that may watch sessions live (api/recordingRoutes.ts checks it at the start). */
const WATCHING_ROLES: readonly Role[] = ['admin', 'auditor'];

export class UserAdmin {
  constructor(
    private readonly deps: {
      store: UserAdminStore;
      auth: Pick<AuthService, 'createEnrollment'>;
      liveWatches: Pick<LiveWatches, 'endFor'>;
      clock: Clock;
    },
  ) {}

  list(): Promise<UserRecord[]> {
    return this.deps.store.listUsers();
  }

  /** As `witness-gateway admin create-user`: a password, or a one-time enrollment token. */
  async create(
    request: z.infer<typeof createUserRequestSchema>,
  ): Promise<{ user: UserRecord; enrollment: { token: string; expiresAt: number } | null }> {
    const { store } = this.deps;
    if (await store.getUserByUsername(request.username)) {
      throw new GatewayError('conflict', `A user named ${request.username} already exists.`);
    }
    const user = await store.createUser({
      id: newId('usr'),
      username: request.username,
      role: request.role,
      groups: request.groups,
      passwordHash: request.password === undefined ? null : await hashPassword(request.password),
      createdAt: this.deps.clock.now(),
    });
    const enrollment =
      request.password === undefined ? await this.deps.auth.createEnrollment(user.id) : null;
    return { user, enrollment };
  }

  /** Offboarding. Idempotent: disabling a disabled user revokes whatever is left. */
  async disable(actor: UserRecord, userId: string): Promise<AccessRevocation> {
    const { store, clock } = this.deps;
    if (actor.id === userId) {
      throw new GatewayError(
        'bad_request',
        'You cannot disable your own account — ask another admin to do it.',
      );
    }
    const user = await this.patch(userId, { disabled: true });
    await store.revokeAuthTokensOfUser(userId, clock.now());
    const grantsEnded = await this.endGrantsNaming(userId);
    const review = await reviewAccess(store, clock, { userId });
    const watchesEnded = this.deps.liveWatches.endFor(userId, 'the account was disabled');
    return {
      user,
      signInsRevoked: true,
      grantsEnded,
      sessionsEnded: review.ended.map((s) => s.id),
      watchesEnded,
    };
  }

  /**
   * Resets the password (the old one stops working now; a one-time enrollment token sets the
   * next, and earlier unused links die) and/or TOTP (the secret is removed, so the user enrols
   * it again after signing in). Every sign-in is revoked either way: whoever held the old
   * credential may also hold a session token. Live sessions are not ended — the person is still
   * allowed (disable is for taking access away).
   */
  async reset(
    actor: UserRecord,
    userId: string,
    what: { password: boolean; totp: boolean },
  ): Promise<UserResetOutcome> {
    const { store, clock } = this.deps;
    if (actor.id === userId) {
      throw new GatewayError(
        'bad_request',
        'You cannot reset your own credentials here — change them from your own account (/me), or ask another admin.',
      );
    }
    if (!what.password && !what.totp) {
      throw new GatewayError('bad_request', 'Say what to reset: the password, TOTP or both.');
    }
    const user = await this.patch(userId, {
      ...(what.password && { passwordHash: null, failedLogins: 0, lockedUntil: null }),
      ...(what.totp && { totpSecret: null, totpPendingSecret: null, totpLastStep: null }),
    });
    const now = clock.now();
    await store.revokeAuthTokensOfUser(userId, now);
    let enrollment: UserResetOutcome['enrollment'] = null;
    if (what.password) {
      await store.spendEnrollmentsOfUser(userId, now);
      enrollment = await this.deps.auth.createEnrollment(userId);
    }
    return { user, reset: what, signInsRevoked: true, enrollment };
  }

  async enable(userId: string): Promise<UserRecord> {
    return this.patch(userId, { disabled: false, failedLogins: 0, lockedUntil: null });
  }

  /** A role change; what the new role may no longer do ends now (live watches). */
  async setRole(actor: UserRecord, userId: string, role: Role): Promise<AccessRevocation> {
    if (actor.id === userId && role !== 'admin') {
      throw new GatewayError(
        'bad_request',
        'You cannot take the admin role from yourself — ask another admin, so one always remains.',
      );
    }
    const user = await this.patch(userId, { role });
    // Sessions do not depend on the role today; the rule runs anyway, so a future rule that
    // does cannot be forgotten here.
    const review = await reviewAccess(this.deps.store, this.deps.clock, { userId });
    const watchesEnded = WATCHING_ROLES.includes(role)
      ? 0
      : this.deps.liveWatches.endFor(userId, `the role changed to ${role}`);
    return {
      user,
      signInsRevoked: false,
      grantsEnded: [],
      sessionsEnded: review.ended.map((s) => s.id),
      watchesEnded,
    };
  }

  private async patch(
    userId: string,
    patch: Parameters<UserAdminStore['updateUser']>[1],
  ): Promise<UserRecord> {
    const user = await this.deps.store.updateUser(userId, patch);
    if (!user) throw new GatewayError('not_found', `There is no user ${userId}.`);
    return user;
  }

  /** Ends (sets the end to now, keeping the history) the user's own grants still running. */
  private async endGrantsNaming(userId: string): Promise<string[]> {
    const now = this.deps.clock.now();
    const running = (await this.deps.store.listGrants()).filter(
      (g) =>
        g.subjectKind === 'user' &&
        g.subject === userId &&
        (g.validUntil === null || g.validUntil > now),
    );
    for (const grant of running) {
      // A grant that has not started yet ends before it starts: validFrom must stay earlier.
      const validFrom =
        grant.validFrom !== null && grant.validFrom >= now ? now - 1 : grant.validFrom;
      await this.deps.store.updateGrant(grant.id, { validFrom, validUntil: now });
    }
    return running.map((g) => g.id);
  }
}
