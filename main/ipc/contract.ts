/**
 * The DesktopApi contract: every call the renderer may make and every event main may send,
 * declared once with zod schemas (CONVENTIONS.md, "One typed contract for IPC").
 *
 * - main parses every request with these schemas before a handler runs, and every response
 *   before it leaves (z.object strips unknown keys, so a field added to a service result by
 *   mistake — a token, say — never reaches the renderer);
 * - `CallHandlers` is derived from `calls`, so a call without a handler fails `tsc`;
 * - the renderer imports this file with `import type` only (it never loads zod or main code);
 * - errors cross as plain `{code, message}` and are rebuilt as `DesktopError` on the far side;
 * - what the gateway defines (roles, protocols, statement classes, a policy trial's answer) is
 *   taken from shared/api/apiSchemas.ts, not restated, so the two cannot drift apart.
 *
 * Narrow verbs only: nothing here reads files, runs programs or fetches URLs on the renderer's
 * behalf. Nothing here carries a token, a ticket or a target secret — the renderer has no way to
 * ask for one (test/security checks this).
 */
import { z } from 'zod';
import {
  connectionTestSteps,
  roleSchema as gatewayRoleSchema,
  maskingModes,
  maskingPresets,
  policyTryResultSchema,
  protocolSchema,
  resourceAccessSchema,
  statementClasses,
} from '../../shared/api/apiSchemas.ts';
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
  /**
   * The session was recorded, but its recording row or its stored bytes are gone from the
   * gateway (issue #12): shown as "missing", never as a plain "not found".
   */
  'recording_missing',
  /** The person cancelled (a file dialog, an export). */
  'cancelled',
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

/** The gateway's roles, its protocols, its policy vocabulary: spelled once, in shared/api. */
export const roleSchema = gatewayRoleSchema;

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
      kind: protocolSchema,
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
  /**
   * Who last signed in to the pinned gateway (the desktop profile keeps it; never a password):
   * the sign-in form starts with it (issue #15). Optional so older fakes of AppState still fit.
   */
  lastUsername: z.string().nullable().optional(),
});
export type AppState = z.infer<typeof appStateSchema>;

export const resourceSummarySchema = z.object({
  id,
  name: z.string(),
  description: z.string(),
  kind: protocolSchema,
  labels: z.record(z.string(), z.string()),
  /** granted: a usable grant now; requestable: visible, needs an access request; admin: admin view. */
  access: resourceAccessSchema,
  /** When the grant that makes it usable ends; null for a standing grant without an end. */
  grantExpiresAt: isoTime.nullable(),
});
export type ResourceSummary = z.infer<typeof resourceSummarySchema>;

export const terminalSizeSchema = z.strictObject({
  cols: z.number().int().min(1).max(1000),
  rows: z.number().int().min(1).max(1000),
});

// --- query console (issue #15, branch console) -------------------------------------------------
/** The most SQL one run may send (the editor's whole text). */
export const MAX_CONSOLE_SQL_CHARS = 1_000_000;

export const consoleColumnSchema = z.object({
  name: z.string(),
  /** PostgreSQL type OID (RowDescription); the grid formats json, bytea, timestamps by it. */
  typeOid: z.number().int(),
  /** The gateway masked this column's values (its `witness.masked_columns` report). */
  masked: z.boolean(),
});
export type ConsoleColumn = z.infer<typeof consoleColumnSchema>;

export const consoleErrorSchema = z.object({
  message: z.string(),
  severity: z.string().nullable(),
  code: z.string().nullable(),
  /** 1-based character position in the run's SQL (already offset for a selection run). */
  position: z.number().int().nullable(),
  detail: z.string().nullable(),
  hint: z.string().nullable(),
  /** The gateway refused the statement: the rule that did (guardrail, masking). */
  blockedBy: z.object({ rule: z.string(), reason: z.string() }).nullable(),
});
export type ConsoleError = z.infer<typeof consoleErrorSchema>;

export const transactionStateSchema = z.enum(['idle', 'in-transaction', 'failed']);
export type TransactionState = z.infer<typeof transactionStateSchema>;

/** What happens in a console, in order; rows of one result arrive in batches. */
export const consoleEventSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('result-start'),
    runId: z.string(),
    resultIndex: z.number().int(),
    columns: z.array(consoleColumnSchema),
  }),
  z.object({
    kind: z.literal('rows'),
    runId: z.string(),
    resultIndex: z.number().int(),
    /** Text values as the server sent them; null is SQL NULL. */
    rows: z.array(z.array(z.string().nullable())),
  }),
  z.object({
    kind: z.literal('result-end'),
    runId: z.string(),
    resultIndex: z.number().int(),
    /** CommandComplete's tag (`SELECT 3`, `UPDATE 2`), null for an empty statement. */
    tag: z.string().nullable(),
    rowCount: z.number().int(),
  }),
  z.object({
    kind: z.literal('notice'),
    runId: z.string().nullable(),
    severity: z.string(),
    message: z.string(),
    code: z.string().nullable(),
  }),
  z.object({ kind: z.literal('error'), runId: z.string(), error: consoleErrorSchema }),
  z.object({
    kind: z.literal('run-end'),
    runId: z.string(),
    elapsedMs: z.number(),
    transaction: transactionStateSchema,
    cancelled: z.boolean(),
  }),
  /** The connection is gone (the gateway ended the session, the grant ended, closed). */
  z.object({ kind: z.literal('ended'), message: z.string() }),
]);
export type ConsoleEvent = z.infer<typeof consoleEventSchema>;

export const consoleSchemaCatalogSchema = z.object({
  schemas: z.array(
    z.object({
      name: z.string(),
      tables: z.array(z.object({ name: z.string(), columns: z.array(z.string()) })),
    }),
  ),
});
export type ConsoleSchemaCatalog = z.infer<typeof consoleSchemaCatalogSchema>;
// --- end of query console ----------------------------------------------------------------------

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
  /** For filtering by this row's user / resource (recordings.list filters.userId/resourceId). */
  userId: id.optional(),
  resourceId: id.optional(),
  username: z.string(),
  resourceName: z.string(),
  protocol: protocolSchema,
  status: z.enum(['recording', 'complete', 'interrupted', 'failed']),
  startedAt: isoTime,
  endedAt: isoTime.nullable(),
  frames: z.number().int(),
  bytes: z.number().int(),
  /**
   * The gateway's last verification of it (for a badge before opening); null when never.
   * `checkedAt` says how fresh it is (issue #12; the gateway re-checks on a schedule and after
   * each read); `failed` also when the row differs from the signed recording.
   */
  lastVerification: z
    .object({
      status: z.enum(['verified', 'partial', 'failed']),
      verifiedThroughSeq: z.number().int(),
      at: isoTime,
      checkedAt: isoTime.optional(),
      firstBadSeq: z.number().int().nullable().optional(),
      message: z.string().optional(),
    })
    .nullable()
    .optional(),
  /**
   * The gateway's values (user, resource, protocol, start, end, status) that the signed
   * recording contradicts; empty when none; absent when the gateway has nothing signed to
   * compare with (issue #12). The view marks them.
   */
  differsFromSigned: z
    .array(
      z.object({
        field: z.enum(['user', 'resource', 'protocol', 'startedAt', 'endedAt', 'status']),
        shown: z.string(),
        signed: z.string(),
      }),
    )
    .optional(),
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
// Replay (issue #6): search, playback, exports, offline bundles, live watch

