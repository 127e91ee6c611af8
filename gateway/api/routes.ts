import type { FastifyInstance } from 'fastify';
import type { Keys } from '../../shared/api/apiSchemas.ts';
import type { RouteName } from '../../shared/api/routeTable.ts';
import type { AuditTrail } from '../audit/auditTrail.ts';
import type { AuthService } from '../auth/authService.ts';
import type { Clock } from '../clock.ts';
import type { DbCertificateIssuer } from '../dbCertificates/dbCertificateIssuer.ts';
import { GatewayError } from '../gatewayError.ts';
import type { GrantBook } from '../grants/grantBook.ts';
import type { GroupDirectory, GroupView } from '../groups/groupDirectory.ts';
import type { Readiness } from '../health/readiness.ts';
import type { MachineIdentities } from '../machines/machineIdentities.ts';
import type { RecordingArchive } from '../recorder/recordingArchive.ts';
import type { ResourceCatalog } from '../resources/resourceCatalog.ts';
import type { SessionService } from '../sessions/sessionService.ts';
import type { ResourceStore } from '../store/catalogStore.ts';
import type { UserDirectory, UserRecord } from '../store/identityStore.ts';
import type { SessionRecord, SessionStore } from '../store/sessionStore.ts';
import type { StoreKind } from '../store/storeConnection.ts';
import type { UserAdmin } from '../users/userAdmin.ts';
import {
  type AccessRequestRouteName,
  type AccessRequestRouteServices,
  accessRequestHandlers,
} from './accessRequestRoutes.ts';
import { type ApiHandlers, type HandlersFor, registerApi } from './apiRoute.ts';
import { type AuditRouteName, type AuditRouteServices, auditHandlers } from './auditRoutes.ts';
import { type MachineRouteName, machineHandlers } from './machineRoutes.ts';
import { type OidcRouteName, type OidcRouteServices, oidcHandlers } from './oidcRoutes.ts';
import {
  iso,
  presentGrant,
  presentResource,
  presentSession,
  presentTokens,
  presentUser,
  presentWrittenResource,
} from './presenters.ts';
import {
  type RecordingRouteName,
  type RecordingRouteServices,
  recordingHandlers,
} from './recordingRoutes.ts';
import {
  type ResourceAdminRouteName,
  type ResourceAdminServices,
  resourceAdminHandlers,
} from './resourceAdminRoutes.ts';
import { type UserRouteName, userHandlers } from './userRoutes.ts';

export interface ApiServices {
  store: UserDirectory &
    Pick<ResourceStore, 'getResource'> &
    Pick<SessionStore, 'getSession' | 'listSessions'> &
    RecordingRouteServices['store'] &
    AccessRequestRouteServices['store'] &
    AuditRouteServices['store'];
  storeKind: StoreKind;
  clock: Clock;
  auth: AuthService;
  resources: ResourceCatalog;
  grants: GrantBook;
  groups: GroupDirectory;
  requests: AccessRequestRouteServices['requests'];
  requestEvents: AccessRequestRouteServices['requestEvents'];
  sessions: SessionService;
  /** Database client certificates for `witness db login` (issue #15). */
  dbCertificates: Pick<DbCertificateIssuer, 'issue'>;
  recordings: RecordingArchive;
  users: UserAdmin;
  /** The audit log's one writer (issue #14): the route wrapper records every audited call. */
  audit: AuditTrail;
  liveWatches: RecordingRouteServices['liveWatches'];
  recordingCheck: RecordingRouteServices['recordingCheck'];
  recordingJudge: RecordingRouteServices['recordingJudge'];
  reverifier: RecordingRouteServices['reverifier'];
  keys: Keys;
  version: string;
  /** What `GET /v1/readyz` answers for a load balancer (issue #17). */
  readiness: Pick<Readiness, 'check'>;
  scanHostKey: ResourceAdminServices['scanHostKey'];
  sqlParser: ResourceAdminServices['sqlParser'];
  /** Sign-in through identity providers, and their administration (issue #18). */
  oidcSignIn: OidcRouteServices['oidcSignIn'];
  oidcProviders: OidcRouteServices['oidcProviders'];
  /** Machine identities and the CI token exchange (issue #18). */
  machines: MachineIdentities;
}

/** Roles that may read every session (auditors review, they do not change). */
const SESSION_READERS = ['admin', 'auditor'] as const;

/** Registers every route of the table (shared/api/routeTable.ts) with its handler. */
export function registerRoutes(app: FastifyInstance, services: ApiServices): void {
  const handlers: ApiHandlers = {
    ...coreHandlers(services),
    ...recordingHandlers(app, services),
    ...userHandlers(services.users),
    ...accessRequestHandlers(app, services),
    ...resourceAdminHandlers(services),
    ...oidcHandlers(services),
    ...machineHandlers(services.machines),
    ...auditHandlers({
      store: services.store,
      audit: services.audit,
      clock: services.clock,
      keyId: services.keys.recordingKey.keyId,
    }),
  };
  registerApi(app, services.auth, handlers, services.audit);
}

