/**
 * The gateway's HTTP API, declared once: every route's name, method, path, who may call it,
 * and the schemas of its params, query, body and response (from `apiSchemas.ts`).
 *
 * Everything else follows from this table, the way `main/ipc/contract.ts` does it for IPC:
 * - the gateway registers one handler per entry (`gateway/api/apiRoute.ts`): a missing handler
 *   fails `tsc` and the gateway's start, and the role check and the validation of params,
 *   query, body and response happen there, from the entry, for every route;
 * - the typed client (`gateway-client/gatewayClient.ts`) has one generic `call(name, input)`
 *   that builds the URL and validates the answer from the entry;
 * - the client's test fake (`gateway-client/fixtures/fakeGateway.ts`) routes and validates
 *   with it too, and answers 501 for a route it does not implement.
 * Adding a route is one entry here plus its handler in `gateway/api/`.
 *
 * Paths are below `API_PREFIX` and name their parameters `:like-this`; an entry with
 * parameters has a `params` schema with exactly those keys (a test checks it).
 * `response` is a schema (a JSON answer, 200 unless `status` says otherwise), `'empty'`
 * (204, no body) or `'stream'` (a byte stream: a recording, an export — its content type is
 * the handler's).
 */
import { z } from 'zod';
import {
  API_PREFIX,
  accessRequestListQuerySchema,
  accessRequestListSchema,
  accessRequestSchema,
  accessRevokedSchema,
  addGroupMemberSchema,
  auditListQuerySchema,
  auditListSchema,
  connectionTestResultSchema,
  createAccessRequestSchema,
  createDbCertificateRequestSchema,
  createdUserSchema,
  createGrantRequestSchema,
  createResourceRequestSchema,
  createSessionRequestSchema,
  createSessionResponseSchema,
  createUserRequestSchema,
  dbCertificateSchema,
  decideAccessRequestSchema,
  enrollRequestSchema,
  enrollResponseSchema,
  grantListQuerySchema,
  grantListSchema,
  grantSchema,
  groupListSchema,
  groupNameSchema,
  groupSchema,
  healthSchema,
  hostKeyScanRequestSchema,
  hostKeyScanSchema,
  keysSchema,
  livenessSchema,
  loginRequestSchema,
  logoutRequestSchema,
  policyTryRequestSchema,
  policyTryResultSchema,
  type Role,
  readinessSchema,
  recordingAccessListSchema,
  recordingAccessQuerySchema,
  recordingExportQuerySchema,
  recordingListQuerySchema,
  recordingListSchema,
  recordingProblemsSchema,
  recordingSchema,
  recordingSearchQuerySchema,
  recordingSearchResultSchema,
  recordingSeekTableSchema,
  recordingStreamQuerySchema,
  refreshRequestSchema,
  resetUserRequestSchema,
  resetUserResponseSchema,
  resourceListSchema,
  resourceSchema,
  resourceWriteResultSchema,
  sessionListQuerySchema,
  sessionListSchema,
  sessionSchema,
  setUserRoleRequestSchema,
  terminateSessionRequestSchema,
  tokenPairSchema,
  totpConfirmRequestSchema,
  totpEnrollmentSchema,
  updateGrantRequestSchema,
  updateResourceRequestSchema,
  userListSchema,
  userSchema,
} from './apiSchemas.ts';
import {
  createMachineIdentityRequestSchema,
  idTokenExchangeRequestSchema,
  machineIdentityListSchema,
  machineIdentityParams,
  machineIdentitySchema,
  machineSignInSchema,
} from './machineSchemas.ts';
import {
  createOidcProviderRequestSchema,
  oidcCallbackQuerySchema,
  oidcProviderListSchema,
  oidcProviderParams,
  oidcProviderSchema,
  oidcSignInOptionsSchema,
  oidcStartQuerySchema,
  oidcTokenRequestSchema,
  updateOidcProviderRequestSchema,
} from './oidcSchemas.ts';

export type HttpMethod = 'GET' | 'POST' | 'PATCH' | 'DELETE';

/** Who may call a route: anyone, any signed-in user, or signed-in users with one of the roles. */
export type RouteAccess = 'public' | 'signed-in' | readonly Role[];