/** List/search filters; each narrows the result, all optional. */
export const recordingFiltersSchema = z.strictObject({
  /** Username (exact) — auditors and admins; engineers only ever see their own. */
  user: z.string().min(1).max(200).optional(),
  /** Resource name (exact); main maps it to the resource's id. */
  resource: z.string().min(1).max(200).optional(),
  /** Or by id, as the gateway filters (resources.list gives resource ids). */
  userId: id.optional(),
  resourceId: id.optional(),
  protocol: protocolSchema.optional(),
  /** The recorder's status, or the gateway's verification-derived 'verified'. */
  status: z.enum(['recording', 'complete', 'interrupted', 'failed', 'verified']).optional(),
  /** ISO times bounding startedAt. */
  from: isoTime.optional(),
  to: isoTime.optional(),
});
export type RecordingFilters = z.infer<typeof recordingFiltersSchema>;

const pageCursor = z.string().min(1).max(2000);

export const recordingSearchHitSchema = z.object({
  sessionId: id,
  seq: z.number().int(),
  /** ms from the session's start: `playback.seek` to it. */
  t: z.number(),
  kind: z.enum(['input', 'output', 'command', 'query']),
  snippet: z.string(),
  /** [start, end) ranges in `snippet` (UTF-16 offsets) to highlight. */
  highlights: z.array(z.tuple([z.number().int(), z.number().int()])),
  /** Filled in from the list when main knows it; null otherwise. */
  username: z.string().nullable().optional(),
  resourceName: z.string().nullable().optional(),
  startedAt: isoTime.nullable().optional(),
  protocol: protocolSchema.optional(),
  /** The same moment as an ISO time. */
  time: isoTime.optional(),
});

/**
 * The verdict on a recording opened for playback. verified: chain and final signature hold;
 * partial: interrupted, verified through `verifiedThroughSeq`; failed: `firstBadSeq` is the first
 * frame that cannot be trusted (0: the whole file is rejected) — the renderer shows the failure
 * and a warning BEFORE anything plays, and main serves no frame of a failed recording unless the
 * request says `acceptFailedVerification: true` (set after the user chose to look anyway).
 */
export const playbackVerdictSchema = z.object({
  /** verifying (issue #16): still downloading; frames through `verifiedThroughSeq` verified. */
  status: z.enum(['verified', 'partial', 'failed', 'verifying']),
  verifiedThroughSeq: z.number().int(),
  /** While verifying: ms from the start verified so far, and the recording's length (ms). */
  verifiedThroughMs: z.number().optional(),
  totalMs: z.number().nullable().optional(),
  firstBadSeq: z.number().int().nullable(),
  message: z.string(),
  /** SHA256:… of the key the signatures were checked with (pinned or typed by the user). */
  recordingKeyFingerprint: z.string(),
  /** How the key was chosen: the gateway's pinned key, or a fingerprint the user typed. */
  keySource: z.enum(['pinned', 'fingerprint']),
});

export const playbackSizeSchema = z.object({ cols: z.number().int(), rows: z.number().int() });

/** What `recordings.open` / `recordings.openBundle` / `live.watch` return. */
export const playbackInfoSchema = z.object({
  playbackId: id,
  sessionId: id,
  /** Where the bytes came from: the gateway (cached verified download), an offline bundle, live. */
  source: z.enum(['gateway', 'bundle', 'live']),
  kind: z.enum(['terminal', 'database']),
  /** The terminal channel played (null: a database session, or none), and all of them. */
  channel: z.number().int().nullable(),
  channels: z.array(z.number().int()),
  verdict: playbackVerdictSchema,
  /**
   * Who, what, when: from the session-start frame among the frames verified here (issue #12);
   * for recordings without one, the gateway's list and the (unsigned) header.
   */
  username: z.string().nullable(),
  resourceName: z.string().nullable(),
  startedAt: isoTime.nullable(),
  /** ms from the session's start to its last frame (event times `t` count from the start too). */
  durationMs: z.number(),
  /** Terminal size at the start (80×24 when the recording never said). */
  size: playbackSizeSchema,
  resizes: z.array(z.object({ t: z.number(), cols: z.number().int(), rows: z.number().int() })),
  /** Output bytes per bucket of `activityBucketMs`, for the timeline graph. */
  activity: z.array(z.number()),
  activityBucketMs: z.number(),
  /** Reconstructed command lines (input with line editing applied), to jump to. */
  commands: z.array(z.object({ t: z.number(), text: z.string() })),
  /** Times (ms) of the keyframes seeks start from. */
  keyframeTimes: z.array(z.number()),
  /** Database sessions: how many timeline entries `playback.queries` has. */
  queryCount: z.number().int(),
  /** Frames that can be played (for failed: those before `firstBadSeq`). */
  frames: z.number().int(),
});
export type PlaybackInfo = z.infer<typeof playbackInfoSchema>;

/** One terminal event in playback order; `data` is decoded UTF-8 (split sequences carried over). */
export const playbackEventSchema = z.object({
  seq: z.number().int(),
  /** ms from the session's start. */
  t: z.number(),
  kind: z.enum(['output', 'input', 'resize', 'exit']),
  /** output/input text; '' for resize and exit. */
  data: z.string(),
  /** For resize: the new size. */
  size: playbackSizeSchema.optional(),
});
export type PlaybackEvent = z.infer<typeof playbackEventSchema>;

/** Most characters of event data in one `playback.frames` answer or `live.frames` event. */
export const MAX_PLAYBACK_CHUNK_CHARS = 128 * 1024;

