import type { FastifyInstance } from 'fastify';
import {
  createGrantRequestSchema,
  createResourceRequestSchema,
  createSessionRequestSchema,
  createSessionResponseSchema,
  enrollRequestSchema,
  enrollResponseSchema,
  grantListSchema,
  grantSchema,
  healthSchema,
  type Keys,
  keysSchema,
  loginRequestSchema,
  logoutRequestSchema,
  refreshRequestSchema,
  resourceListSchema,
  resourceSchema,
  sessionListQuerySchema,
  sessionListSchema,
  sessionSchema,
  tokenPairSchema,
  totpConfirmRequestSchema,
  totpEnrollmentSchema,
  updateGrantRequestSchema,
  updateResourceRequestSchema,
  userSchema,
} from '../../shared/api/apiSchemas.ts';
import type { AuthService } from '../auth/authService.ts';
import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import type { GrantBook } from '../grants/grantBook.ts';
import type { RecordingArchive } from '../recorder/recordingArchive.ts';
import type { ResourceCatalog } from '../resources/resourceCatalog.ts';
import type { SessionService } from '../sessions/sessionService.ts';
import type { ResourceStore } from '../store/catalogStore.ts';
import type { UserDirectory, UserRecord } from '../store/identityStore.ts';
import type { SessionRecord, SessionStore } from '../store/sessionStore.ts';
import type { StoreKind } from '../store/storeConnection.ts';
import { addRoute, type RouteDefinition } from './apiRoute.ts';
import {
  iso,
  presentGrant,
  presentResource,
  presentSession,
  presentTokens,
  presentUser,
} from './presenters.ts';
import { type RecordingRouteServices, registerRecordingRoutes } from './recordingRoutes.ts';

export interface ApiServices {
  store: UserDirectory &
    Pick<ResourceStore, 'getResource'> &
    Pick<SessionStore, 'getSession' | 'listSessions'> &
    RecordingRouteServices['store'];
  storeKind: StoreKind;
  clock: Clock;
  auth: AuthService;
  resources: ResourceCatalog;
  grants: GrantBook;
  sessions: SessionService;
  recordings: RecordingArchive;
  keys: Keys;
  version: string;
}

const ADMIN = ['admin'] as const;
/** Roles that may read every session (auditors review, they do not change). */
const SESSION_READERS = ['admin', 'auditor'] as const;