export interface RouteSpec {
  readonly method: HttpMethod;
  /** Below `API_PREFIX`, with `:name` parameters. */
  readonly path: `/${string}`;
  readonly access: RouteAccess;
  readonly params?: z.ZodType;
  readonly query?: z.ZodType;
  readonly body?: z.ZodType;
  readonly response: z.ZodType | 'empty' | 'stream';
  /** The success status; default 200 for a JSON answer, 204 for `'empty'`. */
  readonly status?: number;
  /**
   * The audit log's action for a route anyone signed in may call but whose every call is
   * audited (a request, a decision, a termination). Routes limited to roles that change
   * something are audited without it, as `admin.<route name>` (issue #14, `auditedAction`).
   * `false` opts such a route out: only for a computation on the request alone, which reads
   * nothing stored, reaches no target and changes nothing (tryPolicy); auditing it filled the
   * log with an entry per press of the settings panel's Try button, each recording no access.
   */
  readonly audit?: string | false;
}

// A resource, grant or session id in a URL: the store's ids, with room to spare.
const idParams = z.strictObject({ id: z.string().min(1).max(128) });
// Session ids name recording files: nothing but [A-Za-z0-9_-] may reach the storage.
const sessionIdParams = z.strictObject({ sessionId: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });

const groupParams = z.strictObject({ name: groupNameSchema });
const groupMemberParams = z.strictObject({
  name: groupNameSchema,
  userId: z.string().min(1).max(128),
});

const ADMIN = ['admin'] as const;
/** Roles that may read every recording's access log (auditors review, admins administer). */
const REVIEWERS = ['admin', 'auditor'] as const;

