/**
 * The DesktopApi contract: every call the renderer may make and every event main may send,
 * declared once with zod schemas (CONVENTIONS.md, "One typed contract for IPC").
 *
 * - main parses every request with these schemas before a handler runs, and every response
 *   before it leaves (z.object strips unknown keys, so a field added to a service result by
 *   mistake — a token, say — never reaches the renderer);
 * - `CallHandlers` is derived from `calls`, so a call without a handler fails `tsc`;
 * - the renderer imports this file with `import type` only (it never loads zod or main code);
 * - errors cross as plain `{code, message}` and are rebuilt as `DesktopError` on the far side.
 *
 * Narrow verbs only: nothing here reads files, runs programs or fetches URLs on the renderer's
 * behalf. Nothing here carries a token, a ticket or a target secret — the renderer has no way to
 * ask for one (test/security checks this).
 */
import { z } from 'zod';
import type { CALL_NAMES, CallName, EVENT_NAMES, EventName } from './channels.ts';

export type { CallName, EventName } from './channels.ts';

// ---------------------------------------------------------------------------------------------
// Errors

export const errorCodes = [
  /** The request did not match the contract (or named an unknown call). */
  'invalid_request',
  'unknown_call',
  /** No gateway is pinned yet, or no one is signed in. */
  'no_gateway',
  'not_signed_in',
  /** The refresh token expired or was revoked: sign in again. */
  'session_expired',
  /** Login needs a TOTP code (ask for it and call again with `totpCode`). */
  'totp_required',
  'wrong_credentials',
  /** The gateway could not be reached, or its certificate does not match the pinned CA. */
  'gateway_unreachable',
  'gateway_certificate_mismatch',
  /** The gateway refused (its message says why: no grant, disabled user, …). */
  'forbidden',
  'not_found',
  'conflict',
  'rate_limited',
  'gateway_error',
  'terminal_not_found',
  /** The recording failed verification; the message names the first bad seq. */
  'verification_failed',
  'internal',
] as const;
export type ErrorCode = (typeof errorCodes)[number];

export interface DesktopErrorShape {
  code: ErrorCode;
  /** A sentence a person can act on. */
  message: string;
}

/** What a call resolves to on the wire (Electron IPC or the web host's WebSocket). */
export type CallOutcome<T> = { ok: true; value: T } | { ok: false; error: DesktopErrorShape };

/** The error a rejected call throws on the renderer side (and that handlers may throw in main). */
export class DesktopError extends Error implements DesktopErrorShape {
  override readonly name = 'DesktopError';
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Shared shapes

const id = z.string().min(1).max(200);
const isoTime = z.string();
const empty = z.strictObject({});

export const roleSchema = z.enum(['admin', 'auditor', 'engineer']);

/** Where secrets (the refresh token) are kept, and whether the user should be told anything. */
export const secretStoreStatusSchema = z.object({
  kind: z.enum(['keychain', 'encrypted-file', 'file', 'memory']),
  /** False for memory: signing in again is needed after a restart. */
  durable: z.boolean(),
  /** Shown in the UI when set, e.g. "The OS keychain is unavailable (…); tokens are kept in memory only." */
  notice: z.string().nullable(),
});

export const pinnedGatewaySchema = z.object({
  url: z.string(),
  /** SHA-256 of the gateway's TLS CA certificate, pinned on first use or from the enroll link. */
  caFingerprint: z.string(),
  /** The recording-signing key recordings are verified against, pinned with the CA. */
  recordingKeyId: z.string(),
  recordingKeyFingerprint: z.string(),
  /** The embedded local gateway `npm start` runs for evaluation. */
  isLocal: z.boolean(),
});

export const accountSchema = z.object({
  username: z.string(),
  role: roleSchema,
});

export const localGatewayStatusSchema = z.object({
  /**
   * not-used: a remote gateway is pinned; starting: the local gateway process is coming up;
   * needs-admin: it runs but has no users — the first-run walkthrough asks for an admin account;
   * ready; failed: `message` says why.
   */
  state: z.enum(['not-used', 'starting', 'needs-admin', 'ready', 'failed']),
  message: z.string().nullable(),
  /** Where its data lives (shown with the "for evaluation" label). */
  dataDir: z.string().nullable(),
  /** Names of the demo resources it offers, and any demo target that could not start, with why. */
  demoTargets: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(['ssh', 'postgres']),
      available: z.boolean(),
      note: z.string().nullable(),
    }),
  ),
});

export const appStateSchema = z.object({
  gateway: pinnedGatewaySchema.nullable(),
  account: accountSchema.nullable(),
  secretStore: secretStoreStatusSchema,
  localGateway: localGatewayStatusSchema,
});
export type AppState = z.infer<typeof appStateSchema>;