export const queryTimelineEntrySchema = z.object({
  /** Index in the timeline (0-based), and the seq of the frame that started it. */
  index: z.number().int(),
  seq: z.number().int(),
  t: z.number(),
  sql: z.string().nullable(),
  params: z.array(z.unknown()).nullable(),
  durationMs: z.number(),
  /** Rows the server sent (the table below may hold fewer). */
  rowCount: z.number().int(),
  status: z.string(),
  error: z.object({ code: z.string(), message: z.string() }).nullable(),
  blocked: z.object({ rule: z.string(), reason: z.string() }).nullable(),
  /** Columns the gateway masked (their values are masked in `rows` too). */
  maskedColumns: z.array(z.string()),
  columns: z.array(z.object({ name: z.string(), typeOid: z.number().int() })),
  /** The first result rows (text; null for SQL NULL; binary as base64), capped per entry. */
  rows: z.array(z.array(z.string().nullable())),
  rowsTruncated: z.boolean(),
});

/** Most bytes one `bundles.uploadChunk` may carry (before base64). */
export const MAX_BUNDLE_CHUNK_BYTES = 512 * 1024;

// ---------------------------------------------------------------------------------------------
// Settings: resources and policies (issue #14, admins only — the gateway refuses others)

const labels = z.record(z.string(), z.string());
const port = z.number().int().min(1).max(65535);
const postgresTlsMode = z.enum(['disable', 'prefer', 'require', 'verify-full']);

/**
 * A resource as the admin pages show it: the target's address and what is stored, never the
 * stored credential — only whether there is one (`credential`) and the pinned host key's
 * fingerprint.
 */
export const adminResourceSchema = z.object({
  id,
  name: z.string(),
  description: z.string(),
  labels,
  target: z.discriminatedUnion('kind', [
    z.object({
      kind: z.literal('ssh'),
      host: z.string(),
      port,
      username: z.string(),
      /** `SHA256:…` of the pinned host key; null: not pinned, sessions are refused. */
      hostKeyFingerprint: z.string().nullable(),
    }),
    z.object({
      kind: z.literal('postgres'),
      host: z.string(),
      port,
      database: z.string(),
      username: z.string(),
      tlsMode: postgresTlsMode,
      hasCa: z.boolean(),
    }),
  ]),
  /** Which credentials are stored (never what they are). */
  stored: z.object({ hasPrivateKey: z.boolean(), hasPassword: z.boolean() }),
  updatedAt: isoTime,
});
export type AdminResource = z.infer<typeof adminResourceSchema>;

/** A form field the gateway refused, by the form's field name (`host`, `name`, `password`, …). */
export const fieldIssueSchema = z.object({ field: z.string(), message: z.string() });
export type FieldIssue = z.infer<typeof fieldIssueSchema>;

/**
 * What a save sends. Secrets only travel this way (renderer → main → gateway, write-only):
 * `credential` says what to do with the stored one; no response carries one back.
 */
export const resourceDraftSchema = z.strictObject({
  /** The resource to edit; absent to add one. */
  id: id.optional(),
  name: z.string().max(63),
  description: z.string().max(1024),
  labels,
  target: z.discriminatedUnion('kind', [
    z.strictObject({
      kind: z.literal('ssh'),
      host: z.string().max(253),
      port,
      username: z.string().max(64),
    }),
    z.strictObject({
      kind: z.literal('postgres'),
      host: z.string().max(253),
      port,
      database: z.string().max(63),
      username: z.string().max(63),
      tlsMode: postgresTlsMode,
      /** PEM; null keeps none (or, on edit, the one stored when `keepCa`). */
      caPem: z.string().max(65536).nullable(),
      keepCa: z.boolean().optional(),
    }),
  ]),
  credential: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('keep') }),
    /** SSH: the gateway makes an ed25519 key; the answer carries its public half. */
    z.strictObject({ kind: z.literal('generate') }),
    z.strictObject({
      kind: z.literal('privateKey'),
      privateKey: z.string().min(1).max(65536),
      passphrase: z.string().max(1024).optional(),
    }),
    z.strictObject({ kind: z.literal('password'), password: z.string().min(1).max(1024) }),
  ]),
  /** SSH: the scanned fingerprint the admin confirmed; the gateway pins the key only if it matches. */
  hostKeyFingerprint: z.string().max(100).optional(),
});
export type ResourceDraft = z.infer<typeof resourceDraftSchema>;

export const connectionTestSchema = z.object({
  ok: z.boolean(),
  failedStep: z.enum(connectionTestSteps).nullable(),
  message: z.string(),
  steps: z.array(
    z.object({
      step: z.enum(connectionTestSteps),
      ok: z.boolean(),
      ms: z.number(),
      detail: z.string().nullable(),
    }),
  ),
  totalMs: z.number(),
  /** On an SSH host key failure: the fingerprints presented and pinned. */
  hostKeyFingerprints: z
    .object({ presented: z.string().nullable(), pinned: z.string().nullable() })
    .nullable(),
});
export type ConnectionTest = z.infer<typeof connectionTestSchema>;

const ruleName = z.string().max(64);
export const maskingRuleSchema = z.strictObject({
  name: ruleName,
  match: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('column'), pattern: z.string().max(512) }),
    z.strictObject({ kind: z.literal('type'), types: z.array(z.string().max(63)).max(50) }),
    z.strictObject({ kind: z.literal('preset'), preset: z.enum(maskingPresets) }),
    z.strictObject({ kind: z.literal('value'), pattern: z.string().max(512) }),
  ]),
  style: z.enum(['full', 'partial']),
});
export type MaskingRuleDraft = z.infer<typeof maskingRuleSchema>;
export const guardrailRuleSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('statement'),
    name: ruleName,
    classes: z.array(z.enum(statementClasses)).max(20),
  }),
  z.strictObject({ kind: z.literal('regex'), name: ruleName, pattern: z.string().max(512) }),
]);
export type GuardrailRuleDraft = z.infer<typeof guardrailRuleSchema>;
export const policySchema = z.strictObject({
  masking: z.array(maskingRuleSchema).max(100),
  guardrails: z.array(guardrailRuleSchema).max(100),
  maskingMode: z.enum(maskingModes),
});
export type PolicyDraft = z.infer<typeof policySchema>;

/** Where a policy lives: on a PostgreSQL resource, or on a grant (added to the resource's). */
export const policyHolderSchema = z.object({
  kind: z.enum(['resource', 'grant']),
  id,
  /** The resource's name, or the grant's subject and target in words. */
  name: z.string(),
  policy: policySchema,
});
export type PolicyHolder = z.infer<typeof policyHolderSchema>;

/** What a policy would do with a sample query: the gateway's answer, unchanged. */
export const policyTrialSchema = policyTryResultSchema;
export type PolicyTrial = z.infer<typeof policyTrialSchema>;

