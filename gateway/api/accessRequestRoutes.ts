import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { AccessRequest, AccessRequestEvent } from '../../shared/api/apiSchemas.ts';
import type { AccessRequestDesk } from '../requests/accessRequestDesk.ts';
import type { AccessRequestEvents } from '../requests/accessRequestEvents.ts';
import type { AccessRequestRecord } from '../store/accessRequestStore.ts';
import type { GrantStore, ResourceStore } from '../store/catalogStore.ts';
import type { UserDirectory, UserRecord } from '../store/identityStore.ts';
import type { SessionStore } from '../store/sessionStore.ts';
import type { HandlersFor } from './apiRoute.ts';
import { iso, isoOrNull } from './presenters.ts';

export type AccessRequestRouteName =
  | 'createAccessRequest'
  | 'listAccessRequests'
  | 'accessRequestEvents'
  | 'getAccessRequest'
  | 'approveAccessRequest'
  | 'denyAccessRequest';

export interface AccessRequestRouteServices {
  store: Pick<UserDirectory, 'getUserById'> &
    Pick<ResourceStore, 'getResource'> &
    Pick<GrantStore, 'getGrant'> &
    Pick<SessionStore, 'listSessionsForRequest'>;
  requests: AccessRequestDesk;
  requestEvents: AccessRequestEvents;
}

/** A comment line this often keeps proxies and idle timers from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

/** Access requests and approvals (issue #14), and their live event stream. */
export function accessRequestHandlers(
  app: FastifyInstance,
  { store, requests, requestEvents }: AccessRequestRouteServices,
): HandlersFor<AccessRequestRouteName> {
  const streams = new Set<PassThrough>();
  // Open event streams would keep the API from closing; end them when it does.
  app.addHook('preClose', async () => {
    for (const stream of [...streams]) stream.end();
  });

  const present = async (
    request: AccessRequestRecord,
    viewer: UserRecord,
  ): Promise<AccessRequest> => {
    const [requester, resource, issued, sessions, approvers, canDecide] = await Promise.all([
      store.getUserById(request.userId),
      store.getResource(request.resourceId),
      request.issuedGrantId ? store.getGrant(request.issuedGrantId) : undefined,
      store.listSessionsForRequest(request.id),
      Promise.all(request.decisions.map((d) => store.getUserById(d.approverId))),
      requests.mayDecide(viewer, request),
    ]);
    return {
      id: request.id,
      userId: request.userId,
      username: requester?.username ?? '(deleted user)',
      resourceId: request.resourceId,
      resourceName: resource?.name ?? '(deleted resource)',
      grantId: request.grantId,
      reason: request.reason,
      durationSeconds: request.durationSeconds,
      approvalsRequired: request.approvalsRequired,
      state: request.state,
      createdAt: iso(request.createdAt),
      decidedAt: isoOrNull(request.decidedAt),
      issuedGrantId: request.issuedGrantId,
      accessUntil: isoOrNull(issued?.validUntil ?? null),
      decisions: request.decisions.map((d, i) => ({
        approverId: d.approverId,
        approverName: approvers[i]?.username ?? '(deleted user)',
        decision: d.decision,
        comment: d.comment,
        createdAt: iso(d.createdAt),
      })),
      sessionIds: sessions.map((s) => s.id),
      canDecide,
    };
  };

  return {
    createAccessRequest: async ({ auth: { user }, body }) =>
      present(await requests.request(user, body), user),
    listAccessRequests: async ({ auth: { user }, query }) => ({
      requests: await Promise.all(
        (await requests.list(user, query)).map((request) => present(request, user)),
      ),
    }),
    getAccessRequest: async ({ auth: { user }, params }) =>
      present(await requests.getFor(user, params.id), user),
    approveAccessRequest: async ({ auth: { user }, params, body }) =>
      present(await requests.decide(user, params.id, 'approve', body.comment), user),
    denyAccessRequest: async ({ auth: { user }, params, body }) =>
      present(await requests.decide(user, params.id, 'deny', body.comment), user),

    /**
     * Server-Sent Events (text/event-stream): one `data:` line of AccessRequestEvent JSON per
     * change to a request the caller made or may see as approver, admin or auditor, as it
     * happens — the desktop updates a request's status without polling (issue #14).
     */
    accessRequestEvents: async ({ auth: { user }, request, reply }) => {
      const body = new PassThrough();
      streams.add(body);
      // Events are written in order: each waits for the one before it to be presented.
      let queue: Promise<unknown> = Promise.resolve();
      const unsubscribe = requestEvents.subscribe((event) => {
        queue = queue
          .then(async () => {
            if (body.writableEnded || !(await requests.maySee(user, event.request))) return;
            const line: AccessRequestEvent = {
              kind: event.kind,
              request: await present(event.request, user),
            };
            body.write(`event: ${event.kind}\ndata: ${JSON.stringify(line)}\n\n`);
          })
          .catch(() => body.end());
      });
      const keepalive = setInterval(() => body.write(': keepalive\n\n'), KEEPALIVE_MS);
      const stop = () => {
        clearInterval(keepalive);
        unsubscribe();
        streams.delete(body);
        if (!body.writableEnded) body.end();
      };
      request.raw.on('close', stop);
      body.on('close', stop);
      body.on('finish', stop);
      // The first bytes tell the client the subscription is in place before any change.
      body.write(': subscribed\n\n');
      return reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('x-accel-buffering', 'no')
        .send(body);
    },
  };
}