export const apiRoutes = {
  // --- health and keys (public: clients need them before they can sign in)
  health: { method: 'GET', path: '/health', access: 'public', response: healthSchema },
  // For load balancers (issue #17): public and never audited (GETs by no one signed in).
  healthz: { method: 'GET', path: '/healthz', access: 'public', response: livenessSchema },
  readyz: { method: 'GET', path: '/readyz', access: 'public', response: readinessSchema },
  keys: { method: 'GET', path: '/keys', access: 'public', response: keysSchema },

  // --- authentication
  login: {
    method: 'POST',
    path: '/auth/login',
    access: 'public',
    body: loginRequestSchema,
    response: tokenPairSchema,
  },
  refresh: {
    method: 'POST',
    path: '/auth/refresh',
    access: 'public',
    body: refreshRequestSchema,
    response: tokenPairSchema,
  },
  logout: {
    method: 'POST',
    path: '/auth/logout',
    access: 'signed-in',
    body: logoutRequestSchema,
    response: 'empty',
  },
  enroll: {
    method: 'POST',
    path: '/auth/enroll',
    access: 'public',
    body: enrollRequestSchema,
    response: enrollResponseSchema,
  },
  me: { method: 'GET', path: '/me', access: 'signed-in', response: userSchema },

  // --- OpenID Connect sign-in (issue #18). `start` and `callback` answer the browser with a
  // redirect (hence 'stream': the handler sends it); `token` gives the client its tokens.
  listOidcSignInOptions: {
    method: 'GET',
    path: '/oidc/providers',
    access: 'public',
    response: oidcSignInOptionsSchema,
  },
  startOidcSignIn: {
    method: 'GET',
    path: '/oidc/:provider/start',
    access: 'public',
    params: oidcProviderParams,
    query: oidcStartQuerySchema,
    response: 'stream',
  },
  oidcCallback: {
    method: 'GET',
    path: '/oidc/callback',
    access: 'public',
    query: oidcCallbackQuerySchema,
    response: 'stream',
  },
  exchangeOidcCode: {
    method: 'POST',
    path: '/oidc/token',
    access: 'public',
    body: oidcTokenRequestSchema,
    response: tokenPairSchema,
  },
  listOidcProviders: {
    method: 'GET',
    path: '/oidc-providers',
    access: ADMIN,
    response: oidcProviderListSchema,
  },
  createOidcProvider: {
    method: 'POST',
    path: '/oidc-providers',
    access: ADMIN,
    body: createOidcProviderRequestSchema,
    response: oidcProviderSchema,
    status: 201,
  },
  updateOidcProvider: {
    method: 'PATCH',
    path: '/oidc-providers/:provider',
    access: ADMIN,
    params: oidcProviderParams,
    body: updateOidcProviderRequestSchema,
    response: oidcProviderSchema,
  },
  deleteOidcProvider: {
    method: 'DELETE',
    path: '/oidc-providers/:provider',
    access: ADMIN,
    params: oidcProviderParams,
    response: 'empty',
  },

  // --- machine identities (issue #18): a CI job's workload token → minutes of access
  exchangeIdToken: {
    method: 'POST',
    path: '/auth/id-token',
    access: 'public',
    body: idTokenExchangeRequestSchema,
    response: machineSignInSchema,
  },
  listMachineIdentities: {
    method: 'GET',
    path: '/machine-identities',
    access: ADMIN,
    response: machineIdentityListSchema,
  },
  createMachineIdentity: {
    method: 'POST',
    path: '/machine-identities',
    access: ADMIN,
    body: createMachineIdentityRequestSchema,
    response: machineIdentitySchema,
    status: 201,
  },
  deleteMachineIdentity: {
    method: 'DELETE',
    path: '/machine-identities/:name',
    access: ADMIN,
    params: machineIdentityParams,
    response: 'empty',
  },
  startTotpEnrollment: {
    method: 'POST',
    path: '/me/totp',
    access: 'signed-in',
    response: totpEnrollmentSchema,
  },
  confirmTotp: {
    method: 'POST',
    path: '/me/totp/confirm',
    access: 'signed-in',
    body: totpConfirmRequestSchema,
    response: userSchema,
  },

  // --- resources (engineers see what they hold or may request; secrets are write-only)
  listResources: {
    method: 'GET',
    path: '/resources',
    access: 'signed-in',
    response: resourceListSchema,
  },
  getResource: {
    method: 'GET',
    path: '/resources/:id',
    access: 'signed-in',
    params: idParams,
    response: resourceSchema,
  },
  createResource: {
    method: 'POST',
    path: '/resources',
    access: ADMIN,
    body: createResourceRequestSchema,
    response: resourceWriteResultSchema,
    status: 201,
  },
  updateResource: {
    method: 'PATCH',
    path: '/resources/:id',
    access: ADMIN,
    params: idParams,
    body: updateResourceRequestSchema,
    response: resourceWriteResultSchema,
  },
  deleteResource: {
    method: 'DELETE',
    path: '/resources/:id',
    access: ADMIN,
    params: idParams,
    response: 'empty',
  },
  /** Which host key an SSH server presents (issue #14); nothing is stored. */
  scanHostKey: {
    method: 'POST',
    path: '/resources/ssh/host-key-scan',
    access: ADMIN,
    body: hostKeyScanRequestSchema,
    response: hostKeyScanSchema,
  },
  /** Connects with the stored secret and says which step failed: dns, tcp, tls, host_key, auth. */
  testResource: {
    method: 'POST',
    path: '/resources/:id/test',
    access: ADMIN,
    params: idParams,
    response: connectionTestResultSchema,
  },

  // --- policies (issue #14)
  /** What a masking and guardrail policy would do to a sample query and result (the real code). */
  tryPolicy: {
    method: 'POST',
    path: '/policies/try',
    access: ADMIN,
    body: policyTryRequestSchema,
    response: policyTryResultSchema,
    // Changes nothing and reads nothing stored: saving the policy is the audited act.
    audit: false,
  },

  // --- grants
  /** `?expiringWithin=7d`: only grants that end within that time from now. */
  listGrants: {
    method: 'GET',
    path: '/grants',
    access: 'signed-in',
    query: grantListQuerySchema,
    response: grantListSchema,
  },
  getGrant: {
    method: 'GET',
    path: '/grants/:id',
    access: 'signed-in',
    params: idParams,
    response: grantSchema,
  },
  createGrant: {
    method: 'POST',
    path: '/grants',
    access: ADMIN,
    body: createGrantRequestSchema,
    response: grantSchema,
    status: 201,
  },
  updateGrant: {
    method: 'PATCH',
    path: '/grants/:id',
    access: ADMIN,
    params: idParams,
    body: updateGrantRequestSchema,
    response: grantSchema,
  },
  deleteGrant: {
    method: 'DELETE',
    path: '/grants/:id',
    access: ADMIN,
    params: idParams,
    response: 'empty',
  },

  // --- groups (issue #14): a group is the name its members carry; it exists while it has any
  listGroups: { method: 'GET', path: '/groups', access: ADMIN, response: groupListSchema },
  addGroupMember: {
    method: 'POST',
    path: '/groups/:name/members',
    access: ADMIN,
    params: groupParams,
    body: addGroupMemberSchema,
    response: groupSchema,
  },
  removeGroupMember: {
    method: 'DELETE',
    path: '/groups/:name/members/:userId',
    access: ADMIN,
    params: groupMemberParams,
    response: 'empty',
  },

  // --- access requests (issue #14; who may see and decide which is checked in the handlers)
  createAccessRequest: {
    method: 'POST',
    path: '/access-requests',
    access: 'signed-in',
    body: createAccessRequestSchema,
    response: accessRequestSchema,
    status: 201,
    audit: 'request.create',
  },
  listAccessRequests: {
    method: 'GET',
    path: '/access-requests',
    access: 'signed-in',
    query: accessRequestListQuerySchema,
    response: accessRequestListSchema,
  },
  /** Server-Sent Events: every change to a request of mine or one I may decide. */
  accessRequestEvents: {
    method: 'GET',
    path: '/access-requests/events',
    access: 'signed-in',
    response: 'stream',
  },
  getAccessRequest: {
    method: 'GET',
    path: '/access-requests/:id',
    access: 'signed-in',
    params: idParams,
    response: accessRequestSchema,
  },
  approveAccessRequest: {
    method: 'POST',
    path: '/access-requests/:id/approve',
    access: 'signed-in',
    params: idParams,
    body: decideAccessRequestSchema,
    response: accessRequestSchema,
    audit: 'request.approve',
  },
  denyAccessRequest: {
    method: 'POST',
    path: '/access-requests/:id/deny',
    access: 'signed-in',
    params: idParams,
    body: decideAccessRequestSchema,
    response: accessRequestSchema,
    audit: 'request.deny',
  },

  // --- sessions (own sessions; admins and auditors read all — the handlers filter)
  createSession: {
    method: 'POST',
    path: '/sessions',
    access: 'signed-in',
    body: createSessionRequestSchema,
    response: createSessionResponseSchema,
    status: 201,
  },
  // --- database client certificates (issue #15): for the caller, on a resource a grant
  // allows now; the listener checks the grant again on every connection
  createDbCertificate: {
    method: 'POST',
    path: '/db-certificates',
    access: 'signed-in',
    body: createDbCertificateRequestSchema,
    response: dbCertificateSchema,
    status: 201,
  },
  listSessions: {
    method: 'GET',
    path: '/sessions',
    access: 'signed-in',
    query: sessionListQuerySchema,
    response: sessionListSchema,
  },
  getSession: {
    method: 'GET',
    path: '/sessions/:id',
    access: 'signed-in',
    params: idParams,
    response: sessionSchema,
  },
  terminateSession: {
    method: 'POST',
    path: '/sessions/:id/terminate',
    access: 'signed-in',
    params: idParams,
    body: terminateSessionRequestSchema,
    response: sessionSchema,
    audit: 'session.terminate',
  },

  // --- users and offboarding (issue #14): every change that takes access away re-checks the
  // user's live sessions (gateway/sessions/accessReview.ts)
  listUsers: { method: 'GET', path: '/users', access: ADMIN, response: userListSchema },
  createUser: {
    method: 'POST',
    path: '/users',
    access: ADMIN,
    body: createUserRequestSchema,
    response: createdUserSchema,
    status: 201,
  },
  /** Offboarding: sign-ins revoked, grants ended, live sessions and watches ended. */
  disableUser: {
    method: 'POST',
    path: '/users/:id/disable',
    access: ADMIN,
    params: idParams,
    response: accessRevokedSchema,
  },
  enableUser: {
    method: 'POST',
    path: '/users/:id/enable',
    access: ADMIN,
    params: idParams,
    response: userSchema,
  },
  setUserRole: {
    method: 'POST',
    path: '/users/:id/role',
    access: ADMIN,
    params: idParams,
    body: setUserRoleRequestSchema,
    response: accessRevokedSchema,
  },
  /**
   * A new password (a one-time enrollment token; the old password stops working) and/or TOTP
   * enrolment again; every sign-in is revoked, live sessions go on (the person is still allowed).
   */
  resetUser: {
    method: 'POST',
    path: '/users/:id/reset',
    access: ADMIN,
    params: idParams,
    body: resetUserRequestSchema,
    response: resetUserResponseSchema,
  },

  // --- recordings (own recordings; admins and auditors all — the handlers filter and audit)
  /**
   * Each recording with its last verdict and when it was made (`lastVerification.checkedAt`)
   * and the row's values the signed content contradicts (`differsFromSigned`; any makes the
   * verdict shown `failed`). `status=verified` lists only recordings shown verified (issue #12).
   */
  listRecordings: {
    method: 'GET',
    path: '/recordings',
    access: 'signed-in',
    query: recordingListQuerySchema,
    response: recordingListSchema,
  },
  searchRecordings: {
    method: 'GET',
    path: '/recordings/search',
    access: 'signed-in',
    query: recordingSearchQuerySchema,
    response: recordingSearchResultSchema,
  },
  /** Recordings the gateway cannot account for: no row, no bytes, or bytes without a row. */
  listRecordingProblems: {
    method: 'GET',
    path: '/recordings/problems',
    access: REVIEWERS,
    response: recordingProblemsSchema,
  },
  /** Verifies now (stored as `lastVerification`), with `verification` and `differsFromSigned`. */
  getRecording: {
    method: 'GET',
    path: '/recordings/:sessionId',
    access: 'signed-in',
    params: sessionIdParams,
    response: recordingSchema,
  },
  /**
   * The raw recording (FORMAT.md); `follow=1` (admins and auditors) streams it live. Each read
   * queues the recording for re-verification, so the list's verdict follows what was read.
   */
  streamRecording: {
    method: 'GET',
    path: '/recordings/:sessionId/stream',
    access: 'signed-in',
    params: sessionIdParams,
    query: recordingStreamQuerySchema,
    response: 'stream',
  },
  /**
   * For each checkpoint: seq, signed hash, time, byte offsets (issue #16), with the same access
   * as the stream; pair it with the stream's `from`/`to` to fetch one stretch.
   */
  getRecordingSeekTable: {
    method: 'GET',
    path: '/recordings/:sessionId/seek-table',
    access: 'signed-in',
    params: sessionIdParams,
    response: recordingSeekTableSchema,
  },
  exportRecording: {
    method: 'GET',
    path: '/recordings/:sessionId/export',
    access: 'signed-in',
    params: sessionIdParams,
    query: recordingExportQuerySchema,
    response: 'stream',
  },
  listRecordingAccess: {
    method: 'GET',
    path: '/recording-access',
    access: REVIEWERS,
    query: recordingAccessQuerySchema,
    response: recordingAccessListSchema,
  },

  // --- the audit log (issue #14): admins and auditors read it; the gateway alone writes it
  /** Newest first, filtered and paged (`nextCursor`). */
  listAudit: {
    method: 'GET',
    path: '/audit',
    access: REVIEWERS,
    query: auditListQuerySchema,
    response: auditListSchema,
  },
  /**
   * JSON lines (shared/recording/auditChain.ts): a header, every entry in order with each
   * signed checkpoint after the entry it covers; the gateway signs its head first, so the
   * export verifies to its last entry (`witness audit verify`).
   */
  exportAudit: { method: 'GET', path: '/audit/export', access: REVIEWERS, response: 'stream' },
} as const satisfies Record<string, RouteSpec>;