/** A save's answer: saved, or refused with the gateway's words at the fields they concern. */
const saveOutcome = <T extends z.ZodType>(saved: T) =>
  z.discriminatedUnion('saved', [
    z.object({ saved: z.literal(true), value: saved }),
    z.object({ saved: z.literal(false), message: z.string(), issues: z.array(fieldIssueSchema) }),
  ]);

export const adminCalls = {
  'admin.resources.list': {
    request: empty,
    response: z.object({ resources: z.array(adminResourceSchema) }),
  },
  'admin.resources.save': {
    request: resourceDraftSchema,
    response: saveOutcome(
      z.object({
        resource: adminResourceSchema,
        /** The authorized_keys line to install, after a key was generated or uploaded. */
        publicKeyToInstall: z.string().nullable(),
      }),
    ),
  },
  /** Deletes the resource; its grants go with it and its live sessions end. */
  'admin.resources.delete': { request: z.strictObject({ id }), response: empty },
  'admin.resources.test': { request: z.strictObject({ id }), response: connectionTestSchema },
  'admin.resources.scanHostKey': {
    request: z.strictObject({ host: z.string().min(1).max(253), port }),
    response: z.object({ keyType: z.string(), fingerprint: z.string() }),
  },
  /** The policies admins edit: every PostgreSQL resource's and every grant's. */
  'admin.policies.list': {
    request: empty,
    response: z.object({ holders: z.array(policyHolderSchema) }),
  },
  'admin.policies.save': {
    request: z.strictObject({ kind: z.enum(['resource', 'grant']), id, policy: policySchema }),
    response: saveOutcome(policyHolderSchema),
  },
  'admin.policies.try': {
    request: z.strictObject({
      policy: policySchema,
      sampleQuery: z.string().max(16 * 1024),
      sampleResult: z
        .strictObject({
          columns: z
            .array(z.strictObject({ name: z.string().max(63), type: z.string().max(63) }))
            .max(100),
          rows: z.array(z.array(z.string().max(8192).nullable()).max(100)).max(100),
        })
        .optional(),
    }),
    response: saveOutcome(policyTrialSchema),
  },
} as const;

// ---------------------------------------------------------------------------------------------
// Calls

/** Terminal input is typed or pasted text; a paste larger than this is sent in pieces. */
export const MAX_TERMINAL_WRITE_CHARS = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Admins' settings panel and just-in-time access (issue #14, branch panel)
//
// Narrow verbs over the gateway's users, groups, grants, access requests and live sessions.
// The gateway decides every rule (who may list users, approve, terminate); these only ask.
// The one secret that does cross is the enrollment link `users.create` (and `users.reset`, for
// a new password) returns: it is made to be shown once to the admin who invited or reset the
// user, and test/security checks nothing else does.

const usernameInput = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'Usernames are lower-case letters, digits, . _ -');
const groupNameInput = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'Group names are lower-case letters, digits, . _ -');

export const panelUserSchema = z.object({
  id,
  username: z.string(),
  role: roleSchema,
  groups: z.array(z.string()),
  disabled: z.boolean(),
  totpEnabled: z.boolean(),
  createdAt: isoTime,
});
export type PanelUser = z.infer<typeof panelUserSchema>;

/** What a change that took access away revoked (disable, a role change), for the admin to see. */
export const accessRevokedSummarySchema = z.object({
  user: panelUserSchema,
  signInsRevoked: z.boolean(),
  grantsEnded: z.array(id),
  sessionsEnded: z.array(id),
  watchesEnded: z.number().int(),
});
export type AccessRevokedSummary = z.infer<typeof accessRevokedSummarySchema>;

export const panelGroupSchema = z.object({
  name: z.string(),
  members: z.array(z.object({ id, username: z.string() })),
});

export const panelGrantSubjectSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('user'), userId: id }),
  z.strictObject({ kind: z.literal('group'), group: groupNameInput }),
]);
export const panelGrantTargetSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('resource'), resourceId: id }),
  z.strictObject({
    kind: z.literal('labels'),
    selector: z.record(z.string().min(1).max(63), z.string().max(255)),
  }),
]);
const approversInput = z.strictObject({
  users: z.array(id).max(100),
  groups: z.array(groupNameInput).max(100),
});
/** The grant fields the panel edits; masking and guardrails are the Policies page's. */
const grantFieldsInput = {
  mode: z.enum(['standing', 'approval']),
  validFrom: isoTime.nullable(),
  validUntil: isoTime.nullable(),
  maxSessionSeconds: z
    .number()
    .int()
    .min(60)
    .max(24 * 3600),
  description: z.string().max(1024),
  approvers: approversInput,
  approvalsRequired: z.number().int().min(1).max(10),
};

export const panelGrantSchema = z.object({
  id,
  subject: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('user'), userId: id }),
    z.object({ kind: z.literal('group'), group: z.string() }),
  ]),
  target: z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('resource'), resourceId: id }),
    z.object({ kind: z.literal('labels'), selector: z.record(z.string(), z.string()) }),
  ]),
  mode: z.enum(['standing', 'approval']),
  validFrom: isoTime.nullable(),
  validUntil: isoTime.nullable(),
  maxSessionSeconds: z.number().int(),
  description: z.string(),
  approvers: z.object({ users: z.array(id), groups: z.array(z.string()) }),
  approvalsRequired: z.number().int(),
  /** Set on the time-boxed grants an approved access request issued. */
  requestId: id.nullable(),
  createdAt: isoTime,
});
export type PanelGrant = z.infer<typeof panelGrantSchema>;

export const accessRequestSummarySchema = z.object({
  id,
  userId: id,
  username: z.string(),
  resourceId: id,
  resourceName: z.string(),
  reason: z.string(),
  durationSeconds: z.number().int(),
  approvalsRequired: z.number().int(),
  state: z.enum(['pending', 'approved', 'denied']),
  createdAt: isoTime,
  decidedAt: isoTime.nullable(),
  accessUntil: isoTime.nullable(),
  decisions: z.array(
    z.object({
      approverName: z.string(),
      decision: z.enum(['approve', 'deny']),
      comment: z.string(),
      createdAt: isoTime,
    }),
  ),
  sessionIds: z.array(id),
  /** The caller may approve or deny it now. */
  canDecide: z.boolean(),
});
export type AccessRequestSummary = z.infer<typeof accessRequestSummarySchema>;

export const liveSessionSchema = z.object({
  id,
  userId: id,
  username: z.string(),
  resourceId: id,
  resourceName: z.string(),
  state: z.enum(['pending', 'live', 'ended']),
  createdAt: isoTime,
  startedAt: isoTime.nullable(),
  expiresAt: isoTime,
  requestId: id.nullable(),
});
export type LiveSession = z.infer<typeof liveSessionSchema>;

