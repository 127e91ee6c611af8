/**
 * Typed client of the gateway's `/v1` HTTP API. Its calls derive from the route table
 * (`shared/api/routeTable.ts`): no URL is written here.
 *
 * It speaks `node:https` rather than `fetch` because the gateway's TLS certificate is signed by
 * the gateway's own CA, pinned on first use: every request trusts that one CA and nothing else
 * (the system roots are not consulted), and the host name is checked as usual.
 *
 * Every response is validated with its zod schema, so a caller never sees a shape the contract
 * does not promise. Failures come out as one of three error classes: `GatewayApiError` (the
 * gateway answered with an API error), `GatewayConnectionError` (no answer: refused, DNS, TLS,
 * timeout) and `GatewayProtocolError` (an answer that is not the API: too large, not JSON,
 * wrong shape). `NotSignedInError` and `SessionExpiredError` cover the token life cycle.
 */

import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import {
  API_PREFIX,
  type ApiErrorBody,
  type ApiErrorCode,
  type AuditListQuery,
  apiErrorSchema,
  type CreateAccessRequest,
  type CreateDbCertificateRequest,
  type CreateGrantRequest,
  type CreateResourceRequest,
  type createUserRequestSchema,
  type enrollRequestSchema,
  type enrollResponseSchema,
  type healthSchema,
  type loginRequestSchema,
  type PolicyTryRequest,
  type Role,
  type recordingAccessQuerySchema,
  type recordingExportQuerySchema,
  type recordingListQuerySchema,
  type recordingSearchQuerySchema,
  type sessionListQuerySchema,
  type TokenPair,
  type totpEnrollmentSchema,
  type UpdateGrantRequest,
  type UpdateResourceRequest,
} from '../shared/api/apiSchemas.ts';
import type { createMachineIdentityRequestSchema } from '../shared/api/machineSchemas.ts';
import type {
  createOidcProviderRequestSchema,
  oidcStartQuerySchema,
  oidcTokenRequestSchema,
  updateOidcProviderRequestSchema,
} from '../shared/api/oidcSchemas.ts';
import {
  type HttpMethod,
  type RouteInput,
  type RouteName,
  type RouteResponse,
  type RouteSpec,
  routePath,
  routeSpec,
  type StreamRouteName,
} from '../shared/api/routeTable.ts';
import { normalizeGatewayUrl } from './gatewayUrl.ts';

/** Responses larger than this are refused: no API answer comes close, so it is a fault. */
export const DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_TIMEOUT_MS = 30_000;

export type LoginRequest = z.input<typeof loginRequestSchema>;
export type EnrollRequest = z.input<typeof enrollRequestSchema>;
export type SessionListQuery = z.input<typeof sessionListQuerySchema>;
export type Health = z.infer<typeof healthSchema>;
export type EnrollResponse = z.infer<typeof enrollResponseSchema>;
export type TotpEnrollment = z.infer<typeof totpEnrollmentSchema>;
export type RecordingListQuery = z.input<typeof recordingListQuerySchema>;
export type RecordingExportQuery = z.input<typeof recordingExportQuerySchema>;
export type RecordingSearchQuery = z.input<typeof recordingSearchQuerySchema>;
export type RecordingAccessQuery = z.input<typeof recordingAccessQuerySchema>;

/**
 * A response body to stream (a recording can be gigabytes): read `body` to its end, or
 * destroy it. If the gateway stalls for the client's timeout, `body` fails with a
 * `GatewayConnectionError`.
 */
export interface Download {
  body: Readable;
  contentType: string | undefined;
  /** From Content-Length, when the gateway sent one. */
  contentLength: number | null;
  /**
   * The response's trailers, read once the body has ended (empty before): a live watch says
   * why it ended in one (shared/api/watchEnd.ts).
   */
  trailers?: () => Record<string, string | undefined>;
}

/** The two tokens an authenticated call needs. */
export interface SessionTokens {
  accessToken: string;
  refreshToken: string;
}

/**
 * Where the client gets its tokens and hands back rotated ones. The client keeps no token of
 * its own: it asks `tokens()` before every authenticated call, so a provider that was updated
 * elsewhere (a new login) takes effect at once.
 */
