/**
 * Store records → API shapes. Each presenter builds the response field by field, so a column
 * added to a record (a hash, a ciphertext) cannot leak into a response by accident; the route
 * layer then validates the result against the response schema as a second guard.
 */
import type {
  Grant,
  Resource,
  ResourceWriteResult,
  Session,
  TokenPair,
  User,
} from '../../shared/api/apiSchemas.ts';
import type { IssuedTokens } from '../auth/authService.ts';
import type { VisibleResource } from '../resources/resourceCatalog.ts';
import type { GrantRecord } from '../store/catalogStore.ts';
import type { UserRecord } from '../store/identityStore.ts';
import type { SessionRecord } from '../store/sessionStore.ts';

export const iso = (ms: number) => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export function presentUser(user: UserRecord): User {
  return {
    id: user.id,
    username: user.username,
    role: user.role,
    groups: user.groups,
    disabled: user.disabled,
    totpEnabled: user.totpSecret !== null,
    createdAt: iso(user.createdAt),
  };
}

export function presentTokens(tokens: IssuedTokens): TokenPair {
  return {
    accessToken: tokens.accessToken,
    accessExpiresAt: iso(tokens.accessExpiresAt),
    refreshToken: tokens.refreshToken,
    refreshExpiresAt: iso(tokens.refreshExpiresAt),
    user: presentUser(tokens.user),
  };
}

export function presentResource({
  record,
  target,
  access,
  grantExpiresAt,
}: VisibleResource): Resource {
  return {
    id: record.id,
    name: record.name,
    description: record.description,
    labels: record.labels,
    target,
    secretSet: {
      privateKey: record.secretFields.includes('privateKey'),
      password: record.secretFields.includes('password'),
    },
    policy: record.policy,
    access,
    grantExpiresAt: isoOrNull(grantExpiresAt),
    createdAt: iso(record.createdAt),
    updatedAt: iso(record.updatedAt),
  };
}

/** A create or edit's answer: the resource, and the public key to install when one was set. */
export function presentWrittenResource(resource: VisibleResource): ResourceWriteResult {
  return {
    ...presentResource(resource),
    publicKeyToInstall: resource.publicKeyToInstall ?? null,
  };
}

export function presentGrant(grant: GrantRecord): Grant {
  return {
    id: grant.id,
    subject:
      grant.subjectKind === 'user'
        ? { kind: 'user', userId: grant.subject }
        : { kind: 'group', group: grant.subject },
    target:
      grant.targetKind === 'resource'
        ? { kind: 'resource', resourceId: grant.resourceId ?? '' }
        : { kind: 'labels', selector: grant.selector ?? {} },
    mode: grant.mode,
    validFrom: isoOrNull(grant.validFrom),
    validUntil: isoOrNull(grant.validUntil),
    maxSessionSeconds: grant.maxSessionSeconds,
    description: grant.description,
    policy: grant.policy,
    createdBy: grant.createdBy,
    createdAt: iso(grant.createdAt),
    approvers: grant.approvers,
    approvalsRequired: grant.approvalsRequired,
    requestId: grant.requestId,
  };
}

export function presentSession(
  session: SessionRecord,
  names: { username: string; resourceName: string },
): Session {
  return {
    id: session.id,
    userId: session.userId,
    username: names.username,
    resourceId: session.resourceId,
    resourceName: names.resourceName,
    grantId: session.grantId,
    state: session.state,
    createdAt: iso(session.createdAt),
    startedAt: isoOrNull(session.startedAt),
    endedAt: isoOrNull(session.endedAt),
    expiresAt: iso(session.expiresAt),
    endReason: session.endReason,
    requestId: session.requestId,
  };
}