const decideInput = z.strictObject({ requestId: id, comment: z.string().max(1024) });

export const adminPanelCalls = {
  /** Every user (admins). */
  'users.list': { request: empty, response: z.object({ users: z.array(panelUserSchema) }) },
  /**
   * Invite a user: the answer carries the one-time `witness://enroll?…` link (gateway, token,
   * pinned CA fingerprint) to hand over — shown once, never stored by the desktop.
   */
  'users.create': {
    request: z.strictObject({
      username: usernameInput,
      role: roleSchema,
      groups: z.array(groupNameInput).max(64),
    }),
    response: z.object({
      user: panelUserSchema,
      enrollLink: z.string().nullable(),
      enrollExpiresAt: isoTime.nullable(),
    }),
  },
  /** Offboarding: sign-ins revoked, grants ended, live sessions and watches ended. */
  'users.disable': {
    request: z.strictObject({ userId: id }),
    response: accessRevokedSummarySchema,
  },
  'users.enable': {
    request: z.strictObject({ userId: id }),
    response: z.object({ user: panelUserSchema }),
  },
  'users.setRole': {
    request: z.strictObject({ userId: id, role: roleSchema }),
    response: accessRevokedSummarySchema,
  },
  /**
   * Reset the password (the answer carries a new one-time enrollment link, shown once like the
   * invitation's) and/or TOTP; the gateway revokes the user's sign-ins, live sessions go on.
   */
  'users.reset': {
    request: z
      .strictObject({ userId: id, password: z.boolean(), totp: z.boolean() })
      .refine((r) => r.password || r.totp, 'Choose the password, TOTP or both.'),
    response: z.object({
      user: panelUserSchema,
      enrollLink: z.string().nullable(),
      enrollExpiresAt: isoTime.nullable(),
    }),
  },
  'groups.list': { request: empty, response: z.object({ groups: z.array(panelGroupSchema) }) },
  'groups.addMember': {
    request: z.strictObject({ group: groupNameInput, userId: id }),
    response: z.object({ group: panelGroupSchema }),
  },
  'groups.removeMember': {
    request: z.strictObject({ group: groupNameInput, userId: id }),
    response: empty,
  },
  /** Grants (admins see all); `expiringWithin` (e.g. `7d`) lists those ending by then. */
  'grants.list': {
    request: z.strictObject({
      expiringWithin: z
        .string()
        .regex(/^\d{1,7}[smhd]?$/)
        .optional(),
    }),
    response: z.object({ grants: z.array(panelGrantSchema) }),
  },
  'grants.create': {
    request: z.strictObject({
      subject: panelGrantSubjectSchema,
      target: panelGrantTargetSchema,
      ...grantFieldsInput,
    }),
    response: z.object({ grant: panelGrantSchema }),
  },
  'grants.update': {
    request: z.strictObject({ grantId: id, ...grantFieldsInput }).partial({
      mode: true,
      validFrom: true,
      validUntil: true,
      maxSessionSeconds: true,
      description: true,
      approvers: true,
      approvalsRequired: true,
    }),
    response: z.object({ grant: panelGrantSchema }),
  },
  'grants.delete': { request: z.strictObject({ grantId: id }), response: empty },
  /** Ask for time-boxed access under an approval-required grant. */
  'requests.create': {
    request: z.strictObject({
      resourceId: id,
      reason: z.string().trim().min(1, 'Say why you need access').max(1024),
      durationSeconds: z
        .number()
        .int()
        .min(60)
        .max(24 * 3600),
    }),
    response: z.object({ request: accessRequestSummarySchema }),
  },
  /** mine: what I asked for; queue: pending ones I may decide; all: every request (admins). */
  'requests.list': {
    request: z.strictObject({ scope: z.enum(['mine', 'queue', 'all']) }),
    response: z.object({ requests: z.array(accessRequestSummarySchema) }),
  },
  'requests.approve': {
    request: decideInput,
    response: z.object({ request: accessRequestSummarySchema }),
  },
  'requests.deny': {
    request: decideInput,
    response: z.object({ request: accessRequestSummarySchema }),
  },
  /** Sessions open now (admins and auditors see everyone's). */
  'sessions.listLive': {
    request: empty,
    response: z.object({ sessions: z.array(liveSessionSchema) }),
  },
  /** End a session; `reason` is shown to the person whose session ends. */
  'sessions.terminate': {
    request: z.strictObject({ sessionId: id, reason: z.string().trim().min(1).max(200) }),
    response: z.object({ session: liveSessionSchema.extend({ endReason: z.string().nullable() }) }),
  },
} as const;

export type AdminPanelCallName = keyof typeof adminPanelCalls;

export const adminPanelEvents = {
  /**
   * A request of mine, or one I may decide, changed (main follows the gateway's
   * `GET /v1/access-requests/events` while someone is signed in).
   */
  'requests.changed': z.object({
    kind: z.enum(['created', 'decided', 'approved', 'denied']),
    request: accessRequestSummarySchema,
  }),
} as const;
/** Which audit entries to list; the gateway filters (issue #14). */
export const auditFiltersSchema = z.strictObject({
  /** Words anywhere in the entry. */
  q: z.string().max(200).optional(),
  /** A username or user id. */
  actor: z.string().max(128).optional(),
  /** An action or its prefix: admin, session, request, grant. */
  action: z.string().max(64).optional(),
  /** An ISO time, or how long ago (2h, 7d). */
  since: z.string().max(64).optional(),
  limit: z.number().int().min(1).max(500).optional(),
  /** The previous page's `nextCursor`. */
  cursor: z.string().max(32).optional(),
});
export type AuditFilters = z.infer<typeof auditFiltersSchema>;

export const auditEntrySchema = z.object({
  seq: z.number().int(),
  time: isoTime,
  /** Null for the gateway itself. */
  actorName: z.string().nullable(),
  action: z.string(),
  target: z.string(),
  outcome: z.string(),
  /** The entry's details as one line of JSON, for the table's detail cell. */
  details: z.string(),
});
export type AuditEntryRow = z.infer<typeof auditEntrySchema>;

/** What main found when it verified an export of the audit log against the pinned key. */
export const auditVerdictSchema = z.object({
  ok: z.boolean(),
  /** One sentence: "verified N entries up to seq S (last signed checkpoint at seq C)", or why not. */
  message: z.string(),
  entries: z.number().int(),
  lastCheckpointSeq: z.number().int(),
  firstBadSeq: z.number().int().nullable(),
  recordingKeyFingerprint: z.string(),
});
export type AuditVerdict = z.infer<typeof auditVerdictSchema>;

