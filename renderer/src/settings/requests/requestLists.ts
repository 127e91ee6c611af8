/**
 * Keeping the request lists current from `requests.changed` events without reloading: the
 * requester's own list takes the newer copy of a request; an approver's queue holds only the
 * pending requests they may still decide, so a decided one leaves it.
 */
import type { AccessRequestSummary } from '../../../../main/ipc/contract.ts';

export function mergeMine(
  current: readonly AccessRequestSummary[] | null,
  changed: AccessRequestSummary,
  myUsername: string,
): AccessRequestSummary[] | null {
  if (current === null || changed.username !== myUsername)
    return current as AccessRequestSummary[] | null;
  const rest = current.filter((r) => r.id !== changed.id);
  return [changed, ...rest].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

export function mergeQueue(
  current: readonly AccessRequestSummary[] | null,
  changed: AccessRequestSummary,
): AccessRequestSummary[] | null {
  if (current === null) return null;
  const rest = current.filter((r) => r.id !== changed.id);
  if (changed.state !== 'pending' || !changed.canDecide) return rest;
  return [changed, ...rest].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
}

export function approvalsOf(request: AccessRequestSummary): number {
  return request.decisions.filter((d) => d.decision === 'approve').length;
}

/** What the requester reads in the Status column. */
export function statusText(request: AccessRequestSummary, now: number): string {
  switch (request.state) {
    case 'pending':
      return `Pending · ${approvalsOf(request)} of ${request.approvalsRequired} approvals`;
    case 'denied': {
      const denial = request.decisions.find((d) => d.decision === 'deny');
      return denial
        ? `Denied by ${denial.approverName}${denial.comment ? `: ${denial.comment}` : ''}`
        : 'Denied';
    }
    case 'approved': {
      const until = request.accessUntil ? Date.parse(request.accessUntil) : null;
      if (until !== null && until <= now) return 'Approved · access ended';
      return until !== null
        ? `Approved · until ${new Date(until).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`
        : 'Approved';
    }
  }
}