export type ApiRoutes = typeof apiRoutes;

/**
 * The audit log's action for a call of this route, or null when its calls are not audited.
 * Derived from the table, so a new admin route is audited without anyone remembering to:
 * every route limited to roles that is not a read is an admin action (issue #14).
 */
export function auditedAction(name: string, spec: RouteSpec): string | null {
  if (spec.audit === false) return null;
  if (spec.audit !== undefined) return spec.audit;
  if (Array.isArray(spec.access) && spec.method !== 'GET') return `admin.${name}`;
  return null;
}
export type RouteName = keyof ApiRoutes;
export const routeNames = Object.keys(apiRoutes) as RouteName[];

/** The table entry of a route, widened to `RouteSpec` for code that walks the table. */
export function routeSpec(name: RouteName): RouteSpec {
  return apiRoutes[name];
}

// ---------------------------------------------------------------------------------------------
// Types derived from an entry

type Entry<N extends RouteName> = ApiRoutes[N];
type OutputOf<R, K extends string, Otherwise> = R extends { [key in K]: infer S extends z.ZodType }
  ? z.output<S>
  : Otherwise;
type InputOf<R, K extends string, Otherwise> = R extends { [key in K]: infer S extends z.ZodType }
  ? z.input<S>
  : Otherwise;

/** What the server's handler receives, parsed. */
export type RouteParams<N extends RouteName> = OutputOf<Entry<N>, 'params', Record<string, never>>;
export type RouteQuery<N extends RouteName> = OutputOf<Entry<N>, 'query', undefined>;
export type RouteBody<N extends RouteName> = OutputOf<Entry<N>, 'body', undefined>;