// ---------------------------------------------------------------------------------------------
// Tunnels and database certificates in the desktop (issue #15, branch tunnels)
//
// A tunnel is a loopback port that opens one recorded gateway session per client connection
// (gateway-client/tunnel/); a database certificate lets native tools connect straight to the
// gateway. The renderer gets ports, session ids, file paths and ready-to-copy lines — never the
// key (it is generated in main and written to a 0600 file) nor a ticket.

/** Ready-to-copy ways to connect: libpq keyword/value, `psql "…"`, a URI and pgjdbc's URL. */
export const connectionLinesSchema = z.object({
  conninfo: z.string(),
  psql: z.string(),
  uri: z.string(),
  jdbcUrl: z.string(),
});
export type ConnectionLines = z.infer<typeof connectionLinesSchema>;

export const tunnelConnectionSchema = z.object({
  /** The connection's own gateway session (and recording). */
  sessionId: id,
  /** connecting: session created, logging in; live: relaying. */
  state: z.enum(['connecting', 'live']),
  since: isoTime,
});

/** Why a tunnel is no longer listening; `message` is the sentence the panel shows. */
export const tunnelStateSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('open') }),
  z.object({
    kind: z.literal('ended'),
    reason: z.enum(['grant-ended', 'signed-out', 'app-quit', 'failed']),
    message: z.string(),
  }),
]);
export type TunnelState = z.infer<typeof tunnelStateSchema>;

export const tunnelSchema = z.object({
  tunnelId: id,
  resourceId: id,
  resourceName: z.string(),
  host: z.string(),
  port,
  openedAt: isoTime,
  state: tunnelStateSchema,
  /** Connections open now, oldest first. */
  connections: z.array(tunnelConnectionSchema),
  /** Sessions opened through it so far (each one recorded). */
  sessionsOpened: z.number().int(),
  lines: connectionLinesSchema,
});
export type TunnelView = z.infer<typeof tunnelSchema>;

export const dbConnectionSchema = z.object({
  resourceName: z.string(),
  username: z.string(),
  notAfter: isoTime,
  /** Where main wrote the files (the key 0600); the key itself never crosses. */
  files: z.object({ key: z.string(), keyDer: z.string(), cert: z.string(), ca: z.string() }),
  lines: connectionLinesSchema,
});
export type DbConnection = z.infer<typeof dbConnectionSchema>;

export const tunnelCalls = {
  /** Open tunnels and ended ones not yet dismissed (a status bar counts the open ones). */
  'tunnels.list': { request: empty, response: z.object({ tunnels: z.array(tunnelSchema) }) },
  /**
   * Listen on 127.0.0.1 for a PostgreSQL resource. `port`: this one (remembered for the
   * resource); left out, the remembered one, else a free one. A busy port is `conflict`.
   */
  'tunnels.open': {
    request: z.strictObject({
      resourceId: id,
      port: z.number().int().min(0).max(65535).optional(),
    }),
    response: tunnelSchema,
  },
  /** Stop an open tunnel (its connections close, their sessions end), or dismiss an ended one. */
  'tunnels.close': { request: z.strictObject({ tunnelId: id }), response: empty },
  /** The port remembered for a resource (null: none yet), for the panel's port field. */
  'tunnels.rememberedPort': {
    request: z.strictObject({ resourceId: id }),
    response: z.object({ port: port.nullable() }),
  },
  /**
   * What `witness db login` does: a key made in main, a short-lived certificate from the
   * gateway, files written to the desktop's profile, and the lines for DBeaver / pgAdmin.
   */
  'dbCertificates.create': {
    request: z.strictObject({
      resourceId: id,
      ttlSeconds: z
        .number()
        .int()
        .min(60)
        .max(12 * 3600)
        .optional(),
    }),
    response: dbConnectionSchema,
  },
} as const;

export const tunnelEvents = {
  /** Any tunnel opened, ended, or had a connection come or go: the whole list again. */
  'tunnels.changed': z.object({ tunnels: z.array(tunnelSchema) }),
} as const;

// --- sign-in with an identity provider (issue #18, branch oidcdesk) --------------------------

const providerNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/);

/**
 * Main runs the RFC 8252 loopback flow (`gateway-client/oidc/browserSignIn.ts`) and keeps the
 * code, the PKCE verifier and the tokens; the renderer only learns the outcome (`AppState`).
 */
export const providerSignInCalls = {
  /** The pinned gateway's identity providers, for the sign-in screen's buttons. */
  'account.signInOptions': {
    request: empty,
    response: z.object({
      providers: z.array(z.object({ name: z.string(), displayName: z.string() })),
    }),
  },
  /**
   * Signs in through the provider in the system browser; settles once the browser came back
   * (or after 5 minutes). Without a desktop browser opener (the web host), main sends the
   * caller `account.providerSignInUrl` to open instead.
   */
  'account.signInWithProvider': {
    request: z.strictObject({ provider: providerNameSchema }),
    response: appStateSchema,
  },
  /** Stops waiting for the browser: `account.signInWithProvider` fails with 'cancelled'. */
  'account.cancelProviderSignIn': { request: empty, response: empty },
} as const;

export const providerSignInEvents = {
  /**
   * The gateway's sign-in start URL, for the renderer to open in a new window (web host only).
   * Not a secret: it carries the state and the PKCE challenge, never the verifier, and the
   * code comes back to main's loopback listener, not to the page.
   */
  'account.providerSignInUrl': z.object({ url: z.string() }),
} as const;

// --- identity providers and machine identities in the settings panel (issue #18, oidcdesk) ----

/** A provider as the panel shows it: never its client secret (the API never answers it). */
export const identityProviderRowSchema = z.object({
  name: z.string(),
  displayName: z.string(),
  issuer: z.string(),
  clientId: z.string(),
  scopes: z.array(z.string()),
  groupsClaim: z.string(),
  /** The gateway's callback, to register at the provider. */
  redirectUri: z.string(),
});

export const machineIdentityRowSchema = z.object({
  name: z.string(),
  issuer: z.string(),
  audience: z.string(),
  claims: z.record(z.string(), z.string()),
  createdAt: isoTime,
});

const adminNameSchema = z.string().min(1).max(64);