export interface TokenProvider {
  /** The current tokens, or null when signed out. */
  tokens(): SessionTokens | null | Promise<SessionTokens | null>;
  /**
   * Called after an automatic refresh, before the retried call is sent. Refresh tokens rotate:
   * the previous one is already invalid, so the provider must keep this pair (and persist it,
   * if it persists anything) or the user is signed out.
   */
  tokensRefreshed(pair: TokenPair): void | Promise<void>;
  /**
   * When present, the client leaves renewing after `token_expired` to the provider instead of
   * spending the refresh token itself: a provider whose sign-in other processes share renews
   * under their common lock, and may find that one of them already did (issue #12). Resolves
   * the tokens to retry with; rejects with `SessionExpiredError` when the gateway refused.
   */
  renewExpired?(expiredAccessToken: string): Promise<SessionTokens>;
}

export interface GatewayClientOptions {
  /** `https://host:port`, optionally with a base path; normalized. */
  baseUrl: string;
  /** The pinned CA certificate (PEM): the only certificate authority this client trusts. */
  caPem: string;
  /** Whole-request deadline, connect to last byte. */
  timeoutMs?: number;
  maxResponseBytes?: number;
}

// ---------------------------------------------------------------------------------------------
// Errors

export interface ApiIssue {
  path: string;
  message: string;
}

/** The gateway answered with an API error (`apiErrorSchema`), rebuilt on this side. */
export class GatewayApiError extends Error {
  override readonly name = 'GatewayApiError';
  readonly status: number;
  readonly code: ApiErrorCode;
  readonly issues: readonly ApiIssue[];
  /** For 429s: when the caller may try again (ISO time). */
  readonly retryAfter: string | undefined;

  constructor(status: number, body: ApiErrorBody) {
    super(body.message);
    this.status = status;
    this.code = body.code;
    this.issues = body.issues ?? [];
    this.retryAfter = body.retryAfter;
  }

  /** The error as plain data, e.g. to send it across IPC. */
  toJSON(): ApiErrorBody & { status: number } {
    return {
      status: this.status,
      code: this.code,
      message: this.message,
      ...(this.issues.length > 0 ? { issues: [...this.issues] } : {}),
      ...(this.retryAfter ? { retryAfter: this.retryAfter } : {}),
    };
  }
}

export type ConnectionFailure =
  | 'refused'
  | 'not_found'
  | 'unreachable'
  | 'timeout'
  | 'reset'
  | 'tls'
  | 'other';

