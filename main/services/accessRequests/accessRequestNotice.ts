/**
 * The desktop notification for a change to one of my access requests (issue #14: "gets a
 * desktop notification"): only the decisions the requester waits for — approved, denied —
 * and only their own; approvers see their queue change in the panel instead.
 */
import type { AccessRequestEvent } from '../../../shared/api/apiSchemas.ts';

export interface RequestNotice {
  title: string;
  body: string;
}

export function requestNotice(event: AccessRequestEvent, myUserId: string): RequestNotice | null {
  const request = event.request;
  if (request.userId !== myUserId) return null;
  const lastComment = request.decisions.at(-1)?.comment;
  const comment = lastComment ? ` — “${lastComment}”` : '';
  if (event.kind === 'approved') {
    const until = request.accessUntil ? ` until ${formatTime(request.accessUntil)}` : '';
    return {
      title: `Access to ${request.resourceName} approved`,
      body: `You may open sessions on ${request.resourceName}${until}${comment}`,
    };
  }
  if (event.kind === 'denied') {
    const by = request.decisions.findLast((d) => d.decision === 'deny')?.approverName;
    return {
      title: `Access to ${request.resourceName} denied`,
      body: `${by ? `${by} denied your request` : 'Your request was denied'}${comment}`,
    };
  }
  return null;
}

function formatTime(iso: string): string {
  const date = new Date(iso);
  return Number.isNaN(date.getTime())
    ? iso
    : date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}