type CoreRouteName = Exclude<
  RouteName,
  | RecordingRouteName
  | UserRouteName
  | AccessRequestRouteName
  | ResourceAdminRouteName
  | AuditRouteName
  | OidcRouteName
  | MachineRouteName
>;

/** Health, keys, sign-in, the signed-in user, resources, grants and sessions. */
function coreHandlers(services: ApiServices): HandlersFor<CoreRouteName> {
  const { auth, resources, grants, sessions, store } = services;

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

  return {
    // --- health and keys
    health: async () => ({
      status: 'ok' as const,
      version: services.version,
      store: services.storeKind,
      time: iso(services.clock.now()),
    }),
    keys: async () => services.keys,
    healthz: async () => ({ status: 'alive' as const }),
    readyz: () => services.readiness.check(),

    // --- authentication
    login: async ({ body, clientAddress }) => presentTokens(await auth.login(body, clientAddress)),
    refresh: async ({ body }) => presentTokens(await auth.refresh(body.refreshToken)),
    logout: async ({ auth: signedIn }) => {
      if (signedIn) await auth.logout(signedIn);
      return undefined;
    },
    enroll: async ({ body }) => ({
      username: (await auth.enroll(body.token, body.password)).username,
    }),
    me: async (ctx) => presentUser(signedInUser(ctx)),
    startTotpEnrollment: async (ctx) => auth.beginTotpEnrollment(signedInUser(ctx)),
    confirmTotp: async (ctx) =>
      presentUser(await auth.confirmTotp(signedInUser(ctx), ctx.body.code)),

    // --- resources
    listResources: async (ctx) => ({
      resources: (await resources.listVisible(signedInUser(ctx))).map(presentResource),
    }),
    getResource: async (ctx) =>
      presentResource(await resources.getVisible(signedInUser(ctx), ctx.params.id)),
    createResource: async ({ body }) => presentWrittenResource(await resources.create(body)),
    updateResource: async (ctx) =>
      presentWrittenResource(await resources.update(ctx.params.id, ctx.body)),
    deleteResource: async (ctx) => {
      await resources.remove(ctx.params.id);
      return undefined;
    },

    // --- grants
    listGrants: async (ctx) => ({
      grants: (await grants.listFor(signedInUser(ctx), ctx.query.expiringWithin)).map(presentGrant),
    }),
    getGrant: async (ctx) => presentGrant(await grants.getFor(signedInUser(ctx), ctx.params.id)),
    createGrant: async (ctx) => presentGrant(await grants.create(signedInUser(ctx), ctx.body)),
    updateGrant: async (ctx) => presentGrant(await grants.update(ctx.params.id, ctx.body)),
    deleteGrant: async (ctx) => {
      await grants.remove(ctx.params.id);
      return undefined;
    },

    // --- groups
    listGroups: async () => ({ groups: (await services.groups.list()).map(presentGroup) }),
    addGroupMember: async ({ params, body }) =>
      presentGroup(await services.groups.addMember(params.name, body.userId)),
    removeGroupMember: async ({ params }) => {
      await services.groups.removeMember(params.name, params.userId);
      return undefined;
    },

    // --- sessions
    createSession: async (ctx) => {
      // A machine's sign-in puts its identity and token claims on the session (issue #18).
      const principal = ctx.auth
        ? await services.machines.principalFor(ctx.auth.token.familyId)
        : undefined;
      const issued = await sessions.createSession(
        signedInUser(ctx),
        ctx.body.resourceId,
        principal,
      );
      return {
        sessionId: issued.session.id,
        ticket: issued.ticket,
        ticketExpiresAt: iso(issued.session.ticketExpiresAt),
        endpoint: issued.endpoint,
        expiresAt: iso(issued.session.expiresAt),
      };
    },
    createDbCertificate: async (ctx) => services.dbCertificates.issue(signedInUser(ctx), ctx.body),
    listSessions: async (ctx) => {
      const user = signedInUser(ctx);
      const mayReadAll = (SESSION_READERS as readonly string[]).includes(user.role);
      const list = await store.listSessions({
        ...ctx.query,
        ...(mayReadAll ? {} : { userId: user.id }),
      });
      return { sessions: await Promise.all(list.map(present)) };
    },
    getSession: async (ctx) => present(await visibleSession(ctx, ctx.params.id)),
    terminateSession: async (ctx) => {
      const user = signedInUser(ctx);
      const session = await visibleSession(ctx, ctx.params.id);
      if (user.role === 'auditor') {
        throw new GatewayError(
          'forbidden',
          'Auditors can watch sessions but not end them — ask an admin.',
        );
      }
      // The reason reaches the person whose session ends (issue #14).
      const reason = ctx.body.reason
        ? `terminated by ${user.username}: ${ctx.body.reason}`
        : `terminated by ${user.username}`;
      return present(await sessions.terminate(session.id, reason));
    },
  };
}

function presentGroup(group: GroupView) {
  return {
    name: group.name,
    members: group.members.map((user) => ({ id: user.id, username: user.username })),
  };
}

function signedInUser(ctx: { auth: { user: UserRecord } | null }): UserRecord {
  if (!ctx.auth) throw new GatewayError('unauthenticated', 'Sign in first.');
  return ctx.auth.user;
}