export const resourceSummarySchema = z.object({
  id,
  name: z.string(),
  description: z.string(),
  kind: z.enum(['ssh', 'postgres']),
  labels: z.record(z.string(), z.string()),
  /** granted: a usable grant now; requestable: visible, needs an access request; admin: admin view. */
  access: z.enum(['granted', 'requestable', 'admin']),
  /** When the grant that makes it usable ends; null for a standing grant without an end. */
  grantExpiresAt: isoTime.nullable(),
});
export type ResourceSummary = z.infer<typeof resourceSummarySchema>;

export const terminalSizeSchema = z.strictObject({
  cols: z.number().int().min(1).max(1000),
  rows: z.number().int().min(1).max(1000),
});

/** Why a terminal ended — the renderer turns each into a clear message. */
export const terminalEndReasonSchema = z.discriminatedUnion('kind', [
  /** The remote command or shell exited. */
  z.object({
    kind: z.literal('exited'),
    exitCode: z.number().int().nullable(),
    signal: z.string().nullable(),
  }),
  /** The user closed the tab (or the window went away). */
  z.object({ kind: z.literal('closed') }),
  /** The gateway ended it; `message` is the gateway's own words. */
  z.object({
    kind: z.literal('gateway'),
    cause: z.enum(['expired', 'terminated', 'revoked', 'disabled', 'recording_failed', 'other']),
    message: z.string(),
  }),
  /** The connection to the gateway dropped. Reconnecting opens a new session. */
  z.object({ kind: z.literal('connection-lost'), message: z.string() }),
]);
export type TerminalEndReason = z.infer<typeof terminalEndReasonSchema>;

export const recordingSummarySchema = z.object({
  sessionId: id,
  username: z.string(),
  resourceName: z.string(),
  protocol: z.enum(['ssh', 'postgres']),
  status: z.enum(['recording', 'complete', 'interrupted', 'failed']),
  startedAt: isoTime,
  endedAt: isoTime.nullable(),
  frames: z.number().int(),
  bytes: z.number().int(),
});

export const recordingVerdictSchema = z.object({
  sessionId: id,
  /** verified: chain and final signature hold; partial: verified up to a checkpoint (interrupted). */
  status: z.enum(['verified', 'partial', 'failed']),
  verifiedThroughSeq: z.number().int(),
  firstBadSeq: z.number().int().nullable(),
  message: z.string(),
  /** The key the desktop checked against (the pinned one), so the UI can show it. */
  recordingKeyFingerprint: z.string(),
});

// ---------------------------------------------------------------------------------------------
// Calls

/** Terminal input is typed or pasted text; a paste larger than this is sent in pieces. */
export const MAX_TERMINAL_WRITE_CHARS = 64 * 1024;

export const calls = {
  'app.getState': { request: empty, response: appStateSchema },
  /** Fetch a gateway's CA and recording-key fingerprints, for the user to compare before pinning. */
  'gateway.inspect': {
    request: z.strictObject({ url: z.string().min(1).max(2048) }),
    response: z.object({
      url: z.string(),
      caFingerprint: z.string(),
      recordingKeyId: z.string(),
      recordingKeyFingerprint: z.string(),
    }),
  },
  /** Pin the gateway inspected before; refused if its CA no longer has this fingerprint. */
  'gateway.pin': {
    request: z.strictObject({
      url: z.string().min(1).max(2048),
      caFingerprint: z.string().min(1).max(200),
    }),
    response: appStateSchema,
  },
  /** Sign out and unpin, to point the app at another gateway. */
  'gateway.forget': { request: empty, response: appStateSchema },
  /** Redeem a `witness://enroll?…` link: pin from the link, set the password, sign in. */
  'account.enroll': {
    request: z.strictObject({
      link: z.string().min(1).max(4096),
      password: z.string().min(1).max(1024),
    }),
    response: appStateSchema,
  },
  'account.login': {
    request: z.strictObject({
      username: z.string().min(1).max(200),
      password: z.string().min(1).max(1024),
      totpCode: z
        .string()
        .regex(/^\d{6}$/)
        .optional(),
    }),
    response: appStateSchema,
  },
  'account.logout': { request: empty, response: appStateSchema },
  /** First run of the embedded local gateway: create the admin account and sign in as it. */
  'localGateway.createAdmin': {
    request: z.strictObject({
      username: z.string().min(1).max(63),
      password: z.string().min(1).max(1024),
    }),
    response: appStateSchema,
  },
  'resources.list': {
    request: empty,
    response: z.object({ resources: z.array(resourceSummarySchema) }),
  },
  /** Start a session on an SSH resource and open a shell with a pty of this size. */
  'terminals.open': {
    request: z.strictObject({ resourceId: id, size: terminalSizeSchema }),
    response: z.object({
      terminalId: id,
      sessionId: id,
      resourceName: z.string(),
      /** The gateway ends the session at this time; the UI warns before. */
      expiresAt: isoTime,
    }),
  },
  'terminals.write': {
    request: z.strictObject({ terminalId: id, data: z.string().max(MAX_TERMINAL_WRITE_CHARS) }),
    response: empty,
  },
  'terminals.resize': {
    request: z.strictObject({ terminalId: id, size: terminalSizeSchema }),
    response: empty,
  },
  /** The renderer has painted `bytes` more bytes of `terminal.data`; main resumes a paused stream. */
  'terminals.ack': {
    request: z.strictObject({
      terminalId: id,
      bytes: z
        .number()
        .int()
        .min(0)
        .max(2 ** 40),
    }),
    response: empty,
  },
  'terminals.close': { request: z.strictObject({ terminalId: id }), response: empty },
  /** The signed-in user's recordings (all, for auditors and admins), newest first. */
  'recordings.list': {
    request: z.strictObject({ limit: z.number().int().min(1).max(500).optional() }),
    response: z.object({ recordings: z.array(recordingSummarySchema) }),
  },
  /** Download a recording and verify chain and signatures locally against the pinned key. */
  'recordings.verify': {
    request: z.strictObject({ sessionId: id }),
    response: recordingVerdictSchema,
  },
} as const satisfies Record<CallName, { request: z.ZodType; response: z.ZodType }>;