/** No HTTP answer: the gateway is down, unreachable, too slow, or its TLS certificate is bad. */
export class GatewayConnectionError extends Error {
  override readonly name = 'GatewayConnectionError';
  constructor(
    readonly baseUrl: string,
    readonly reason: ConnectionFailure,
    /** The system or TLS error code, e.g. `ECONNREFUSED`, `ERR_TLS_CERT_ALTNAME_INVALID`. */
    readonly errorCode: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type ProtocolFailure = 'too_large' | 'not_json' | 'unexpected_shape' | 'unexpected_status';

/** An HTTP answer that is not the API: oversized, not JSON, or not the promised shape. */
export class GatewayProtocolError extends Error {
  override readonly name = 'GatewayProtocolError';
  constructor(
    readonly baseUrl: string,
    readonly reason: ProtocolFailure,
    message: string,
  ) {
    super(message);
  }
}

/** A request body that the contract rejects, caught before it is sent. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
  constructor(readonly issues: readonly ApiIssue[]) {
    super(issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '));
  }
}

/** An authenticated call was made while the token provider has no tokens. */
export class NotSignedInError extends Error {
  override readonly name = 'NotSignedInError';
  constructor(readonly baseUrl: string) {
    super(`not signed in to the gateway at ${baseUrl}`);
  }
}

/** The refresh token was refused (expired, revoked, user disabled): sign in again. */
export class SessionExpiredError extends Error {
  override readonly name = 'SessionExpiredError';
  constructor(
    readonly baseUrl: string,
    options?: { cause?: unknown },
  ) {
    super(`your session with ${baseUrl} expired — sign in again`, options);
  }
}

// TLS verification failures from OpenSSL (via Node) and Node's own host-name check.
const tlsVerificationCodes = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Whether an error is the pinned CA refusing the gateway's certificate. */
export function isTlsVerificationError(error: unknown): error is GatewayConnectionError {
  return error instanceof GatewayConnectionError && error.reason === 'tls';
}

/** Turns a socket/TLS error into a message a person can act on. */
export function describeConnectionError(
  baseUrl: string,
  error: unknown,
  what = 'the gateway',
): GatewayConnectionError {
  const code =
    typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string'
      ? error.code
      : undefined;
  const detail = error instanceof Error ? error.message : String(error);
  const make = (reason: ConnectionFailure, message: string) =>
    new GatewayConnectionError(baseUrl, reason, code, message, { cause: error });
  const at = `${what} at ${baseUrl}`;
  switch (code) {
    case 'ECONNREFUSED':
      return make('refused', `cannot reach ${at}: ECONNREFUSED — is it running?`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return make('not_found', `cannot reach ${at}: ${code} — is the host name right?`);
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
      return make('unreachable', `cannot reach ${at}: ${code} — check the network (VPN?)`);
    case 'ECONNRESET':
    case 'EPIPE':
      return make(
        'reset',
        `the connection to ${at} was closed unexpectedly (${code}) — is it an https port? Try again`,
      );
  }
  if (code && tlsVerificationCodes.has(code)) {
    return make(
      'tls',
      `${at} presented a TLS certificate that the pinned CA does not accept: ${detail} (${code})`,
    );
  }
  if (code?.startsWith('ERR_SSL') || code?.startsWith('ERR_TLS') || /ssl|tls/i.test(detail)) {
    return make('tls', `TLS handshake with ${at} failed: ${detail}${code ? ` (${code})` : ''}`);
  }
  return make('other', `cannot reach ${at}: ${code ? `${code} ` : ''}${detail}`);
}

const fallbackCodes: Record<number, ApiErrorCode> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable',
};

// ---------------------------------------------------------------------------------------------
// The client

interface RawResponse {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** What a call sends: built from a table entry and the caller's input. */
interface PreparedRequest {
  method: HttpMethod;
  /** Path below `/v1`, URL-encoded, with its query. */
  path: string;
  /** The validated JSON body, if the route takes one. */
  body: unknown;
  /** `METHOD /v1/path`, for messages. */
  what: string;
}

export interface CallOptions {
  /** Stream routes: fail the body when the gateway sends nothing for the timeout (default). */
  idleTimeout?: boolean;
}

/** A call's input, or a function that makes it for each attempt. */
type CallInput<N extends RouteName> = RouteInput<N> | (() => Promise<RouteInput<N>>);
/** The input may be left out when the route needs no params and no body. */
type CallArgs<N extends RouteName> =
  Record<string, never> extends RouteInput<N>
    ? [input?: CallInput<N>, options?: CallOptions]
    : [input: CallInput<N>, options?: CallOptions];
/** A JSON route's validated answer, nothing for a 204, a `Download` for a stream. */
export type CallResult<N extends RouteName> = N extends StreamRouteName
  ? Download
  : RouteResponse<N>;

export class GatewayClient {
  readonly baseUrl: string;
  private readonly basePath: string;
  private readonly caPem: string;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly agent: https.Agent;
  private readonly tokenProvider: TokenProvider | undefined;
  /** One refresh at a time: concurrent 401s must not spend the same rotating token twice. */
  private refreshing: Promise<SessionTokens> | undefined;

  constructor(options: GatewayClientOptions, tokens?: TokenProvider) {
    this.baseUrl = normalizeGatewayUrl(options.baseUrl);
    this.basePath = new URL(this.baseUrl).pathname.replace(/\/$/, '');
    this.caPem = options.caPem;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.tokenProvider = tokens;
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 8, ca: this.caPem });
  }

  /** Closes idle keep-alive connections. The client must not be used afterwards. */
  close(): void {
    this.agent.destroy();
  }

  // --- the API, one call per route of the table ----------------------------------------------

  /**
   * Calls a route of the table (`shared/api/routeTable.ts`) by name: builds its URL from the
   * entry's path, params and query, checks the body against the entry's schema before sending
   * (a local, precise `InvalidRequestError`), signs in with the provider's token unless the
   * route is public (refreshing once on `token_expired`), and validates the answer with the
   * entry's response schema. A `'stream'` route resolves to a `Download`.
   *
   * `input` may be a function, evaluated for each attempt (logout sends the current token).
   * Params and query go as given: the gateway validates them and fills defaults, so a URL says
   * only what the caller asked for.
   */
  async call<N extends RouteName>(name: N, ...args: CallArgs<N>): Promise<CallResult<N>> {
    const [input, options] = args;
    const route = routeSpec(name);
    const prepare = async () =>
      prepareRequest(
        route,
        ((typeof input === 'function' ? await input() : input) ?? {}) as LooseInput,
      );
    if (route.response === 'stream') {
      return (await this.download(prepare, options ?? {})) as CallResult<N>;
    }
    const schema = route.response === 'empty' ? null : route.response;
    return (await this.callJson(prepare, route.access !== 'public', schema)) as CallResult<N>;
  }

  async health() {
    return this.call('health');
  }

  async keys() {
    return this.call('keys');
  }

  /** `GET /v1/healthz`: the gateway process answers (issue #17). */
  async liveness() {
    return this.call('healthz');
  }

  /** `GET /v1/readyz`: this replica takes new sessions; `unavailable` (503) when it does not. */
  async readiness() {
    return this.call('readyz');
  }

  /** Throws `GatewayApiError` with code `totp_required` when the account needs a TOTP code. */
  async login(request: LoginRequest): Promise<TokenPair> {
    return this.call('login', { body: request });
  }

  /** Exchanges a refresh token for a new pair; the old refresh token stops working. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    return this.call('refresh', { body: { refreshToken } });
  }

  /** Sets the password of a new account with an admin's one-time enrollment token. */
  async enroll(request: EnrollRequest): Promise<EnrollResponse> {
    return this.call('enroll', { body: request });
  }

  /**
   * Ends the session server-side: the access token and the refresh token (by default the
   * provider's current one, read when the request is sent) stop working.
   */
  async logout(options: { refreshToken?: string } = {}): Promise<void> {
    await this.call('logout', async () => ({
      body: { refreshToken: options.refreshToken ?? (await this.currentTokens()).refreshToken },
    }));
  }

  async me() {
    return this.call('me');
  }

  /** Starts TOTP enrollment: a secret to put into an authenticator app, then `confirmTotp`. */
  async startTotpEnrollment() {
    return this.call('startTotpEnrollment');
  }

  async confirmTotp(code: string) {
    return this.call('confirmTotp', { body: { code } });
  }

  async listResources() {
    return (await this.call('listResources')).resources;
  }

  async getResource(id: string) {
    return this.call('getResource', { params: { id } });
  }

  async createResource(request: CreateResourceRequest) {
    return this.call('createResource', { body: request });
  }

  async updateResource(id: string, request: UpdateResourceRequest) {
    return this.call('updateResource', { params: { id }, body: request });
  }

  async deleteResource(id: string): Promise<void> {
    await this.call('deleteResource', { params: { id } });
  }

  /** The host key an SSH server presents, to confirm before pinning it (nothing is stored). */
  async scanHostKey(host: string, port = 22) {
    return this.call('scanHostKey', { body: { host, port } });
  }

  /** Connects to the resource's target with its stored secret; says which step failed. */
  async testResource(id: string) {
    return this.call('testResource', { params: { id } });
  }

  /** What the gateway would do with a sample query (and result) under a policy. */
  async tryPolicy(request: PolicyTryRequest) {
    return this.call('tryPolicy', { body: request });
  }

  async listGrants() {
    return (await this.call('listGrants')).grants;
  }

  async getGrant(id: string) {
    return this.call('getGrant', { params: { id } });
  }

  async createGrant(request: CreateGrantRequest) {
    return this.call('createGrant', { body: request });
  }

  async updateGrant(id: string, request: UpdateGrantRequest) {
    return this.call('updateGrant', { params: { id }, body: request });
  }

  async deleteGrant(id: string): Promise<void> {
    await this.call('deleteGrant', { params: { id } });
  }

  // --- groups (issue #14)

  async listGroups() {
    return (await this.call('listGroups')).groups;
  }

  async addGroupMember(name: string, userId: string) {
    return this.call('addGroupMember', { params: { name }, body: { userId } });
  }

  async removeGroupMember(name: string, userId: string): Promise<void> {
    await this.call('removeGroupMember', { params: { name, userId } });
  }

  // --- access requests (issue #14)

  async requestAccess(request: CreateAccessRequest) {
    return this.call('createAccessRequest', { body: request });
  }

  /** `mine` (default), `queue` (pending ones I may decide) or `all` (admins, auditors). */
  async listAccessRequests(query: { scope?: 'mine' | 'queue' | 'all' } = {}) {
    return (await this.call('listAccessRequests', { query })).requests;
  }

  async getAccessRequest(id: string) {
    return this.call('getAccessRequest', { params: { id } });
  }

  async approveAccessRequest(id: string, comment = '') {
    return this.call('approveAccessRequest', { params: { id }, body: { comment } });
  }

  async denyAccessRequest(id: string, comment = '') {
    return this.call('denyAccessRequest', { params: { id }, body: { comment } });
  }

  /**
   * The live stream of changes to my requests and those I may decide: Server-Sent Events,
   * one `data:` line of AccessRequestEvent JSON each. Open for as long as it is read (no idle
   * timeout: a quiet stream sends a comment line every 15 s); destroy the body to stop.
   */
  async followAccessRequests(): Promise<Download> {
    return this.call('accessRequestEvents', {}, { idleTimeout: false });
  }

  /** Throws `GatewayApiError` 403 `no_active_grant` / `access_request_required` without a grant. */
  async createSession(resourceId: string) {
    return this.call('createSession', { body: { resourceId } });
  }

  /**
   * A database client certificate for `request.publicKeyPem` (`witness db login`, issue #15);
   * 403 `no_active_grant` / `access_request_required` without a grant for the resource.
   */
  async createDbCertificate(request: CreateDbCertificateRequest) {
    return this.call('createDbCertificate', { body: request });
  }

  async listSessions(query: Partial<SessionListQuery> = {}) {
    return (await this.call('listSessions', { query })).sessions;
  }

  async getSession(id: string) {
    return this.call('getSession', { params: { id } });
  }

  /** `reason` is shown to the person whose session ends. */
  async terminateSession(id: string, reason?: string) {
    return this.call('terminateSession', {
      params: { id },
      body: reason === undefined ? {} : { reason },
    });
  }

  // --- users and offboarding (admins; issue #14)

  async listUsers() {
    return (await this.call('listUsers')).users;
  }

  /** Without a password, the answer carries a one-time enrollment token. */
  async createUser(request: z.input<typeof createUserRequestSchema>) {
    return this.call('createUser', { body: request });
  }

  /** Offboarding; the answer lists what was revoked. */
  async disableUser(id: string) {
    return this.call('disableUser', { params: { id } });
  }

  async enableUser(id: string) {
    return this.call('enableUser', { params: { id } });
  }

  async setUserRole(id: string, role: Role) {
    return this.call('setUserRole', { params: { id }, body: { role } });
  }

  /**
   * Resets the password (the answer carries a one-time enrollment token) and/or TOTP, and
   * revokes every sign-in of the user; with neither named, both.
   */
  async resetUser(id: string, what: { password?: boolean; totp?: boolean } = {}) {
    return this.call('resetUser', { params: { id }, body: what });
  }

  /** Engineers get their own recordings whatever the filter; auditors and admins all. */
  async listRecordings(query: Partial<RecordingListQuery> = {}) {
    return (await this.call('listRecordings', { query })).recordings;
  }

  /**
   * One page of recordings, newest first, with the cursor of the next page (null on the last).
   * Same visibility rule as `listRecordings`.
   */
  async listRecordingsPage(query: Partial<RecordingListQuery> = {}) {
    return this.call('listRecordings', { query });
  }

  /**
   * Full-text search inside recordings (commands, queries, output), newest hits first, one
   * page at a time. Engineers search only their own recordings. Every search is audited.
   */
  async searchRecordings(query: RecordingSearchQuery) {
    return this.call('searchRecordings', { query });
  }

  /** The recording's metadata and its verification, done by the gateway on request. */
  async getRecording(sessionId: string) {
    return this.call('getRecording', { params: { sessionId } });
  }

  /** Recordings the gateway cannot account for (admins and auditors), checked on request. */
  async listRecordingProblems() {
    return this.call('listRecordingProblems');
  }

  /** The raw recording stream (FORMAT.md), to verify or replay locally. */
  async downloadRecording(sessionId: string): Promise<Download> {
    return this.call('streamRecording', { params: { sessionId } });
  }

  /**
   * Bytes [from, to) of the recording stream (issue #16): one stretch between two checkpoints
   * of `getRecordingSeekTable`, to verify on its own. Audited as a view, like the whole stream.
   */
  async downloadRecordingRange(sessionId: string, from: number, to: number): Promise<Download> {
    return this.call('streamRecording', {
      params: { sessionId },
      query: { from: String(from), to: String(to) },
    });
  }

  /** Where each checkpoint lies in the stored stream (issue #16); a map, verify what it names. */
  async getRecordingSeekTable(sessionId: string) {
    return this.call('getRecordingSeekTable', { params: { sessionId } });
  }

  /** Who viewed, exported, searched or watched recordings (admins and auditors), newest first. */
  async listRecordingAccess(query: Partial<RecordingAccessQuery> = {}) {
    return (await this.call('listRecordingAccess', { query })).entries;
  }

  /**
   * Live watch (admins and auditors): the recording stream from its start, kept open while the
   * session records and ended when it does. The body is the same byte stream as
   * `downloadRecording`, arriving as the recorder writes it; feed it to a RecordingReader.
   * Destroy the body to stop watching. No idle timeout applies while it is open: a quiet
   * session sends nothing for as long as it is quiet.
   */
  async followRecording(sessionId: string): Promise<Download> {
    return this.call(
      'streamRecording',
      { params: { sessionId }, query: { follow: '1' } },
      { idleTimeout: false },
    );
  }

  /** One page of the audit log, newest first (admins and auditors); `nextCursor` pages on. */
  async listAudit(query: AuditListQuery = {}) {
    return this.call('listAudit', { query });
  }

  /**
   * The whole audit log as JSON lines, signed to its last entry (admins and auditors);
   * `verifyAuditExport` in shared/recording/verifyAuditLog.ts checks it offline.
   */
  async exportAudit(): Promise<Download> {
    return this.call('exportAudit');
  }

  // --- identity providers (issue #18)

  /** The providers the sign-in screen offers ("Sign in with …"); no sign-in needed. */
  async listOidcSignInOptions() {
    return (await this.call('listOidcSignInOptions')).providers;
  }

  /**
   * What a browser opens to sign in through a provider; the answer is a redirect to it. Clients
   * build this URL for the browser (gateway-client/oidc/browserSignIn.ts); this method is for
   * diagnosing a provider's set-up.
   */
  async startOidcSignIn(
    provider: string,
    query: z.input<typeof oidcStartQuerySchema>,
  ): Promise<Download> {
    return this.call('startOidcSignIn', { params: { provider }, query });
  }

  /** Where the provider sends the browser back; only providers call it (a redirect answer). */
  async oidcCallback(query: Record<string, string>): Promise<Download> {
    return this.call('oidcCallback', { query });
  }

  /** The one-time code of a browser sign-in and its PKCE verifier → access and refresh tokens. */
  async exchangeOidcCode(request: z.input<typeof oidcTokenRequestSchema>) {
    return this.call('exchangeOidcCode', { body: request });
  }

  async listOidcProviders() {
    return (await this.call('listOidcProviders')).providers;
  }

  async createOidcProvider(request: z.input<typeof createOidcProviderRequestSchema>) {
    return this.call('createOidcProvider', { body: request });
  }

  async updateOidcProvider(name: string, request: z.input<typeof updateOidcProviderRequestSchema>) {
    return this.call('updateOidcProvider', { params: { provider: name }, body: request });
  }

  async deleteOidcProvider(name: string): Promise<void> {
    await this.call('deleteOidcProvider', { params: { provider: name } });
  }

  // --- machine identities (issue #18)

  /** A CI job's workload token → an access token for minutes (no refresh token). */
  async exchangeIdToken(idToken: string) {
    return this.call('exchangeIdToken', { body: { idToken } });
  }

  async listMachineIdentities() {
    return (await this.call('listMachineIdentities')).identities;
  }

  async createMachineIdentity(request: z.input<typeof createMachineIdentityRequestSchema>) {
    return this.call('createMachineIdentity', { body: request });
  }

  async deleteMachineIdentity(name: string): Promise<void> {
    await this.call('deleteMachineIdentity', { params: { name } });
  }

  /** An export: the `.cast` of one terminal channel, or the signed bundle. */
  async exportRecording(sessionId: string, query: RecordingExportQuery): Promise<Download> {
    return this.call('exportRecording', { params: { sessionId }, query });
  }

  // --- plumbing ------------------------------------------------------------------------------

  /** An authenticated GET whose 2xx body is streamed to the caller instead of buffered. */
  private async download(
    prepare: () => Promise<PreparedRequest>,
    options: CallOptions,
  ): Promise<Download> {
    const idleTimeout = options.idleTimeout ?? true;
    const tokens = await this.currentTokens();
    let request = await prepare();
    let answer = await this.openDownload(request, tokens.accessToken, idleTimeout);
    if ('status' in answer && answer.status === 401 && errorCodeOf(answer) === 'token_expired') {
      const fresh = await this.refreshAfterExpiry(tokens.accessToken);
      request = await prepare();
      answer = await this.openDownload(request, fresh.accessToken, idleTimeout);
    }
    if (!('status' in answer)) return answer;
    // Not a 2xx: an API error (thrown by `interpret`), or a status the API never answers.
    this.interpret(request, null, answer);
    throw new GatewayProtocolError(
      this.baseUrl,
      'unexpected_status',
      `the gateway at ${this.baseUrl} answered ${request.what} with ${answer.status} and no body to download`,
    );
  }

  /** Resolves with the streaming body on 2xx, and with the whole (small) response otherwise. */
  private openDownload(
    request: PreparedRequest,
    accessToken: string,
    idleTimeout: boolean,
  ): Promise<Download | RawResponse> {
    const url = new URL(this.baseUrl);
    const { what } = request;
    const timedOut = () =>
      new GatewayConnectionError(
        this.baseUrl,
        'timeout',
        'ETIMEDOUT',
        `the gateway at ${this.baseUrl} stopped sending ${what} for ` +
          `${Math.round(this.timeoutMs / 100) / 10} s — try again`,
      );
    return new Promise((resolve, reject) => {
      const req = https.request({
        protocol: 'https:',
        hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: url.port || 443,
        method: request.method,
        path: `${this.basePath}${API_PREFIX}${request.path}`,
        headers: {
          accept: 'application/octet-stream, text/plain, application/json',
          'user-agent': 'witness-client',
          authorization: `Bearer ${accessToken}`,
        },
        agent: this.agent,
        ca: this.caPem,
      });
      // Until the headers arrive the whole-request deadline applies; after that, a download
      // may take as long as it needs while bytes keep coming.
      const timer = setTimeout(() => req.destroy(timedOut()), this.timeoutMs);
      req.on('error', (error) => {
        clearTimeout(timer);
        reject(
          error instanceof GatewayConnectionError
            ? error
            : describeConnectionError(this.baseUrl, error),
        );
      });
      req.on('response', (res: IncomingMessage) => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) {
          if (idleTimeout) res.setTimeout(this.timeoutMs, () => res.destroy(timedOut()));
          const declared = Number(res.headers['content-length']);
          resolve({
            body: res,
            contentType: res.headers['content-type'],
            contentLength: Number.isFinite(declared) ? declared : null,
            trailers: () => res.trailers,
          });
          return;
        }
        // Error answers are small JSON; past the cap they are not the API's.
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= this.maxResponseBytes) chunks.push(chunk);
        });
        res.on('error', (error) => reject(describeConnectionError(this.baseUrl, error)));
        res.on('end', () =>
          resolve({
            status,
            statusMessage: res.statusMessage ?? '',
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      });
      req.end();
    });
  }

  private async currentTokens(): Promise<SessionTokens> {
    const tokens = this.tokenProvider ? await this.tokenProvider.tokens() : null;
    if (!tokens) throw new NotSignedInError(this.baseUrl);
    return tokens;
  }

  /** A JSON (or 204) call; `schema` null for 204. */
  private async callJson<T>(
    prepare: () => Promise<PreparedRequest>,
    auth: boolean,
    schema: z.ZodType<T> | null,
  ): Promise<T> {
    if (!auth) {
      const request = await prepare();
      return this.interpret(request, schema, await this.send(request, undefined));
    }
    const tokens = await this.currentTokens();
    const first = await prepare();
    const answer = await this.send(first, tokens.accessToken);
    if (answer.status === 401 && errorCodeOf(answer) === 'token_expired') {
      const fresh = await this.refreshAfterExpiry(tokens.accessToken);
      const retry = await prepare();
      return this.interpret(retry, schema, await this.send(retry, fresh.accessToken));
    }
    return this.interpret(first, schema, answer);
  }

  /** Refreshes once, unless another call already replaced the expired access token. */
  private refreshAfterExpiry(expiredAccessToken: string): Promise<SessionTokens> {
    this.refreshing ??= (async () => {
      if (this.tokenProvider?.renewExpired) {
        return this.tokenProvider.renewExpired(expiredAccessToken);
      }
      const current = await this.currentTokens();
      if (current.accessToken !== expiredAccessToken) return current;
      let pair: TokenPair;
      try {
        pair = await this.refresh(current.refreshToken);
      } catch (error) {
        if (error instanceof GatewayApiError && (error.status === 401 || error.status === 403)) {
          throw new SessionExpiredError(this.baseUrl, { cause: error });
        }
        throw error;
      }
      await this.tokenProvider?.tokensRefreshed(pair);
      return pair;
    })().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private interpret<T>(
    request: PreparedRequest,
    schema: z.ZodType<T> | null,
    response: RawResponse,
  ): T {
    const { what } = request;
    const { status } = response;
    if (status >= 200 && status < 300) {
      if (schema === null) return undefined as T;
      const json = this.parseJson(response, what);
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        const detail = parsed.error.issues
          .slice(0, 3)
          .map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`)
          .join('; ');
        throw new GatewayProtocolError(
          this.baseUrl,
          'unexpected_shape',
          `the gateway at ${this.baseUrl} sent an unexpected answer to ${what} (${detail}) — ` +
            'are this client and the gateway from compatible versions?',
        );
      }
      return parsed.data;
    }
    if (status >= 400) {
      const body = tryParseJson(response.body);
      const parsed = apiErrorSchema.safeParse(body);
      if (parsed.success) throw new GatewayApiError(status, parsed.data);
      const snippet = response.body.toString('utf8', 0, 200).replace(/\s+/g, ' ').trim();
      throw new GatewayApiError(status, {
        code: fallbackCodes[status] ?? 'internal',
        message:
          `the gateway at ${this.baseUrl} answered ${what} with ${status} ${response.statusMessage}` +
          (snippet ? `: ${snippet}` : ''),
      });
    }
    throw new GatewayProtocolError(
      this.baseUrl,
      'unexpected_status',
      `the gateway at ${this.baseUrl} answered ${what} with ${status} ${response.statusMessage}` +
        (response.headers.location ? ` (to ${response.headers.location})` : '') +
        ' — is this the gateway URL?',
    );
  }

  private parseJson(response: RawResponse, what: string): unknown {
    try {
      return JSON.parse(response.body.toString('utf8'));
    } catch {
      throw new GatewayProtocolError(
        this.baseUrl,
        'not_json',
        `the gateway at ${this.baseUrl} sent a non-JSON answer to ${what} ` +
          `(${response.headers['content-type'] ?? 'no content type'}) — is this the gateway URL?`,
      );
    }
  }

  private async send(
    request: PreparedRequest,
    accessToken: string | undefined,
  ): Promise<RawResponse> {
    const payload =
      request.body === undefined ? undefined : Buffer.from(JSON.stringify(request.body), 'utf8');
    const url = new URL(this.baseUrl);
    const headers: Record<string, string | number> = {
      accept: 'application/json',
      'user-agent': 'witness-client',
    };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    if (accessToken) headers.authorization = `Bearer ${accessToken}`;
    const { what } = request;

    return new Promise<RawResponse>((resolve, reject) => {
      let settled = false;
      const finish = (error: Error | undefined, response?: RawResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) {
          req.destroy();
          reject(error);
        } else resolve(response!);
      };
      const req = https.request({
        protocol: 'https:',
        hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: url.port || 443,
        method: request.method,
        path: `${this.basePath}${API_PREFIX}${request.path}`,
        headers,
        agent: this.agent,
        ca: this.caPem,
      });
      const timer = setTimeout(() => {
        finish(
          new GatewayConnectionError(
            this.baseUrl,
            'timeout',
            'ETIMEDOUT',
            `the gateway at ${this.baseUrl} did not answer ${what} within ` +
              `${Math.round(this.timeoutMs / 100) / 10} s — is it overloaded or unreachable?`,
          ),
        );
      }, this.timeoutMs);
      req.on('error', (error) => finish(describeConnectionError(this.baseUrl, error)));
      req.on('response', (res) => {
        const tooLarge = () =>
          new GatewayProtocolError(
            this.baseUrl,
            'too_large',
            `the gateway at ${this.baseUrl} sent more than ${formatBytes(this.maxResponseBytes)} ` +
              `in answer to ${what}; refusing it`,
          );
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > this.maxResponseBytes) {
          finish(tooLarge());
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxResponseBytes) finish(tooLarge());
          else chunks.push(chunk);
        });
        res.on('error', (error) => finish(describeConnectionError(this.baseUrl, error)));
        res.on('aborted', () =>
          finish(
            new GatewayConnectionError(
              this.baseUrl,
              'reset',
              'ECONNRESET',
              `the gateway at ${this.baseUrl} closed the connection in the middle of ${what}`,
            ),
          ),
        );
        res.on('end', () =>
          finish(undefined, {
            status: res.statusCode ?? 0,
            statusMessage: res.statusMessage ?? '',
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
      });
      req.end(payload);
    });
  }
}

/** The request of one call: its URL from the entry, its body checked by the entry's schema. */
/** The input of any route, as `prepareRequest` reads it (the table typed it for the caller). */
interface LooseInput {
  params?: Record<string, unknown>;
  query?: Record<string, unknown>;
  body?: unknown;
}

function prepareRequest(route: RouteSpec, input: LooseInput): PreparedRequest {
  const path = routePath(route, input.params, input.query);
  let body: unknown;
  if (route.body) {
    const parsed = route.body.safeParse(input.body ?? {});
    if (!parsed.success) {
      throw new InvalidRequestError(
        parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
      );
    }
    body = parsed.data;
  }
  return { method: route.method, path, body, what: `${route.method} ${API_PREFIX}${path}` };
}

function tryParseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function errorCodeOf(response: RawResponse): string | undefined {
  const parsed = apiErrorSchema.safeParse(tryParseJson(response.body));
  return parsed.success ? parsed.data.code : undefined;
}

function formatBytes(bytes: number): string {
  if (bytes >= 1024 * 1024) return `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB`;
  if (bytes >= 1024) return `${Math.round((bytes / 1024) * 10) / 10} KiB`;
  return `${bytes} bytes`;
}