export function registerRoutes(app: FastifyInstance, services: ApiServices): void {
  const { auth, resources, grants, sessions, store } = services;
  const route = <B, Q, R>(definition: RouteDefinition<B, Q, R>) => addRoute(app, auth, definition);

  // --- health and keys (public: clients need them before they can sign in)
  route({
    method: 'GET',
    url: '/v1/health',
    access: 'public',
    response: healthSchema,
    handler: async () => ({
      status: 'ok' as const,
      version: services.version,
      store: services.storeKind,
      time: iso(services.clock.now()),
    }),
  });
  route({
    method: 'GET',
    url: '/v1/keys',
    access: 'public',
    response: keysSchema,
    handler: async () => services.keys,
  });

  // --- authentication
  route({
    method: 'POST',
    url: '/v1/auth/login',
    access: 'public',
    body: loginRequestSchema,
    response: tokenPairSchema,
    handler: async ({ body, clientAddress }) =>
      presentTokens(await auth.login(body, clientAddress)),
  });
  route({
    method: 'POST',
    url: '/v1/auth/refresh',
    access: 'public',
    body: refreshRequestSchema,
    response: tokenPairSchema,
    handler: async ({ body }) => presentTokens(await auth.refresh(body.refreshToken)),
  });
  route({
    method: 'POST',
    url: '/v1/auth/logout',
    access: 'signed-in',
    body: logoutRequestSchema,
    handler: async ({ auth: signedIn }) => {
      if (signedIn) await auth.logout(signedIn);
      return undefined;
    },
  });
  route({
    method: 'POST',
    url: '/v1/auth/enroll',
    access: 'public',
    body: enrollRequestSchema,
    response: enrollResponseSchema,
    handler: async ({ body }) => ({
      username: (await auth.enroll(body.token, body.password)).username,
    }),
  });
  route({
    method: 'GET',
    url: '/v1/me',
    access: 'signed-in',
    response: userSchema,
    handler: async (ctx) => presentUser(signedInUser(ctx)),
  });
  route({
    method: 'POST',
    url: '/v1/me/totp',
    access: 'signed-in',
    response: totpEnrollmentSchema,
    handler: async (ctx) => auth.beginTotpEnrollment(signedInUser(ctx)),
  });
  route({
    method: 'POST',
    url: '/v1/me/totp/confirm',
    access: 'signed-in',
    body: totpConfirmRequestSchema,
    response: userSchema,
    handler: async (ctx) => presentUser(await auth.confirmTotp(signedInUser(ctx), ctx.body.code)),
  });

  // --- resources
  route({
    method: 'GET',
    url: '/v1/resources',
    access: 'signed-in',
    response: resourceListSchema,
    handler: async (ctx) => ({
      resources: (await resources.listVisible(signedInUser(ctx))).map(presentResource),
    }),
  });
  route({
    method: 'GET',
    url: '/v1/resources/:id',
    access: 'signed-in',
    response: resourceSchema,
    handler: async (ctx) =>
      presentResource(await resources.getVisible(signedInUser(ctx), param(ctx, 'id'))),
  });
  route({
    method: 'POST',
    url: '/v1/resources',
    access: ADMIN,
    body: createResourceRequestSchema,
    response: resourceSchema,
    status: 201,
    handler: async ({ body }) => presentResource(await resources.create(body)),
  });
  route({
    method: 'PATCH',
    url: '/v1/resources/:id',
    access: ADMIN,
    body: updateResourceRequestSchema,
    response: resourceSchema,
    handler: async (ctx) => presentResource(await resources.update(param(ctx, 'id'), ctx.body)),
  });
  route({
    method: 'DELETE',
    url: '/v1/resources/:id',
    access: ADMIN,
    handler: async (ctx) => {
      await resources.remove(param(ctx, 'id'));
      return undefined;
    },
  });

  // --- grants
  route({
    method: 'GET',
    url: '/v1/grants',
    access: 'signed-in',
    response: grantListSchema,
    handler: async (ctx) => ({
      grants: (await grants.listFor(signedInUser(ctx))).map(presentGrant),
    }),
  });
  route({
    method: 'GET',
    url: '/v1/grants/:id',
    access: 'signed-in',
    response: grantSchema,
    handler: async (ctx) => presentGrant(await grants.getFor(signedInUser(ctx), param(ctx, 'id'))),
  });
  route({
    method: 'POST',
    url: '/v1/grants',
    access: ADMIN,
    body: createGrantRequestSchema,
    response: grantSchema,
    status: 201,
    handler: async (ctx) => presentGrant(await grants.create(signedInUser(ctx), ctx.body)),
  });
  route({
    method: 'PATCH',
    url: '/v1/grants/:id',
    access: ADMIN,
    body: updateGrantRequestSchema,
    response: grantSchema,
    handler: async (ctx) => presentGrant(await grants.update(param(ctx, 'id'), ctx.body)),
  });
  route({
    method: 'DELETE',
    url: '/v1/grants/:id',
    access: ADMIN,
    handler: async (ctx) => {
      await grants.remove(param(ctx, 'id'));
      return undefined;
    },
  });

  // --- sessions
  const present = async (session: SessionRecord) => {
    const [user, resource] = await Promise.all([
      store.getUserById(session.userId),
      store.getResource(session.resourceId),
    ]);
    return presentSession(session, {
      username: user?.username ?? '(deleted user)',
      resourceName: resource?.name ?? '(deleted resource)',
    });
  };
  /** Engineers see their own sessions; admins and auditors see all. */
  const visibleSession = async (
    ctx: { auth: { user: { id: string; role: string } } | null },
    id: string,
  ) => {
    const session = await store.getSession(id);
    const user = ctx.auth?.user;
    if (!session || !user || (user.role === 'engineer' && session.userId !== user.id)) {
      throw new GatewayError('not_found', `There is no session ${id} you can see.`);
    }
    return session;
  };

  route({
    method: 'POST',
    url: '/v1/sessions',
    access: 'signed-in',
    body: createSessionRequestSchema,
    response: createSessionResponseSchema,
    status: 201,
    handler: async (ctx) => {
      const issued = await sessions.createSession(signedInUser(ctx), ctx.body.resourceId);
      return {
        sessionId: issued.session.id,
        ticket: issued.ticket,
        ticketExpiresAt: iso(issued.session.ticketExpiresAt),
        endpoint: issued.endpoint,
        expiresAt: iso(issued.session.expiresAt),
      };
    },
  });
  route({
    method: 'GET',
    url: '/v1/sessions',
    access: 'signed-in',
    query: sessionListQuerySchema,
    response: sessionListSchema,
    handler: async (ctx) => {
      const user = signedInUser(ctx);
      const mayReadAll = (SESSION_READERS as readonly string[]).includes(user.role);
      const list = await store.listSessions({
        ...ctx.query,
        ...(mayReadAll ? {} : { userId: user.id }),
      });
      return { sessions: await Promise.all(list.map(present)) };
    },
  });
  route({
    method: 'GET',
    url: '/v1/sessions/:id',
    access: 'signed-in',
    response: sessionSchema,
    handler: async (ctx) => present(await visibleSession(ctx, param(ctx, 'id'))),
  });
  route({
    method: 'POST',
    url: '/v1/sessions/:id/terminate',
    access: 'signed-in',
    response: sessionSchema,
    handler: async (ctx) => {
      const user = signedInUser(ctx);
      const session = await visibleSession(ctx, param(ctx, 'id'));
      if (user.role === 'auditor') {
        throw new GatewayError(
          'forbidden',
          'Auditors can watch sessions but not end them — ask an admin.',
        );
      }
      return present(await sessions.terminate(session.id, `terminated by ${user.username}`));
    },
  });

  registerRecordingRoutes(app, auth, services);
}

function signedInUser(ctx: { auth: { user: UserRecord } | null }): UserRecord {
  if (!ctx.auth) throw new GatewayError('unauthenticated', 'Sign in first.');
  return ctx.auth.user;
}

function param(ctx: { params: Record<string, string> }, name: string): string {
  const value = ctx.params[name];
  if (!value || value.length > 128)
    throw new GatewayError('bad_request', `The ${name} in the URL is not valid.`);
  return value;
}