// ---------------------------------------------------------------------------------------------
// Events (main → renderer)

export const events = {
  /** Broadcast whenever AppState changes (signed out by expiry, local gateway ready, …). */
  'app.stateChanged': appStateSchema,
  /** A `witness://` link opened the app (Electron) — the renderer shows the enroll screen. */
  'app.deepLink': z.object({ kind: z.literal('enroll'), link: z.string() }),
  /**
   * Terminal output, batched. `bytes` is the raw byte count this batch stands for; the renderer
   * acks it (terminals.ack) once xterm has written it, and main pauses the remote stream while
   * too much is unacknowledged — so `cat` of a huge file cannot flood the UI.
   */
  'terminal.data': z.object({ terminalId: id, data: z.string(), bytes: z.number().int() }),
  'terminal.ended': z.object({ terminalId: id, reason: terminalEndReasonSchema }),
} as const satisfies Record<EventName, z.ZodType>;

// Compile-time proof that channels.ts and the schema maps name the same calls and events.
type SameKeys<A, B> = [Exclude<A, B>, Exclude<B, A>] extends [never, never] ? true : never;
const callNamesMatch: SameKeys<keyof typeof calls, (typeof CALL_NAMES)[number]> = true;
const eventNamesMatch: SameKeys<keyof typeof events, (typeof EVENT_NAMES)[number]> = true;
void callNamesMatch;
void eventNamesMatch;

// ---------------------------------------------------------------------------------------------
// Derived types

/** What the renderer passes (input side: optional fields may be left out). */
export type CallRequest<N extends CallName> = z.input<(typeof calls)[N]['request']>;
/** What a handler receives, after parsing. */
export type ParsedCallRequest<N extends CallName> = z.output<(typeof calls)[N]['request']>;
export type CallResponse<N extends CallName> = z.output<(typeof calls)[N]['response']>;
export type EventPayload<E extends EventName> = z.output<(typeof events)[E]>;

/** What the renderer sees on `window.witness` (Electron preload) or gets from the web bridge. */
export interface DesktopApi {
  /** Rejects with a DesktopError-shaped object (`{code, message}`). */
  call<N extends CallName>(name: N, request: CallRequest<N>): Promise<CallResponse<N>>;
  /** Returns the unsubscribe function. */
  on<E extends EventName>(name: E, listener: (payload: EventPayload<E>) => void): () => void;
}

/** Sends one event to one renderer (a window, or a web host connection). */
export type EventSender = <E extends EventName>(name: E, payload: EventPayload<E>) => void;

/** Who is calling: terminals belong to the client that opened them and close with it. */
export interface CallerContext {
  /** Stable for one window / WebSocket connection. */
  clientId: string;
  emit: EventSender;
}

/** One handler per call — a missing one fails `tsc`. */
export type CallHandlers = {
  [N in CallName]: (
    request: ParsedCallRequest<N>,
    caller: CallerContext,
  ) => Promise<CallResponse<N>>;
};