/** What a JSON route answers (after the client's validation); `undefined` for `'empty'`. */
export type RouteResponse<N extends RouteName> = OutputOf<Entry<N>, 'response', undefined>;
/** What a JSON route's handler may return (the response schema's input: it is parsed). */
export type RouteResult<N extends RouteName> = Entry<N>['response'] extends z.ZodType
  ? z.input<Entry<N>['response']>
  : undefined;

/** Names of the routes whose answer is a byte stream, and of those whose answer is JSON/empty. */
export type StreamRouteName = {
  [N in RouteName]: Entry<N>['response'] extends 'stream' ? N : never;
}[RouteName];
export type JsonRouteName = Exclude<RouteName, StreamRouteName>;

/**
 * What a caller supplies: `params` when the path has any, `body` when the route takes one,
 * `query` (any subset: the server fills defaults) when the route reads one.
 */
export type RouteInput<N extends RouteName> = (Entry<N> extends { params: z.ZodType }
  ? { params: InputOf<Entry<N>, 'params', never> }
  : { params?: undefined }) &
  (Entry<N> extends { query: z.ZodType }
    ? { query?: Partial<InputOf<Entry<N>, 'query', never>> }
    : { query?: undefined }) &
  (Entry<N> extends { body: z.ZodType }
    ? { body: InputOf<Entry<N>, 'body', never> }
    : { body?: undefined });

