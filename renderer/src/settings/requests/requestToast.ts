/**
 * The in-app notice for an access-request event (issue #14: the requester "gets a desktop
 * notification"; in the web host this is it, in Electron main shows a system one as well):
 * a decision on my own request, or a new request I may decide.
 */
import type { EventPayload } from '../../../../main/ipc/contract.ts';
import type { Toast } from '../components/Toasts.tsx';

export function requestToast(
  event: EventPayload<'requests.changed'>,
  myUsername: string,
): Toast | null {
  const { kind, request } = event;
  const id = `${request.id}-${kind}`;
  const comment = request.decisions.at(-1)?.comment;
  if (request.username === myUsername) {
    if (kind === 'approved') {
      const until = request.accessUntil
        ? ` until ${new Date(request.accessUntil).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}`
        : '';
      return {
        id,
        title: `Access to ${request.resourceName} approved`,
        body: `You can open sessions on ${request.resourceName}${until}.${comment ? ` “${comment}”` : ''}`,
        tone: 'ok',
      };
    }
    if (kind === 'denied') {
      return {
        id,
        title: `Access to ${request.resourceName} denied`,
        body: comment ? `“${comment}”` : 'An approver denied your request.',
        tone: 'bad',
      };
    }
    return null;
  }
  if (kind === 'created' && request.canDecide) {
    return {
      id,
      title: `${request.username} requests ${request.resourceName}`,
      body: `“${request.reason}” — decide in Settings → Requests.`,
      tone: 'info',
    };
  }
  return null;
}
