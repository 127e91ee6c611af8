/**
 * The one rule for taking access away (issue #14): on any change of who may use what — a user
 * disabled or their role or groups changed, a grant deleted or its window narrowed — re-check
 * the open sessions it concerns against the records as they are now. A session no longer
 * allowed is ended in the store (the store the services get announces it on the event bus, so
 * the proxy carrying it, on whichever replica, closes the connection with the reason at once); one whose grant now ends earlier gets the earlier end, which
 * the live-session registry re-arms its timer to. Every route that changes access calls this,
 * so there is no second copy of the rule to drift.
 */
import type { Clock } from '../clock.ts';
import { grantAppliesTo, isWithinWindow } from '../policy/accessDecision.ts';
import type { GrantStore, ResourceStore } from '../store/catalogStore.ts';
import type { UserDirectory } from '../store/identityStore.ts';
import type { SessionRecord, SessionStore } from '../store/sessionStore.ts';

export interface AccessReviewStore
  extends Pick<UserDirectory, 'getUserById'>,
    Pick<ResourceStore, 'getResource'>,
    Pick<GrantStore, 'getGrant'>,
    Pick<SessionStore, 'listSessions' | 'endSession' | 'setSessionExpiry'> {}

/**
 * Whose sessions to re-check: one user's, or those opened under one grant. `providerRefused`
 * (issue #18): the user's identity provider no longer vouches for them (it refused to renew
 * their sign-in), so every open session of theirs ends with that reason, whatever the grants.
 */
export type AccessChange = { userId: string; providerRefused?: string } | { grantId: string };

export interface AccessReviewResult {
  /** Sessions ended because they are no longer allowed. */
  ended: SessionRecord[];
  /** Sessions still allowed, whose end moved earlier. */
  shortened: SessionRecord[];
}

/** More open sessions than this for one change is not a case this process is built for. */
const OPEN_SESSIONS_LIMIT = 500;

export async function reviewAccess(
  store: AccessReviewStore,
  clock: Clock,
  change: AccessChange,
): Promise<AccessReviewResult> {
  const open = await openSessions(store, change);
  const result: AccessReviewResult = { ended: [], shortened: [] };
  for (const session of open) {
    const now = clock.now();
    const verdict: Verdict =
      'providerRefused' in change && change.providerRefused !== undefined
        ? { kind: 'end', reason: `access revoked: ${change.providerRefused}` }
        : await judge(store, session, now);
    if (verdict.kind === 'end') {
      const ended = await store.endSession(session.id, verdict.reason, now);
      if (ended) result.ended.push(ended);
    } else if (verdict.endsAt < session.expiresAt) {
      const shortened = await store.setSessionExpiry(session.id, verdict.endsAt);
      if (shortened) result.shortened.push(shortened);
    }
  }
  return result;
}

async function openSessions(
  store: AccessReviewStore,
  change: AccessChange,
): Promise<SessionRecord[]> {
  const userId = 'userId' in change ? change.userId : undefined;
  const filter = { limit: OPEN_SESSIONS_LIMIT, ...(userId !== undefined && { userId }) };
  const [pending, live] = await Promise.all([
    store.listSessions({ ...filter, state: 'pending' }),
    store.listSessions({ ...filter, state: 'live' }),
  ]);
  const all = [...live, ...pending];
  return 'grantId' in change ? all.filter((s) => s.grantId === change.grantId) : all;
}

type Verdict = { kind: 'end'; reason: string } | { kind: 'keep'; endsAt: number };

/** Whether the session may go on under the records as they are now, and until when. */
async function judge(
  store: AccessReviewStore,
  session: SessionRecord,
  now: number,
): Promise<Verdict> {
  const [user, grant, resource] = await Promise.all([
    store.getUserById(session.userId),
    store.getGrant(session.grantId),
    store.getResource(session.resourceId),
  ]);
  if (!user || user.disabled) {
    return { kind: 'end', reason: 'access revoked: the account was disabled' };
  }
  if (!resource) return { kind: 'end', reason: 'access revoked: the resource was deleted' };
  if (!grant) return { kind: 'end', reason: 'access revoked: the grant was deleted' };
  if (!grantAppliesTo(grant, user, resource)) {
    // The person reads this: name the membership they lost when that is why.
    const lostGroup = grant.subjectKind === 'group' && !user.groups.includes(grant.subject);
    return {
      kind: 'end',
      reason: lostGroup
        ? `access revoked: no longer a member of group ${grant.subject}`
        : 'access revoked: the grant no longer applies to this user',
    };
  }
  if (!isWithinWindow(grant, now)) {
    return { kind: 'end', reason: 'access revoked: the grant is no longer valid' };
  }
  // The maximum session length counts from when the session was opened (sessionEnd()).
  const byLength = session.createdAt + grant.maxSessionSeconds * 1000;
  const endsAt = Math.min(byLength, grant.validUntil ?? Number.POSITIVE_INFINITY);
  return { kind: 'keep', endsAt };
}