// ---------------------------------------------------------------------------------------------
// Paths

/** The `:name` parameters of a path, in order. */
export function pathParams(path: string): string[] {
  return path
    .split('/')
    .filter((segment) => segment.startsWith(':'))
    .map((segment) => segment.slice(1));
}

/**
 * The path of a call below `API_PREFIX`, parameters URL-encoded, query appended (undefined and
 * null values left out). A missing parameter is a programming error, so it throws.
 */
export function routePath(
  spec: RouteSpec,
  params: Record<string, unknown> | undefined,
  query?: Record<string, unknown>,
): string {
  const path = spec.path
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment;
      const value = params?.[segment.slice(1)];
      if (value === undefined || value === null || value === '') {
        throw new Error(`${spec.method} ${spec.path} needs its ${segment.slice(1)} parameter`);
      }
      return encodeURIComponent(String(value));
    })
    .join('/');
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null) search.set(key, String(value));
  }
  return search.size > 0 ? `${path}?${search}` : path;
}

export interface RouteMatch {
  name: RouteName;
  params: Record<string, string>;
}

const matchers = routeNames.map((name) => {
  const spec = routeSpec(name);
  const pattern = spec.path
    .split('/')
    .map((segment) =>
      segment.startsWith(':') ? '([^/]+)' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return {
    name,
    method: spec.method,
    regex: new RegExp(`^${API_PREFIX}${pattern}/?$`),
    params: pathParams(spec.path),
  };
});

/**
 * The table entry a request names (full path, with `API_PREFIX`, without the query), or
 * undefined. Static segments win over parameters (`/recordings/search` is not a recording),
 * as in the gateway's router.
 */
export function matchRoute(method: string, pathname: string): RouteMatch | undefined {
  let best: (RouteMatch & { dynamic: number }) | undefined;
  for (const matcher of matchers) {
    if (matcher.method !== method) continue;
    const found = matcher.regex.exec(pathname);
    if (!found) continue;
    if (best && best.dynamic <= matcher.params.length) continue;
    let params: Record<string, string>;
    try {
      params = Object.fromEntries(
        matcher.params.map((name, i) => [name, decodeURIComponent(found[i + 1] ?? '')]),
      );
    } catch {
      continue; // a malformed %-escape names no route
    }
    best = { name: matcher.name, params, dynamic: matcher.params.length };
  }
  return best && { name: best.name, params: best.params };
}