export const identityAdminCalls = {
  'admin.identityProviders.list': {
    request: empty,
    response: z.object({ providers: z.array(identityProviderRowSchema) }),
  },
  /**
   * Adds (`create: true`) or edits a provider. The client secret is write-only: required to
   * add, and on an edit left out to keep the stored one.
   */
  'admin.identityProviders.save': {
    request: z.strictObject({
      create: z.boolean(),
      name: adminNameSchema,
      displayName: z.string().min(1).max(64),
      issuer: z.string().min(1).max(2048),
      clientId: z.string().min(1).max(512),
      clientSecret: z.string().min(1).max(4096).optional(),
      scopes: z.array(z.string().min(1).max(128)).min(1).max(32),
      groupsClaim: z.string().min(1).max(256),
    }),
    response: identityProviderRowSchema,
  },
  'admin.identityProviders.delete': {
    request: z.strictObject({ name: adminNameSchema }),
    response: empty,
  },
  'admin.machineIdentities.list': {
    request: empty,
    response: z.object({ identities: z.array(machineIdentityRowSchema) }),
  },
  'admin.machineIdentities.create': {
    request: z.strictObject({
      name: adminNameSchema,
      issuer: z.string().min(1).max(2048),
      audience: z.string().min(1).max(512),
      claims: z.record(z.string().min(1).max(128), z.string().min(1).max(512)),
    }),
    response: machineIdentityRowSchema,
  },
  'admin.machineIdentities.delete': {
    request: z.strictObject({ name: adminNameSchema }),
    response: empty,
  },
} as const;

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
  // --- query console (issue #15, branch console) -----------------------------------------------
  /** Start a session on a PostgreSQL resource and connect a query console to it. */
  'consoles.open': {
    request: z.strictObject({ resourceId: id }),
    response: z.object({
      consoleId: id,
      sessionId: id,
      resourceName: z.string(),
      database: z.string(),
      expiresAt: isoTime,
    }),
  },
  /**
   * Run SQL (one simple Query: several statements give several results). `offset` is where
   * `sql` starts in the editor (a selection), so error positions point into the editor.
   * Rejected while another run is still going.
   */
  'consoles.run': {
    request: z.strictObject({
      consoleId: id,
      sql: z.string().min(1).max(MAX_CONSOLE_SQL_CHARS),
      offset: z.number().int().min(0).max(MAX_CONSOLE_SQL_CHARS).optional(),
    }),
    response: z.object({ runId: z.string() }),
  },
  /** Sends a CancelRequest through the gateway for the running query. */
  'consoles.cancel': { request: z.strictObject({ consoleId: id }), response: empty },
  /** The renderer has taken `rows` more rows; main resumes a paused result. */
  'consoles.ack': {
    request: z.strictObject({
      consoleId: id,
      rows: z
        .number()
        .int()
        .min(0)
        .max(2 ** 40),
    }),
    response: empty,
  },
  /** Schemas, tables and columns for completion, read through the same recorded session. */
  'consoles.catalog': {
    request: z.strictObject({ consoleId: id }),
    response: consoleSchemaCatalogSchema,
  },
  'consoles.close': { request: z.strictObject({ consoleId: id }), response: empty },
  // --- end of query console --------------------------------------------------------------------
  /** The signed-in user's recordings (all, for auditors and admins), newest first. */
  'recordings.list': {
    request: z.strictObject({
      limit: z.number().int().min(1).max(500).optional(),
      filters: recordingFiltersSchema.optional(),
      /** `nextCursor` of the previous page. */
      cursor: pageCursor.optional(),
    }),
    response: z.object({
      recordings: z.array(recordingSummarySchema),
      /** null: this was the last page. */
      nextCursor: z.string().nullable().optional(),
    }),
  },
  /** Full-text search over commands, queries and output (indexed on the gateway). */
  'recordings.search': {
    request: z.strictObject({
      q: z.string().min(1).max(500),
      filters: recordingFiltersSchema.optional(),
      cursor: pageCursor.optional(),
      limit: z.number().int().min(1).max(200).optional(),
    }),
    response: z.object({
      hits: z.array(recordingSearchHitSchema),
      nextCursor: z.string().nullable(),
    }),
  },
  /**
   * Recordings the gateway finds missing (issue #12): sessions recorded whose row is gone, rows
   * whose bytes are gone, bytes no row names. Auditors and admins; others get `forbidden`.
   */
  'recordings.problems': {
    request: empty,
    response: z.object({
      checkedAt: z.string(),
      problems: z.array(
        z.object({
          kind: z.enum(['missing_row', 'missing_bytes', 'orphan_bytes']),
          sessionId: z.string(),
          message: z.string(),
        }),
      ),
    }),
  },
  /** Download a recording and verify chain and signatures locally against the pinned key. */
  'recordings.verify': {
    request: z.strictObject({ sessionId: id }),
    response: recordingVerdictSchema,
  },
  /**
   * Download (or take from the local cache) a recording, verify it against the pinned key, and
   * open it for playback. Resolves once the verdict is known; `playback.progress` reports the
   * download meanwhile.
   */
  'recordings.open': {
    /** `channel`: another terminal channel of the session (info.channels) than the first. */
    request: z.strictObject({ sessionId: id, channel: z.number().int().min(0).optional() }),
    response: playbackInfoSchema,
  },
  /**
   * Open a signed bundle from disk, with no gateway needed. Electron: main shows an open dialog
   * (no `uploadId`). Web host: the browser first sends the file with `bundles.upload*` and
   * passes its `uploadId`. The key: the pinned gateway's, or the fingerprint the user typed
   * (SHA256:… or ed25519:…) — the key inside the bundle never vouches for itself.
   * Rejects with not_found when the user cancelled the dialog.
   */
  'recordings.openBundle': {
    request: z.strictObject({
      uploadId: id.optional(),
      fingerprint: z.string().min(1).max(200).optional(),
    }),
    response: playbackInfoSchema,
  },
  /** Web host: start sending a bundle file (≤ 4 GiB) for `recordings.openBundle`. */
  'bundles.uploadBegin': {
    request: z.strictObject({
      fileName: z.string().min(1).max(500),
      size: z
        .number()
        .int()
        .min(1)
        .max(4 * 1024 ** 3),
    }),
    response: z.object({ uploadId: id, maxChunkBytes: z.number().int() }),
  },
  /** The next piece, in order: `offset` must equal the bytes received so far. */
  'bundles.uploadChunk': {
    request: z.strictObject({
      uploadId: id,
      offset: z.number().int().min(0),
      /** base64 of at most MAX_BUNDLE_CHUNK_BYTES bytes. */
      data: z
        .string()
        .min(1)
        .max(Math.ceil(MAX_BUNDLE_CHUNK_BYTES / 3) * 4),
    }),
    response: z.object({ received: z.number().int() }),
  },
  /** Drop an upload (also dropped when its client goes away, or once opened). */
  'bundles.uploadCancel': { request: z.strictObject({ uploadId: id }), response: empty },
  /**
   * Terminal events with fromMs ≤ t < toMs, in order, at most MAX_PLAYBACK_CHUNK_CHARS of data:
   * when cut short, `nextFromSeq` says where to go on (pass it back as `fromSeq`). NB: fromSeq,
   * nextFromSeq and seek's nextSeq are positions in main's event index (opaque cursors), not
   * frame seqs — a frame over 64 KiB is served as several events with the same `seq`.
   */
  'playback.frames': {
    request: z.strictObject({
      playbackId: id,
      fromMs: z.number().min(0),
      toMs: z.number().min(0),
      /** Continue a cut-short answer from this seq (inclusive) instead of fromMs. */
      fromSeq: z.number().int().min(0).optional(),
      includeInput: z.boolean().optional(),
      acceptFailedVerification: z.boolean().optional(),
    }),
    response: z.object({
      events: z.array(playbackEventSchema),
      nextFromSeq: z.number().int().nullable(),
    }),
  },
  /**
   * The terminal as it looked at `atMs`: the nearest keyframe at or before it, replayed up to
   * it, serialized (@xterm/addon-serialize) — write it into a reset xterm of `size`, then
   * continue with `playback.frames` from `nextSeq`.
   */
  'playback.seek': {
    request: z.strictObject({
      playbackId: id,
      atMs: z.number().min(0),
      /**
       * Show the screen just after the frame with this seq and every frame before it (a search
       * hit), rather than after every frame up to `atMs`: frames in the same millisecond as the
       * hit, such as a command's first output, stay for playback to show.
       */
      afterSeq: z.number().int().min(0).optional(),
      acceptFailedVerification: z.boolean().optional(),
    }),
    response: z.object({
      snapshot: z.string(),
      atMs: z.number(),
      size: playbackSizeSchema,
      /** The first event after the snapshot. */
      nextSeq: z.number().int(),
    }),
  },
  /** Database sessions: the timeline of queries, a page at a time. */
  'playback.queries': {
    request: z.strictObject({
      playbackId: id,
      /** Entry index to start from (default 0). */
      cursor: z.number().int().min(0).optional(),
      limit: z.number().int().min(1).max(200).optional(),
      acceptFailedVerification: z.boolean().optional(),
    }),
    response: z.object({
      entries: z.array(queryTimelineEntrySchema),
      nextCursor: z.number().int().nullable(),
    }),
  },
  'playback.close': { request: z.strictObject({ playbackId: id }), response: empty },
  /**
   * Export as the gateway produces it (byte-equal): cast (terminal), bundle (signed, offline-
   * verifiable), jsonl (database query log). `exportId` is chosen by the renderer so it can match
   * `export.progress` events. Electron: main asks where to save (not_found when cancelled). Web
   * host: written to `<app data>/downloads/`; `savedTo` is that path.
   */
  'recordings.export': {
    request: z.strictObject({
      exportId: id,
      sessionId: id,
      format: z.enum(['cast', 'bundle', 'jsonl']),
      /** cast: the terminal channel (default: the first with a pty or output). */
      channel: z.number().int().min(0).max(65535).optional(),
      /**
       * cast: add typed input ("i" events). Off by default: it may hold secrets typed without
       * echo, and a .cast is made for sharing.
       */
      includeInput: z.boolean().optional(),
    }),
    response: z.object({
      exportId: id,
      savedTo: z.string(),
      fileName: z.string(),
      bytes: z.number().int(),
    }),
  },
  'recordings.cancelExport': { request: z.strictObject({ exportId: id }), response: empty },
  /**
   * Watch an active session read-only (admins and auditors); a terminal's events arrive as
   * `live.frames`, a database session's queries as `live.queries`.
   */
  'live.watch': {
    request: z.strictObject({ sessionId: id }),
    response: playbackInfoSchema,
  },
  'live.stop': { request: z.strictObject({ playbackId: id }), response: empty },
  ...adminPanelCalls,
  ...adminCalls,
  /** The gateway's audit log, newest first, a page at a time (admins and auditors). */
  'audit.list': {
    request: auditFiltersSchema,
    response: z.object({ entries: z.array(auditEntrySchema), nextCursor: z.string().nullable() }),
  },
  /**
   * main exports the whole audit log from the gateway and verifies it against the pinned
   * recording key (the renderer never verifies): chain, order and every checkpoint signature.
   */
  'audit.verify': { request: empty, response: auditVerdictSchema },
  /** Save the audit log as JSON lines: Electron asks where; the web host writes to downloads. */
  'audit.export': {
    request: z.strictObject({ exportId: id }),
    response: z.object({
      exportId: id,
      savedTo: z.string(),
      fileName: z.string(),
      bytes: z.number().int(),
    }),
  },
  ...tunnelCalls,
  ...providerSignInCalls,
  ...identityAdminCalls,
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
  /** Everything a query console shows (issue #15), in order. */
  'console.event': z.object({ consoleId: id, event: consoleEventSchema }),
  /** Download / verification / keyframe progress of a recording being opened. */
  'playback.progress': z.object({
    sessionId: id,
    phase: z.enum(['download', 'verify', 'index', 'keyframes']),
    bytes: z.number(),
    /** null when unknown. */
    totalBytes: z.number().nullable(),
  }),
  // --- progressive replay (issue #16) ---------------------------------------------------------
  /**
   * A playback opened before its download ended has more verified (the verdict's
   * `verifiedThroughMs` grows), or its download ended (the final verdict, the full index):
   * replace the playback's info with this one.
   */
  'playback.updated': z.object({ info: z.lazy(() => playbackInfoSchema) }),
  // --- end of progressive replay ---------------------------------------------------------------
  'export.progress': z.object({
    exportId: id,
    bytes: z.number(),
    totalBytes: z.number().nullable(),
    state: z.enum(['running', 'done', 'failed', 'cancelled']),
    message: z.string().nullable(),
  }),
  /** New events of a watched live session, in order, at most MAX_PLAYBACK_CHUNK_CHARS of data. */
  'live.frames': z.object({ playbackId: id, events: z.array(playbackEventSchema) }),
  /** A watched database session's queries, each once its results are complete, in order. */
  'live.queries': z.object({ playbackId: id, entries: z.array(queryTimelineEntrySchema) }),
  /** The watched session ended (or the watch failed); no more `live.frames` follow. */
  'live.ended': z.object({
    playbackId: id,
    reason: z.enum(['session-ended', 'stopped', 'error']),
    message: z.string().nullable(),
    /** The verdict on what was watched, once the session ended. */
    verdict: playbackVerdictSchema.nullable(),
  }),
  ...adminPanelEvents,
  ...tunnelEvents,
  ...providerSignInEvents,
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
