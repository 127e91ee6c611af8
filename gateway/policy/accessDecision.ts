import type { GrantRecord, ResourceRecord } from '../store/catalogStore.ts';
import type { UserRecord } from '../store/identityStore.ts';

/**
 * Who may open a session on what, decided from plain records (no I/O), so every rule can be
 * tested exhaustively and the SSH/PostgreSQL listeners reuse it when a ticket is redeemed.
 */
export type AccessDecision =
  | { kind: 'granted'; grant: GrantRecord }
  /** Only approval-required grants apply: the user may request access. */
  | { kind: 'requestable'; grant: GrantRecord }
  /** Grants apply but none is inside its validity window now. */
  | { kind: 'outside_window'; grant: GrantRecord }
  | { kind: 'none' };

export function grantAppliesTo(
  grant: GrantRecord,
  user: UserRecord,
  resource: ResourceRecord,
): boolean {
  const subjectMatches =
    grant.subjectKind === 'user' ? grant.subject === user.id : user.groups.includes(grant.subject);
  if (!subjectMatches) return false;
  if (grant.targetKind === 'resource') return grant.resourceId === resource.id;
  const selector = grant.selector ?? {};
  const keys = Object.keys(selector);
  // An empty selector would silently match every resource; treat it as matching nothing.
  return keys.length > 0 && keys.every((key) => resource.labels[key] === selector[key]);
}

export function isWithinWindow(grant: GrantRecord, now: number): boolean {
  return (
    (grant.validFrom === null || grant.validFrom <= now) &&
    (grant.validUntil === null || now < grant.validUntil)
  );
}

export function decideAccess(
  user: UserRecord,
  resource: ResourceRecord,
  grants: readonly GrantRecord[],
  now: number,
): AccessDecision {
  const applicable = grants.filter((grant) => grantAppliesTo(grant, user, resource));
  const current = applicable.filter((grant) => isWithinWindow(grant, now));
  const standing = current.filter((grant) => grant.mode === 'standing');
  if (standing.length > 0) {
    // Prefer the grant that allows the longest session from now.
    const best = standing.reduce((a, b) => (sessionEnd(b, now) > sessionEnd(a, now) ? b : a));
    return { kind: 'granted', grant: best };
  }
  const approval = current.find((grant) => grant.mode === 'approval');
  if (approval) return { kind: 'requestable', grant: approval };
  const lapsed = applicable.find((grant) => grant.mode === 'standing');
  if (lapsed) return { kind: 'outside_window', grant: lapsed };
  return { kind: 'none' };
}

/** When a session started now under this grant must end. */
export function sessionEnd(grant: GrantRecord, now: number): number {
  const byLength = now + grant.maxSessionSeconds * 1000;
  return grant.validUntil === null ? byLength : Math.min(byLength, grant.validUntil);
}

/**
 * When the caller's use of a resource ends by grant (the desktop shows "time left"): the
 * latest `validUntil` among the standing grants that apply and are inside their window now;
 * null when one of them has no end, or when none is usable (the resource is then not
 * `granted`, and nothing is counting down).
 */
export function grantExpiry(
  user: UserRecord,
  resource: ResourceRecord,
  grants: readonly GrantRecord[],
  now: number,
): number | null {
  const usable = grants.filter(
    (grant) =>
      grant.mode === 'standing' &&
      grantAppliesTo(grant, user, resource) &&
      isWithinWindow(grant, now),
  );
  if (usable.length === 0 || usable.some((grant) => grant.validUntil === null)) return null;
  return Math.max(...usable.map((grant) => grant.validUntil ?? 0));
}
