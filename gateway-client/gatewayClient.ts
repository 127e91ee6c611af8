/**
 * Typed client of the gateway's `/v1` HTTP API (routes and shapes: `api/apiSchemas.ts`).
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
  apiErrorSchema,
  type CreateGrantRequest,
  type CreateResourceRequest,
  createGrantRequestSchema,
  createResourceRequestSchema,
  createSessionRequestSchema,
  createSessionResponseSchema,
  enrollRequestSchema,
  enrollResponseSchema,
  grantListSchema,
  grantSchema,
  healthSchema,
  keysSchema,
  loginRequestSchema,
  logoutRequestSchema,
  recordingAccessListSchema,
  type recordingAccessQuerySchema,
  type recordingExportQuerySchema,
  type recordingListQuerySchema,
  recordingListSchema,
  recordingSchema,
  type recordingSearchQuerySchema,
  recordingSearchResultSchema,
  refreshRequestSchema,
  resourceListSchema,
  resourceSchema,
  type sessionListQuerySchema,
  sessionListSchema,
  sessionSchema,
  type TokenPair,
  tokenPairSchema,
  totpConfirmRequestSchema,
  totpEnrollmentSchema,
  type UpdateGrantRequest,
  type UpdateResourceRequest,
  updateGrantRequestSchema,
  updateResourceRequestSchema,
  userSchema,
} from '../shared/api/apiSchemas.ts';
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
};

// ---------------------------------------------------------------------------------------------
// The client

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

interface RawResponse {
  status: number;
  statusMessage: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

interface CallSpec<T> {
  method: Method;
  /** Path below `/v1`, already URL-encoded. */
  path: string;
  /** A value, or a function evaluated for each attempt (logout sends the current token). */
  body?: unknown | (() => Promise<unknown>);
  auth: boolean;
  /** Schema of a 2xx body; null for routes that answer 204. */
  schema: z.ZodType<T> | null;
}

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

  // --- unauthenticated -----------------------------------------------------------------------

  async health() {
    return this.call({ method: 'GET', path: '/health', auth: false, schema: healthSchema });
  }

  async keys() {
    return this.call({ method: 'GET', path: '/keys', auth: false, schema: keysSchema });
  }

  /** Throws `GatewayApiError` with code `totp_required` when the account needs a TOTP code. */
  async login(request: LoginRequest): Promise<TokenPair> {
    const body = validRequest(loginRequestSchema, request);
    return this.call({
      method: 'POST',
      path: '/auth/login',
      body,
      auth: false,
      schema: tokenPairSchema,
    });
  }

  /** Exchanges a refresh token for a new pair; the old refresh token stops working. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const body = validRequest(refreshRequestSchema, { refreshToken });
    return this.call({
      method: 'POST',
      path: '/auth/refresh',
      body,
      auth: false,
      schema: tokenPairSchema,
    });
  }

  /** Sets the password of a new account with an admin's one-time enrollment token. */
  async enroll(request: EnrollRequest): Promise<EnrollResponse> {
    const body = validRequest(enrollRequestSchema, request);
    return this.call({
      method: 'POST',
      path: '/auth/enroll',
      body,
      auth: false,
      schema: enrollResponseSchema,
    });
  }

  // --- the signed-in user --------------------------------------------------------------------

  /**
   * Ends the session server-side: the access token and the refresh token (by default the
   * provider's current one, read when the request is sent) stop working.
   */
  async logout(options: { refreshToken?: string } = {}): Promise<void> {
    await this.call({
      method: 'POST',
      path: '/auth/logout',
      body: async () =>
        validRequest(logoutRequestSchema, {
          refreshToken: options.refreshToken ?? (await this.currentTokens()).refreshToken,
        }),
      auth: true,
      schema: null,
    });
  }

  async me() {
    return this.call({ method: 'GET', path: '/me', auth: true, schema: userSchema });
  }

  /** Starts TOTP enrollment: a secret to put into an authenticator app, then `confirmTotp`. */
  async startTotpEnrollment() {
    return this.call({
      method: 'POST',
      path: '/me/totp',
      auth: true,
      schema: totpEnrollmentSchema,
    });
  }

  async confirmTotp(code: string) {
    const body = validRequest(totpConfirmRequestSchema, { code });
    return this.call({
      method: 'POST',
      path: '/me/totp/confirm',
      body,
      auth: true,
      schema: userSchema,
    });
  }

  // --- resources -----------------------------------------------------------------------------

  async listResources() {
    const list = await this.call({
      method: 'GET',
      path: '/resources',
      auth: true,
      schema: resourceListSchema,
    });
    return list.resources;
  }

  async getResource(id: string) {
    return this.call({
      method: 'GET',
      path: `/resources/${seg(id)}`,
      auth: true,
      schema: resourceSchema,
    });
  }

  async createResource(request: CreateResourceRequest) {
    const body = validRequest(createResourceRequestSchema, request);
    return this.call({
      method: 'POST',
      path: '/resources',
      body,
      auth: true,
      schema: resourceSchema,
    });
  }

  async updateResource(id: string, request: UpdateResourceRequest) {
    const body = validRequest(updateResourceRequestSchema, request);
    return this.call({
      method: 'PATCH',
      path: `/resources/${seg(id)}`,
      body,
      auth: true,
      schema: resourceSchema,
    });
  }

  async deleteResource(id: string): Promise<void> {
    await this.call({ method: 'DELETE', path: `/resources/${seg(id)}`, auth: true, schema: null });
  }

  // --- grants --------------------------------------------------------------------------------

  async listGrants() {
    const list = await this.call({
      method: 'GET',
      path: '/grants',
      auth: true,
      schema: grantListSchema,
    });
    return list.grants;
  }

  async getGrant(id: string) {
    return this.call({
      method: 'GET',
      path: `/grants/${seg(id)}`,
      auth: true,
      schema: grantSchema,
    });
  }

  async createGrant(request: CreateGrantRequest) {
    const body = validRequest(createGrantRequestSchema, request);
    return this.call({ method: 'POST', path: '/grants', body, auth: true, schema: grantSchema });
  }

  async updateGrant(id: string, request: UpdateGrantRequest) {
    const body = validRequest(updateGrantRequestSchema, request);
    return this.call({
      method: 'PATCH',
      path: `/grants/${seg(id)}`,
      body,
      auth: true,
      schema: grantSchema,
    });
  }

  async deleteGrant(id: string): Promise<void> {
    await this.call({ method: 'DELETE', path: `/grants/${seg(id)}`, auth: true, schema: null });
  }

  // --- sessions ------------------------------------------------------------------------------

  /** Throws `GatewayApiError` 403 `no_active_grant` / `access_request_required` without a grant. */
  async createSession(resourceId: string) {
    const body = validRequest(createSessionRequestSchema, { resourceId });
    return this.call({
      method: 'POST',
      path: '/sessions',
      body,
      auth: true,
      schema: createSessionResponseSchema,
    });
  }

  async listSessions(query: Partial<SessionListQuery> = {}) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) params.set(key, String(value));
    }
    const qs = params.size > 0 ? `?${params}` : '';
    const list = await this.call({
      method: 'GET',
      path: `/sessions${qs}`,
      auth: true,
      schema: sessionListSchema,
    });
    return list.sessions;
  }

  async getSession(id: string) {
    return this.call({
      method: 'GET',
      path: `/sessions/${seg(id)}`,
      auth: true,
      schema: sessionSchema,
    });
  }

  async terminateSession(id: string) {
    return this.call({
      method: 'POST',
      path: `/sessions/${seg(id)}/terminate`,
      auth: true,
      schema: sessionSchema,
    });
  }

  // --- recordings ----------------------------------------------------------------------------

  /** Engineers get their own recordings whatever the filter; auditors and admins all. */
  async listRecordings(query: Partial<RecordingListQuery> = {}) {
    const list = await this.call({
      method: 'GET',
      path: `/recordings${queryString(query)}`,
      auth: true,
      schema: recordingListSchema,
    });
    return list.recordings;
  }

  /**
   * One page of recordings, newest first, with the cursor of the next page (null on the last).
   * Same visibility rule as `listRecordings`.
   */
  async listRecordingsPage(query: Partial<RecordingListQuery> = {}) {
    return this.call({
      method: 'GET',
      path: `/recordings${queryString(query)}`,
      auth: true,
      schema: recordingListSchema,
    });
  }

  /**
   * Full-text search inside recordings (commands, queries, output), newest hits first, one
   * page at a time. Engineers search only their own recordings. Every search is audited.
   */
  async searchRecordings(query: RecordingSearchQuery) {
    return this.call({
      method: 'GET',
      path: `/recordings/search${queryString(query)}`,
      auth: true,
      schema: recordingSearchResultSchema,
    });
  }

  /** The recording's metadata and its verification, done by the gateway on request. */
  async getRecording(sessionId: string) {
    return this.call({
      method: 'GET',
      path: `/recordings/${seg(sessionId)}`,
      auth: true,
      schema: recordingSchema,
    });
  }

  /** The raw recording stream (FORMAT.md), to verify or replay locally. */
  async downloadRecording(sessionId: string): Promise<Download> {
    return this.download(`/recordings/${seg(sessionId)}/stream`);
  }

  /** Who viewed, exported, searched or watched recordings (admins and auditors), newest first. */
  async listRecordingAccess(query: Partial<RecordingAccessQuery> = {}) {
    const list = await this.call({
      method: 'GET',
      path: `/recording-access${queryString(query)}`,
      auth: true,
      schema: recordingAccessListSchema,
    });
    return list.entries;
  }

  /**
   * Live watch (admins and auditors): the recording stream from its start, kept open while the
   * session records and ended when it does. The body is the same byte stream as
   * `downloadRecording`, arriving as the recorder writes it; feed it to a RecordingReader.
   * Destroy the body to stop watching. No idle timeout applies while it is open: a quiet
   * session sends nothing for as long as it is quiet.
   */
  async followRecording(sessionId: string): Promise<Download> {
    return this.download(`/recordings/${seg(sessionId)}/stream?follow=1`, { idleTimeout: false });
  }

  /** An export: the `.cast` of one terminal channel, or the signed bundle. */
  async exportRecording(sessionId: string, query: RecordingExportQuery): Promise<Download> {
    return this.download(`/recordings/${seg(sessionId)}/export${queryString(query)}`);
  }

  // --- plumbing ------------------------------------------------------------------------------

  /** An authenticated GET whose 2xx body is streamed to the caller instead of buffered. */
  private async download(
    path: string,
    options: { idleTimeout: boolean } = { idleTimeout: true },
  ): Promise<Download> {
    const spec: CallSpec<undefined> = { method: 'GET', path, auth: true, schema: null };
    const tokens = await this.currentTokens();
    let answer = await this.openDownload(spec, tokens.accessToken, options);
    if ('status' in answer && answer.status === 401 && errorCodeOf(answer) === 'token_expired') {
      const fresh = await this.refreshAfterExpiry(tokens.accessToken);
      answer = await this.openDownload(spec, fresh.accessToken, options);
    }
    if (!('status' in answer)) return answer;
    // Not a 2xx: an API error (thrown by `interpret`), or a status the API never answers.
    this.interpret(spec, answer);
    throw new GatewayProtocolError(
      this.baseUrl,
      'unexpected_status',
      `the gateway at ${this.baseUrl} answered GET ${API_PREFIX}${path} with ${answer.status} and no body to download`,
    );
  }

  /** Resolves with the streaming body on 2xx, and with the whole (small) response otherwise. */
  private openDownload(
    spec: CallSpec<undefined>,
    accessToken: string,
    options: { idleTimeout: boolean },
  ): Promise<Download | RawResponse> {
    const url = new URL(this.baseUrl);
    const what = `${spec.method} ${API_PREFIX}${spec.path}`;
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
        method: spec.method,
        path: `${this.basePath}${API_PREFIX}${spec.path}`,
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
          if (options.idleTimeout) res.setTimeout(this.timeoutMs, () => res.destroy(timedOut()));
          const declared = Number(res.headers['content-length']);
          resolve({
            body: res,
            contentType: res.headers['content-type'],
            contentLength: Number.isFinite(declared) ? declared : null,
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

  private async call<T>(spec: CallSpec<T>): Promise<T> {
    if (!spec.auth) return this.interpret(spec, await this.send(spec, undefined));
    const tokens = await this.currentTokens();
    const first = await this.send(spec, tokens.accessToken);
    if (first.status === 401 && errorCodeOf(first) === 'token_expired') {
      const fresh = await this.refreshAfterExpiry(tokens.accessToken);
      return this.interpret(spec, await this.send(spec, fresh.accessToken));
    }
    return this.interpret(spec, first);
  }

  /** Refreshes once, unless another call already replaced the expired access token. */
  private refreshAfterExpiry(expiredAccessToken: string): Promise<SessionTokens> {
    this.refreshing ??= (async () => {
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

  private interpret<T>(spec: CallSpec<T>, response: RawResponse): T {
    const what = `${spec.method} ${API_PREFIX}${spec.path}`;
    const { status } = response;
    if (status >= 200 && status < 300) {
      if (spec.schema === null) return undefined as T;
      const json = this.parseJson(response, what);
      const parsed = spec.schema.safeParse(json);
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
    spec: CallSpec<unknown>,
    accessToken: string | undefined,
  ): Promise<RawResponse> {
    const rawBody = typeof spec.body === 'function' ? await spec.body() : spec.body;
    const payload =
      rawBody === undefined ? undefined : Buffer.from(JSON.stringify(rawBody), 'utf8');
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
    const what = `${spec.method} ${API_PREFIX}${spec.path}`;

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
        method: spec.method,
        path: `${this.basePath}${API_PREFIX}${spec.path}`,
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

/** Checks a request body against the contract before it is sent, for a local, precise error. */
function validRequest<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new InvalidRequestError(
    parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
  );
}

function seg(id: string): string {
  return encodeURIComponent(id);
}

function queryString(query: Record<string, unknown>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) params.set(key, String(value));
  }
  return params.size > 0 ? `?${params}` : '';
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
