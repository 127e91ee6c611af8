/**
 * Access requests (issue #14): an engineer asks for time-boxed access under an
 * approval-required grant; approvers decide; the approval that completes the count issues a
 * time-boxed grant. Part of the catalog-and-grants aggregate: a request names a grant, and its
 * approval writes one, in the same transaction.
 */
import type { GrantRecord } from './catalogStore.ts';

export type AccessRequestState = 'pending' | 'approved' | 'denied';

export interface AccessRequestDecisionRecord {
  approverId: string;
  decision: 'approve' | 'deny';
  comment: string;
  createdAt: number;
}

export interface AccessRequestRecord {
  id: string;
  userId: string;
  resourceId: string;
  /** The approval-required grant that let the user ask (its approvers decide). */
  grantId: string;
  reason: string;
  durationSeconds: number;
  /** Copied from the grant when asked, so editing the grant does not move a running count. */
  approvalsRequired: number;
  state: AccessRequestState;
  createdAt: number;
  decidedAt: number | null;
  /** The time-boxed grant issued on approval. */
  issuedGrantId: string | null;
  /** Every approver's decision so far, oldest first. */
  decisions: AccessRequestDecisionRecord[];
}

export interface AccessRequestFilter {
  userId?: string;
  state?: AccessRequestState;
  limit: number;
}

/** What deciding did: the request as it now stands, or why nothing was written. */
export type AccessRequestDecisionOutcome =
  | { kind: 'recorded'; request: AccessRequestRecord; issuedGrant: GrantRecord | null }
  | { kind: 'not_pending'; request: AccessRequestRecord }
  | { kind: 'already_decided'; request: AccessRequestRecord }
  | { kind: 'not_found' };

export interface AccessRequestStore {
  createAccessRequest(request: AccessRequestRecord): Promise<void>;
  getAccessRequest(id: string): Promise<AccessRequestRecord | undefined>;
  /** Newest first. */
  listAccessRequests(filter: AccessRequestFilter): Promise<AccessRequestRecord[]>;
  /**
   * Records one approver's decision on a pending request, in one write transaction so that
   * two approvers deciding at once cannot both complete the count (or issue two grants): a
   * deny ends the request; an approval that brings the count to `approvalsRequired` marks it
   * approved and stores the grant `issue` builds (given the request and `now`).
   */
  decideAccessRequest(
    id: string,
    decision: AccessRequestDecisionRecord,
    issue: (request: AccessRequestRecord) => GrantRecord,
  ): Promise<AccessRequestDecisionOutcome>;
}
