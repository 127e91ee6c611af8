/**
 * The gateway's HTTP API contract: every request body and response of `/v1`, as zod schemas.
 *
 * This file is the single source of truth: the gateway validates what it receives and what it
 * sends with these schemas, and the client (CLI, desktop main process) validates what it gets
 * back. The gateway imports from here, never the other way round (see DESIGN.md, Layout).
 *
 * Request bodies are strict objects: an unknown field is a 400, so a typo such as
 * `{"pasword": …}` never silently does nothing.
 */
import { z } from 'zod';

export const API_PREFIX = '/v1';

/**
 * The protocols the gateway proxies, spelled once: the wire's schemas use `protocolSchema`,
 * the gateway keeps one proxy module per entry (gateway/proxy/protocols.ts).
 */
export const PROTOCOLS = ['ssh', 'postgres'] as const;
export type Protocol = (typeof PROTOCOLS)[number];
export const protocolSchema = z.enum(PROTOCOLS);

/** Largest request body the API accepts; bigger bodies get 413 before they are parsed. */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024;

const isoTime = z.iso.datetime({ offset: true });
const id = z.string().min(1).max(64);
const labelKey = z
  .string()
  .regex(/^[a-z0-9]([a-z0-9._/-]{0,62}[a-z0-9])?$/, 'label keys are lower-case, 1-64 chars');
const labelValue = z.string().max(128);
export const labelsSchema = z.record(labelKey, labelValue);

// ---------------------------------------------------------------------------------------------
// Errors

export const errorCodes = [
  'bad_request',
  'unsupported_media_type',
  'payload_too_large',
  'unauthenticated',
  'token_expired',
  'invalid_credentials',
  'totp_required',
  'account_locked',
  'rate_limited',
  'forbidden',
  'not_found',
  /** The session was recorded, but its recording row is gone (410: it existed). */
  'recording_missing',
  'conflict',
  'no_active_grant',
  'access_request_required',
  'internal',
  /** This replica is not taking work now (draining, store unreachable; issue #17): 503. */
  'unavailable',
] as const;
export type ApiErrorCode = (typeof errorCodes)[number];

export const apiErrorSchema = z.object({
  code: z.enum(errorCodes),
  message: z.string(),
  /** Field-level details for validation errors: `path` is dotted, e.g. `target.port`. */
  issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  /** For 429s: when the caller may try again. */
  retryAfter: isoTime.optional(),
});
export type ApiErrorBody = z.infer<typeof apiErrorSchema>;

// ---------------------------------------------------------------------------------------------
// Users and authentication

export const roles = ['admin', 'auditor', 'engineer'] as const;
export const roleSchema = z.enum(roles);
export type Role = z.infer<typeof roleSchema>;

export const usernameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'usernames are lower-case letters, digits, . _ -');
export const groupNameSchema = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/);
export const passwordSchema = z.string().min(10, 'passwords need at least 10 characters').max(1024);

export const userSchema = z.object({
  id,
  username: usernameSchema,
  role: roleSchema,
  groups: z.array(groupNameSchema),
  disabled: z.boolean(),
  totpEnabled: z.boolean(),
  createdAt: isoTime,
});
export type User = z.infer<typeof userSchema>;

export const loginRequestSchema = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
  /** Six-digit TOTP code; required once the user has enrolled TOTP. */
  totp: z
    .string()
    .regex(/^\d{6}$/, 'TOTP codes are six digits')
    .optional(),
});

export const refreshRequestSchema = z.strictObject({ refreshToken: z.string().min(1).max(256) });
export const logoutRequestSchema = z.strictObject({
  refreshToken: z.string().min(1).max(256).optional(),
});

export const tokenPairSchema = z.object({
  accessToken: z.string(),
  accessExpiresAt: isoTime,
  refreshToken: z.string(),
  refreshExpiresAt: isoTime,
  user: userSchema,
});
export type TokenPair = z.infer<typeof tokenPairSchema>;

export const enrollRequestSchema = z.strictObject({
  token: z.string().min(1).max(256),
  password: passwordSchema,
});
export const enrollResponseSchema = z.object({ username: usernameSchema });

export const totpEnrollmentSchema = z.object({
  /** Base32 secret to type into an authenticator app. */
  secret: z.string(),
  otpauthUri: z.string(),
});
export const totpConfirmRequestSchema = z.strictObject({
  code: z.string().regex(/^\d{6}$/, 'TOTP codes are six digits'),
});

// ---------------------------------------------------------------------------------------------
// Resources

const hostSchema = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9.:_-]+$/, 'a host name or IP address');
const portSchema = z.number().int().min(1).max(65535);

/** OpenSSH known_hosts style key: `ssh-ed25519 AAAA…` (the comment, if any, is dropped). */
export const sshHostKeySchema = z
  .string()
  .max(8192)
  .regex(/^(ssh-|ecdsa-|sk-)[A-Za-z0-9@.-]+ [A-Za-z0-9+/=]+( .*)?$/, 'an OpenSSH public key line');

export const sshTargetSchema = z.strictObject({
  kind: z.literal('ssh'),
  host: hostSchema,
  port: portSchema.default(22),
  username: z.string().min(1).max(64),
  /** Pinned target host key; sessions are refused while it is unset or when it differs. */
  hostKey: sshHostKeySchema.nullable().default(null),
});

export const postgresTlsModes = ['disable', 'prefer', 'require', 'verify-full'] as const;
export const postgresTargetSchema = z.strictObject({
  kind: z.literal('postgres'),
  host: hostSchema,
  port: portSchema.default(5432),
  database: z.string().min(1).max(63),
  username: z.string().min(1).max(63),
  tlsMode: z.enum(postgresTlsModes).default('prefer'),
  /** CA certificate (PEM) that signs the target's server certificate, for verify-full. */
  caPem: z.string().max(65536).nullable().default(null),
});

export const resourceTargetSchema = z.discriminatedUnion('kind', [
  sshTargetSchema,
  postgresTargetSchema,
]);
export type ResourceTarget = z.infer<typeof resourceTargetSchema>;
export type ResourceKind = ResourceTarget['kind'];

/**
 * Target credentials. Write-only: accepted on create/update, never returned. Which fields make
 * sense depends on the target kind (SSH: private key and/or password; PostgreSQL: password).
 */
export const resourceSecretInputSchema = z.strictObject({
  privateKey: z.string().min(1).max(65536).optional(),
  passphrase: z.string().max(1024).optional(),
  password: z.string().min(1).max(1024).optional(),
});
export type ResourceSecretInput = z.infer<typeof resourceSecretInputSchema>;

const resourceNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'resource names are lower-case letters, digits, . _ -');

// ---------------------------------------------------------------------------------------------
// Database policy: masking and guardrails (PostgreSQL resources), on a resource or a grant

/** Regex source, compiled case-insensitively by the gateway; at most 512 chars. */
const regexSource = z
  .string()
  .min(1)
  .max(512)
  .refine((source) => {
    try {
      new RegExp(source, 'iu');
      return true;
    } catch {
      return false;
    }
  }, 'not a valid regular expression');

export const maskingPresets = ['email', 'card', 'phone'] as const;
export const maskingRuleSchema = z.strictObject({
  name: z.string().min(1).max(64),
  match: z.discriminatedUnion('kind', [
    /** Result columns whose name matches. */
    z.strictObject({ kind: z.literal('column'), pattern: regexSource }),
    /** Result columns of these PostgreSQL type names (e.g. `text`, `varchar`, `jsonb`). */
    z.strictObject({ kind: z.literal('type'), types: z.array(z.string().min(1).max(63)).min(1) }),
    /** Values (of any text column) that look like a preset: e-mail, card number, phone. */
    z.strictObject({ kind: z.literal('preset'), preset: z.enum(maskingPresets) }),
    /** Values (of any text column) that match a pattern. */
    z.strictObject({ kind: z.literal('value'), pattern: regexSource }),
  ]),
  /** full: the whole value becomes `****`; partial: keep the last four characters. */
  style: z.enum(['full', 'partial']).default('full'),
});
export type MaskingRule = z.infer<typeof maskingRuleSchema>;

/** Statement classes a guardrail can forbid; decided on PostgreSQL's parse tree (gateway/policy/guardrails.ts). */
export const statementClasses = [
  'drop',
  'truncate',
  'alter',
  'delete_without_where',
  'update_without_where',
  /** MERGE with a WHEN … THEN DELETE or THEN UPDATE action. */
  'merge_modify',
  /** COPY … FROM (STDIN, a file or a program) into a table. */
  'copy_from',
  'call',
  'do',
  /** CREATE [OR REPLACE] FUNCTION or PROCEDURE. */
  'create_function',
  /** CREATE [EVENT] TRIGGER. */
  'create_trigger',
  'create_rule',
] as const;
export const guardrailRuleSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('statement'),
    name: z.string().min(1).max(64),
    classes: z.array(z.enum(statementClasses)).min(1),
  }),
  /** Blocks statements whose text (comments stripped, whitespace collapsed) matches. */
  z.strictObject({
    kind: z.literal('regex'),
    name: z.string().min(1).max(64),
    pattern: regexSource,
  }),
]);
export type GuardrailRule = z.infer<typeof guardrailRuleSchema>;

/**
 * How a policy's column rules hold (issue #13). `basic`: result columns are masked by name,
 * which an alias, a function or a predicate steps around. `strict`: a column its rules mask
 * may appear only as a plain output column; any other use refuses the statement, as do calls
 * of functions that are neither harmless built-ins nor in `allowedFunctions`
 * (gateway/policy/strictMasking.ts).
 */
export const maskingModes = ['strict', 'basic'] as const;
export type MaskingMode = (typeof maskingModes)[number];

/** A function name as a query calls it: `name` or `schema.name`, compared case-insensitively. */
const functionName = z
  .string()
  .regex(
    /^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/,
    'a function name, e.g. my_fn or app.my_fn',
  )
  .max(127);

const databasePolicyFields = {
  masking: z.array(maskingRuleSchema).max(100).default([]),
  guardrails: z.array(guardrailRuleSchema).max(100).default([]),
  /**
   * Absent on policies stored before modes existed: they read as `basic`, the behaviour they
   * were written for. Policies written through the API get `strict` unless they say otherwise
   * (databasePolicyInputSchema).
   */
  maskingMode: z.enum(maskingModes).optional(),
  /** Functions strict mode may call besides the harmless built-ins (their bodies are unseen). */
  allowedFunctions: z.array(functionName).max(200).optional(),
};
/** A policy as stored and returned. */
export const databasePolicySchema = z.strictObject(databasePolicyFields);
export type DatabasePolicy = z.infer<typeof databasePolicySchema>;
/** A policy as written through the API: a new policy is strict unless it says `basic`. */
export const databasePolicyInputSchema = z.strictObject({
  ...databasePolicyFields,
  maskingMode: z.enum(maskingModes).default('strict'),
});
/** The mode a policy's masking rules are held to: stored policies without one are basic. */
export function maskingModeOf(policy: Pick<DatabasePolicy, 'maskingMode'>): MaskingMode {
  return policy.maskingMode ?? 'basic';
}

/** `SHA256:…` as OpenSSH prints a key's fingerprint (base64 of the SHA-256, no padding). */
export const sshFingerprintSchema = z
  .string()
  .trim()
  .regex(
    /^SHA256:[A-Za-z0-9+/]{43}$/,
    'a fingerprint as OpenSSH prints it: SHA256: and 43 characters',
  );

/**
 * SSH resources' key handling on create and edit (issue #14): the gateway can make the login
 * key itself, and pins the target's host key from a fingerprint the admin confirmed.
 */
const sshKeyWriteFields = {
  /**
   * The gateway generates an ed25519 key pair, keeps the private key as the resource's
   * credential and answers its public key (`publicKeyToInstall`) for the target's
   * authorized_keys. Not with `secret.privateKey`.
   */
  generateKey: z.boolean().optional(),
  /**
   * The host key fingerprint the admin confirmed (from `POST /resources/ssh/host-key-scan`):
   * the gateway scans the target again and pins the key it presents only if it matches.
   */
  hostKeyFingerprint: sshFingerprintSchema.optional(),
};

export const createResourceRequestSchema = z.strictObject({
  name: resourceNameSchema,
  description: z.string().max(1024).default(''),
  labels: labelsSchema.default({}),
  target: resourceTargetSchema,
  secret: resourceSecretInputSchema.optional(),
  /** Masking and guardrails for database sessions (PostgreSQL resources). */
  policy: databasePolicyInputSchema.default({
    masking: [],
    guardrails: [],
    maskingMode: 'strict',
  }),
  ...sshKeyWriteFields,
});
export type CreateResourceRequest = z.input<typeof createResourceRequestSchema>;

export const updateResourceRequestSchema = z.strictObject({
  name: resourceNameSchema.optional(),
  description: z.string().max(1024).optional(),
  labels: labelsSchema.optional(),
  target: resourceTargetSchema.optional(),
  /** Replaces the stored credentials; `null` removes them. */
  secret: resourceSecretInputSchema.nullable().optional(),
  policy: databasePolicyInputSchema.optional(),
  ...sshKeyWriteFields,
});
export type UpdateResourceRequest = z.input<typeof updateResourceRequestSchema>;

/** How the caller may use a resource: hold a usable grant now, or may ask for one. */
export const resourceAccessSchema = z.enum(['granted', 'requestable', 'admin']);

export const resourceSchema = z.object({
  id,
  name: resourceNameSchema,
  description: z.string(),
  labels: labelsSchema,
  target: resourceTargetSchema,
  /** Which credentials are stored — never the credentials themselves. */
  secretSet: z.object({ privateKey: z.boolean(), password: z.boolean() }),
  policy: databasePolicySchema,
  access: resourceAccessSchema,
  /**
   * When the caller's usable grants for it end (the latest end among them); null when one has
   * no end or none is usable now. Defaults to null so a client still reads older gateways.
   */
  grantExpiresAt: isoTime.nullable().default(null),
  createdAt: isoTime,
  updatedAt: isoTime,
});
export type Resource = z.infer<typeof resourceSchema>;
export const resourceListSchema = z.object({ resources: z.array(resourceSchema) });

/** The answer to a create or edit: the resource, and the public key to install, if one was made. */
export const resourceWriteResultSchema = resourceSchema.extend({
  /**
   * The public half of the key the gateway just generated or was just given, as an
   * authorized_keys line to install on the target; null when the credential did not change.
   */
  publicKeyToInstall: z.string().nullable().default(null),
});
export type ResourceWriteResult = z.infer<typeof resourceWriteResultSchema>;

/** `POST /v1/resources/ssh/host-key-scan`: which host key a target presents (nothing stored). */
export const hostKeyScanRequestSchema = z.strictObject({
  host: hostSchema,
  port: portSchema.default(22),
});
export const hostKeyScanSchema = z.object({
  host: z.string(),
  port: portSchema,
  /** `ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, … */
  keyType: z.string(),
  /** `SHA256:…`: compare it with what the server's owner says, then confirm it on the resource. */
  fingerprint: z.string(),
  /** The key as an OpenSSH public key line (known_hosts form without the host). */
  publicKey: z.string(),
});
export type HostKeyScan = z.infer<typeof hostKeyScanSchema>;

/** The steps of `POST /v1/resources/:id/test`, in the order they run. */
export const connectionTestSteps = ['dns', 'tcp', 'tls', 'host_key', 'auth'] as const;
export type ConnectionTestStep = (typeof connectionTestSteps)[number];
export const connectionTestResultSchema = z.object({
  ok: z.boolean(),
  /** The step that failed; null when every step passed. */
  failedStep: z.enum(connectionTestSteps).nullable(),
  /** What happened, for a person: what failed and what to do, or what was reached. */
  message: z.string(),
  /** The steps that ran, in order, with how long each took; the last failed when `!ok`. */
  steps: z.array(
    z.object({
      step: z.enum(connectionTestSteps),
      ok: z.boolean(),
      ms: z.number(),
      /** e.g. the address DNS gave, or "not encrypted" for tlsMode prefer without TLS. */
      detail: z.string().nullable().default(null),
    }),
  ),
  totalMs: z.number(),
  /** On an SSH host key failure: the fingerprint the target presents and the pinned one. */
  hostKey: z
    .object({ presented: z.string().nullable(), pinned: z.string().nullable() })
    .nullable()
    .default(null),
});
export type ConnectionTestResult = z.infer<typeof connectionTestResultSchema>;

// ---------------------------------------------------------------------------------------------
// Grants

export const grantSubjectSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('user'), userId: id }),
  z.strictObject({ kind: z.literal('group'), group: groupNameSchema }),
]);
export const grantTargetSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('resource'), resourceId: id }),
  /** Every label in the selector must be present on the resource with the same value. */
  z.strictObject({ kind: z.literal('labels'), selector: labelsSchema }),
]);
export const grantModes = ['standing', 'approval'] as const;

/** Who may approve requests under an approval-required grant: users (ids) and groups. */
export const grantApproversSchema = z.strictObject({
  users: z.array(id).max(100).default([]),
  groups: z.array(groupNameSchema).max(100).default([]),
});
export type GrantApprovers = z.infer<typeof grantApproversSchema>;
/** More than this many distinct approvals for one request would be a committee, not a check. */
export const MAX_APPROVALS_REQUIRED = 10;
const approvalsRequiredSchema = z.number().int().min(1).max(MAX_APPROVALS_REQUIRED);

/** Upper bound on any one session: a day. Longer work is several sessions. */
export const MAX_SESSION_SECONDS = 24 * 3600;

export const createGrantRequestSchema = z
  .strictObject({
    subject: grantSubjectSchema,
    target: grantTargetSchema,
    /** standing: usable at once; approval: the user must request access (later issue). */
    mode: z.enum(grantModes).default('standing'),
    validFrom: isoTime.nullable().default(null),
    validUntil: isoTime.nullable().default(null),
    maxSessionSeconds: z.number().int().min(60).max(MAX_SESSION_SECONDS).default(3600),
    description: z.string().max(1024).default(''),
    /** Masking and guardrails added, for sessions under this grant, to the resource's own. */
    policy: databasePolicyInputSchema.default({
      masking: [],
      guardrails: [],
      maskingMode: 'strict',
    }),
    /** approval grants: who may approve a request, and how many distinct approvals it needs. */
    approvers: grantApproversSchema.default({ users: [], groups: [] }),
    approvalsRequired: approvalsRequiredSchema.default(1),
  })
  .refine((g) => !g.validFrom || !g.validUntil || g.validFrom < g.validUntil, {
    message: 'validFrom must be before validUntil',
    path: ['validUntil'],
  });
export type CreateGrantRequest = z.input<typeof createGrantRequestSchema>;

export const updateGrantRequestSchema = z.strictObject({
  mode: z.enum(grantModes).optional(),
  validFrom: isoTime.nullable().optional(),
  validUntil: isoTime.nullable().optional(),
  maxSessionSeconds: z.number().int().min(60).max(MAX_SESSION_SECONDS).optional(),
  description: z.string().max(1024).optional(),
  policy: databasePolicyInputSchema.optional(),
  approvers: grantApproversSchema.optional(),
  approvalsRequired: approvalsRequiredSchema.optional(),
});
export type UpdateGrantRequest = z.input<typeof updateGrantRequestSchema>;

export const grantSchema = z.object({
  id,
  subject: grantSubjectSchema,
  target: grantTargetSchema,
  mode: z.enum(grantModes),
  validFrom: isoTime.nullable(),
  validUntil: isoTime.nullable(),
  maxSessionSeconds: z.number().int(),
  description: z.string(),
  policy: databasePolicySchema,
  createdBy: id,
  createdAt: isoTime,
  // Defaults so a client still reads gateways from before issue #14.
  approvers: z
    .object({ users: z.array(id), groups: z.array(z.string()) })
    .default({ users: [], groups: [] }),
  approvalsRequired: z.number().int().default(1),
  /** The access request this time-boxed grant was issued for; null for grants admins write. */
  requestId: id.nullable().default(null),
});
export type Grant = z.infer<typeof grantSchema>;
export const grantListSchema = z.object({ grants: z.array(grantSchema) });

/**
 * A duration as people write it: `90s`, `45m`, `2h`, `1d`, or plain seconds. Used by
 * `?expiringWithin=` and the CLI's `--for`.
 */
export function parseDurationSeconds(text: string): number | undefined {
  const found = /^(\d{1,7})([smhd]?)$/.exec(text.trim());
  if (!found) return undefined;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[found[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(found[1]) * unit;
}
const durationTextSchema = z.string().transform((text, ctx) => {
  const seconds = parseDurationSeconds(text);
  if (seconds === undefined) {
    ctx.addIssue({ code: 'custom', message: 'a duration such as 90s, 45m, 2h or 7d' });
    return z.NEVER;
  }
  return seconds;
});

export const grantListQuerySchema = z.strictObject({
  /** Only grants whose validUntil falls between now and now + this duration (`7d`, `2h`). */
  expiringWithin: durationTextSchema.optional(),
});

// ---------------------------------------------------------------------------------------------
// Groups (issue #14): the group names users carry, with their members

export const groupSchema = z.object({
  name: z.string(),
  members: z.array(z.object({ id, username: z.string() })),
});
export type Group = z.infer<typeof groupSchema>;
export const groupListSchema = z.object({ groups: z.array(groupSchema) });
export const addGroupMemberSchema = z.strictObject({ userId: id });

// ---------------------------------------------------------------------------------------------
// Access requests (issue #14): ask for time-boxed access under an approval-required grant

export const accessRequestStates = ['pending', 'approved', 'denied'] as const;

export const createAccessRequestSchema = z.strictObject({
  /** The resource's id or name. */
  resource: z.string().min(1).max(64),
  reason: z.string().trim().min(1, 'say why you need access').max(1024),
  /** How long the time-boxed grant lasts; at most the grant's maxSessionSeconds. */
  durationSeconds: z.number().int().min(60).max(MAX_SESSION_SECONDS),
});
export type CreateAccessRequest = z.input<typeof createAccessRequestSchema>;

export const decideAccessRequestSchema = z.strictObject({
  comment: z.string().max(1024).default(''),
});

export const accessRequestSchema = z.object({
  id,
  userId: id,
  username: z.string(),
  resourceId: id,
  resourceName: z.string(),
  /** The approval-required grant the request was made under. */
  grantId: id,
  reason: z.string(),
  durationSeconds: z.number().int(),
  approvalsRequired: z.number().int(),
  state: z.enum(accessRequestStates),
  createdAt: isoTime,
  decidedAt: isoTime.nullable(),
  /** The time-boxed grant an approval issued, and when it ends. */
  issuedGrantId: id.nullable(),
  accessUntil: isoTime.nullable(),
  decisions: z.array(
    z.object({
      approverId: id,
      approverName: z.string(),
      decision: z.enum(['approve', 'deny']),
      comment: z.string(),
      createdAt: isoTime,
    }),
  ),
  /** The sessions the issued grant enabled. */
  sessionIds: z.array(id),
  /** Whether the caller may approve or deny it now (an approver, not the requester, undecided). */
  canDecide: z.boolean(),
});
export type AccessRequest = z.infer<typeof accessRequestSchema>;
export const accessRequestListSchema = z.object({ requests: z.array(accessRequestSchema) });

export const accessRequestListQuerySchema = z.strictObject({
  /** mine: what I asked for; queue: pending requests I may decide; all: every request (admins). */
  scope: z.enum(['mine', 'queue', 'all']).default('mine'),
  state: z.enum(accessRequestStates).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** One line of `GET /v1/access-requests/events` (Server-Sent Events, `data:` JSON). */
export const accessRequestEventSchema = z.object({
  kind: z.enum(['created', 'decided', 'approved', 'denied']),
  request: accessRequestSchema,
});
export type AccessRequestEvent = z.infer<typeof accessRequestEventSchema>;

// ---------------------------------------------------------------------------------------------
// Sessions

export const createSessionRequestSchema = z.strictObject({ resourceId: id });

export const sessionEndpointSchema = z.object({
  protocol: protocolSchema,
  host: z.string(),
  port: portSchema,
});

export const createSessionResponseSchema = z.object({
  sessionId: id,
  /** Single-use secret; present it to the endpoint before `ticketExpiresAt`. */
  ticket: z.string(),
  ticketExpiresAt: isoTime,
  /** Where to connect; null while this gateway has no listener for the resource's protocol. */
  endpoint: sessionEndpointSchema.nullable(),
  /** The gateway ends the session at this time. */
  expiresAt: isoTime,
});
export type CreateSessionResponse = z.infer<typeof createSessionResponseSchema>;

// ---------------------------------------------------------------------------------------------
// Database client certificates (issue #15: `witness db login`)

/** Default and longest life of a database client certificate. */
export const DB_CERTIFICATE_DEFAULT_TTL_SECONDS = 3600;
export const DB_CERTIFICATE_MAX_TTL_SECONDS = 12 * 3600;

export const createDbCertificateRequestSchema = z.strictObject({
  /** Resource id or name. */
  resource: z.string().min(1).max(128),
  /** The client's public key, SPKI PEM; its private key stays on the client. */
  publicKeyPem: z.string().min(1).max(4096),
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(DB_CERTIFICATE_MAX_TTL_SECONDS)
    .default(DB_CERTIFICATE_DEFAULT_TTL_SECONDS),
});
export type CreateDbCertificateRequest = z.input<typeof createDbCertificateRequestSchema>;

export const dbCertificateSchema = z.object({
  /** The client certificate (PEM), for libpq's `sslcert`. */
  certificatePem: z.string(),
  /** The gateway's TLS CA (PEM), for libpq's `sslrootcert` with `sslmode=verify-full`. */
  caPem: z.string(),
  notBefore: isoTime,
  /** The earlier of the asked life and the end of the grant that allows the resource. */
  notAfter: isoTime,
  /** Connect with `user=` this name… */
  username: z.string(),
  /** …and `dbname=` this resource name: the listener checks both against the certificate. */
  resource: z.object({ id, name: z.string() }),
  /** The gateway's PostgreSQL listener; null while this gateway has none. */
  endpoint: sessionEndpointSchema.nullable(),
});
export type DbCertificate = z.infer<typeof dbCertificateSchema>;

export const sessionStates = ['pending', 'live', 'ended'] as const;
export const sessionSchema = z.object({
  id,
  userId: id,
  username: z.string(),
  resourceId: id,
  resourceName: z.string(),
  grantId: id,
  state: z.enum(sessionStates),
  createdAt: isoTime,
  startedAt: isoTime.nullable(),
  endedAt: isoTime.nullable(),
  expiresAt: isoTime,
  endReason: z.string().nullable(),
  /** The access request whose time-boxed grant enabled the session (issue #14). */
  requestId: id.nullable().default(null),
});
export type Session = z.infer<typeof sessionSchema>;
export const sessionListSchema = z.object({ sessions: z.array(sessionSchema) });

export const sessionListQuerySchema = z.strictObject({
  state: z.enum(sessionStates).optional(),
  resourceId: id.optional(),
  userId: id.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

// ---------------------------------------------------------------------------------------------
// Keys and health

export const keysSchema = z.object({
  /** SHA-256 of the TLS CA certificate (DER), hex pairs joined by ':'. */
  caFingerprint: z.string(),
  caPem: z.string(),
  recordingKey: z.object({
    algorithm: z.literal('ed25519'),
    keyId: z.string(),
    publicKeyPem: z.string(),
  }),
  /** The gateway SSH listener's host key (OpenSSH public key line), once it has one. */
  sshHostKey: z.string().nullable().default(null),
  /**
   * Recording keys this gateway signed with before a rotation (issue #17), oldest first: they
   * sign nothing new but still verify what they signed. Empty until a key is rotated.
   */
  earlierRecordingKeys: z
    .array(
      z.object({ algorithm: z.literal('ed25519'), keyId: z.string(), publicKeyPem: z.string() }),
    )
    .default([]),
});
export type Keys = z.infer<typeof keysSchema>;

/** `GET /v1/healthz` (issue #17): the process is alive and answering; nothing else checked. */
export const livenessSchema = z.object({ status: z.literal('alive') });

/**
 * `GET /v1/readyz` (issue #17): this replica takes new sessions (store reachable, listeners up,
 * not draining); otherwise 503 `unavailable` saying which. For a load balancer's health check.
 */
export const readinessSchema = z.object({
  status: z.literal('ready'),
  /** The replica's instance id, so a check through a balancer shows which replica answered. */
  instance: z.string(),
});

export const healthSchema = z.object({
  status: z.literal('ok'),
  version: z.string(),
  store: z.enum(['sqlite', 'postgres']),
  time: isoTime,
});

// ---------------------------------------------------------------------------------------------
// Recordings

export const recordingStatuses = ['recording', 'complete', 'interrupted', 'failed'] as const;

export const recordingVerificationSchema = z.object({
  status: z.enum(['verified', 'failed', 'partial']),
  /** Every frame up to this seq is covered by a valid signed checkpoint. */
  verifiedThroughSeq: z.number().int(),
  /** First frame that failed, when status is failed. */
  firstBadSeq: z.number().int().nullable(),
  message: z.string(),
});
export type RecordingVerification = z.infer<typeof recordingVerificationSchema>;

/**
 * A value the gateway's row (and so every view of it) says about a recording that differs from
 * what the recording's signed content says (issue #12). `shown` is the row's value; `signed`
 * the signed one. Times are ISO; `user`/`resource` are ids (names for recordings older than
 * issue #12, whose session-start frame has no ids).
 */
export const signedDifferenceFields = [
  'user',
  'resource',
  'protocol',
  'startedAt',
  'endedAt',
  'status',
] as const;
export const signedDifferenceSchema = z.object({
  field: z.enum(signedDifferenceFields),
  shown: z.string(),
  signed: z.string(),
});
export type SignedDifference = z.infer<typeof signedDifferenceSchema>;

export const recordingSchema = z.object({
  sessionId: id,
  userId: id,
  username: z.string(),
  resourceId: id,
  resourceName: z.string(),
  protocol: protocolSchema,
  status: z.enum(recordingStatuses),
  startedAt: isoTime,
  endedAt: isoTime.nullable(),
  /** Frames written (the last seq). */
  frames: z.number().int(),
  /** Size of the recording stream in bytes. */
  bytes: z.number().int(),
  lastCheckpointSeq: z.number().int(),
  /** On GET /v1/recordings/:id: the access request that enabled the session (issue #14). */
  requestId: id.nullable().optional(),
  /** Present on GET /v1/recordings/:id (verified on request), absent in lists. */
  verification: recordingVerificationSchema.optional(),
  /**
   * The gateway's last verification of the recording, null when it never has. Lists carry it so
   * a view can badge rows without verifying each. It is made on GET /v1/recordings/:id, on every
   * export, after every stream, and by the gateway's background re-verifier (`serve
   * --reverify-recordings-every`), so `checkedAt` says how fresh it is. `status` is `failed`
   * whenever `differsFromSigned` is not empty, even if the bytes verified (issue #12).
   */
  lastVerification: z
    .object({
      status: z.enum(['verified', 'failed', 'partial']),
      verifiedThroughSeq: z.number().int(),
      /** When the gateway checked it. */
      checkedAt: isoTime.optional(),
      /** The same as `checkedAt` (its name before issue #12). */
      at: isoTime,
      /** First frame that failed, when failed (null otherwise; absent from older gateways). */
      firstBadSeq: z.number().int().nullable().optional(),
      /** Why: the verifier's words (absent for verdicts stored before issue #12). */
      message: z.string().optional(),
    })
    .nullable()
    .optional(),
  /**
   * The row's values that differ from the recording's signed content: checked against what the
   * last verification read, so a row edited after it is flagged at once. Empty when they agree;
   * absent when the gateway has no signed content to compare with (never verified, unreadable).
   * `username` and `resourceName` are the names the signed session-start frame recorded, when
   * it has them, not the directory's current ones.
   */
  differsFromSigned: z.array(signedDifferenceSchema).optional(),
});
export type Recording = z.infer<typeof recordingSchema>;
/**
 * Opaque paging cursor: pass a page's `nextCursor` back to get the next page; null on the
 * last page. Cursors are positions, not offsets, so a page never repeats or skips an item
 * when newer recordings arrive meanwhile.
 */
const pageCursor = z.string().min(1).max(512);

/**
 * A recording the gateway cannot account for (issue #12: nothing is silently missing):
 * `missing_row` a session that ended without a recording row, `missing_bytes` a row whose
 * bytes are gone, `orphan_bytes` stored bytes no row describes.
 */
export const recordingProblemKinds = ['missing_row', 'missing_bytes', 'orphan_bytes'] as const;
export const recordingProblemSchema = z.object({
  kind: z.enum(recordingProblemKinds),
  sessionId: z.string(),
  message: z.string(),
});
export type RecordingProblem = z.infer<typeof recordingProblemSchema>;
export const recordingProblemsSchema = z.object({
  /** When the check ran (the API runs it on each request). */
  checkedAt: isoTime,
  problems: z.array(recordingProblemSchema),
});
export type RecordingProblems = z.infer<typeof recordingProblemsSchema>;

export const recordingListSchema = z.object({
  recordings: z.array(recordingSchema),
  nextCursor: pageCursor.nullable().default(null),
});
export type RecordingPage = z.infer<typeof recordingListSchema>;

/**
 * Status filter values: the stored lifecycle status, plus `verified`: recordings whose last
 * verification by the gateway (GET /v1/recordings/:id, an export, a stream, or its background
 * re-verifier) found every frame covered by a valid signed checkpoint, and whose row still
 * agrees with the signed content (issue #12). `failed` also matches a recording whose last
 * verification failed, whatever its lifecycle status. A recording the gateway never verified
 * is not `verified`.
 */
export const recordingStatusFilters = [...recordingStatuses, 'verified'] as const;
export type RecordingStatusFilter = (typeof recordingStatusFilters)[number];

const recordingFilterFields = {
  userId: id.optional(),
  /** A user by name (an unknown name matches nothing); with `userId`, both must match. */
  username: z.string().trim().min(1).max(200).optional(),
  resourceId: id.optional(),
  status: z.enum(recordingStatusFilters).optional(),
  protocol: protocolSchema.optional(),
  /** ISO times bounding startedAt. */
  from: isoTime.optional(),
  to: isoTime.optional(),
  cursor: pageCursor.optional(),
};

export const recordingListQuerySchema = z.strictObject({
  ...recordingFilterFields,
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** What a search hit's text came from (derived from the recording; not part of its chain). */
export const recordingTextKinds = ['input', 'output', 'command', 'query'] as const;
export type RecordingTextKind = (typeof recordingTextKinds)[number];

/**
 * GET /v1/recordings/search. `q` is words (letters and digits; anything else separates them);
 * a hit has every word, each as a word or the start of one (`nginx` finds `nginx.conf`,
 * `ngi` finds it too). Same filters and paging as the list.
 */
export const recordingSearchQuerySchema = z.strictObject({
  q: z.string().trim().min(1).max(500),
  ...recordingFilterFields,
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export const recordingSearchHitSchema = z.object({
  sessionId: id,
  /** Seq of the (first) frame the text came from: where to seek to. */
  seq: z.number().int(),
  /** Milliseconds from the start of the session. */
  t: z.number().int(),
  /** The same moment as an ISO time. */
  time: isoTime,
  channel: z.number().int(),
  kind: z.enum(recordingTextKinds),
  /** A short excerpt of the matching text (ANSI-stripped output, a command line, a query). */
  snippet: z.string(),
  /** [start, end) UTF-16 ranges in `snippet` of the words that matched. */
  highlights: z.array(z.tuple([z.number().int(), z.number().int()])),
  /** The recording's, to show the hit without another call. */
  username: z.string(),
  resourceName: z.string(),
  protocol: protocolSchema,
  startedAt: isoTime,
});
export type RecordingSearchHit = z.infer<typeof recordingSearchHitSchema>;

export const recordingSearchResultSchema = z.object({
  hits: z.array(recordingSearchHitSchema),
  nextCursor: pageCursor.nullable(),
});
export type RecordingSearchResult = z.infer<typeof recordingSearchResultSchema>;

/** GET /v1/recording-access (admins and auditors): who read which recording, newest first. */
export const recordingAccessQuerySchema = z.strictObject({
  sessionId: id.optional(),
  userId: id.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

export const recordingAccessEntrySchema = z.object({
  id,
  /** Null for a search, which reads no one recording. */
  sessionId: id.nullable(),
  userId: id,
  username: z.string(),
  /** `stream` is a view (download or playback), `live` a live watch, `search` a search. */
  action: z.enum(['stream', 'live', 'search', 'export_cast', 'export_bundle', 'export_jsonl']),
  at: isoTime,
  /** For a search: the query and filters, as JSON. */
  detail: z.string().nullable(),
});
export type RecordingAccessEntry = z.infer<typeof recordingAccessEntrySchema>;
export const recordingAccessListSchema = z.object({
  entries: z.array(recordingAccessEntrySchema),
});

/** GET /v1/recordings/:id/stream; `follow=1` keeps streaming until the session ends. */
export const recordingStreamQuerySchema = z.strictObject({
  follow: z.enum(['0', '1', 'true', 'false']).optional(),
  /**
   * A byte range of the stored stream, [from, to) (issue #16: a seek fetches the stretch between
   * two checkpoints, found in the seek table). Without them: the whole stream.
   */
  from: z.coerce.number().int().min(0).optional(),
  to: z.coerce.number().int().min(1).optional(),
});

/** One checkpoint in a recording's seek table (shared/recording/seekTable.ts `SeekPoint`). */
export const seekPointSchema = z.object({
  seq: z.number().int().min(0),
  /** The chain hash after frame `seq` that the checkpoint signs, hex (a hint: verify it). */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  time: z.number(),
  frameTime: z.number(),
  final: z.boolean(),
  offset: z.number().int().min(0),
  end: z.number().int().min(0),
  from: z.number().int().min(0),
});

/**
 * Where each checkpoint of a recording lies in its stored stream (issue #16), so a client can
 * fetch and verify any stretch between two checkpoints by byte range. Not evidence: a wrong
 * entry makes the stretch it names fail verification.
 */
export const recordingSeekTableSchema = z.object({
  sessionId: z.string(),
  headerBytes: z.number().int().min(0),
  bytes: z.number().int().min(0),
  firstFrameTime: z.number(),
  lastFrameTime: z.number(),
  frames: z.number().int().min(0),
  points: z.array(seekPointSchema),
});
export type RecordingSeekTable = z.infer<typeof recordingSeekTableSchema>;

export const recordingExportQuerySchema = z.strictObject({
  /** cast (SSH terminal), bundle (signed, verifiable offline), jsonl (PostgreSQL query log). */
  format: z.enum(['cast', 'bundle', 'jsonl']),
  /** For cast: the terminal channel to export (default: the first with a pty or output). */
  channel: z.coerce.number().int().min(0).max(65535).optional(),
  /**
   * For cast: `1` adds typed input ("i" events). Left out by default because input holds what
   * the terminal never echoed — passwords typed at a prompt — and a .cast is made for sharing.
   */
  includeInput: z.enum(['0', '1', 'true', 'false']).optional(),
  /**
   * An export of a recording that fails verification is refused (409); `1` exports it anyway,
   * marked unverified in the file (a bundle's signed statement, a .cast header's title) and in
   * the `x-witness-verification` response header.
   */
  allowUnverified: z.enum(['0', '1', 'true', 'false']).optional(),
});

// ---------------------------------------------------------------------------------------------
// Users and offboarding (issue #14)

export const userListSchema = z.object({ users: z.array(userSchema) });

/** As `witness-gateway admin create-user`: a password, or a one-time enrollment token. */
export const createUserRequestSchema = z.strictObject({
  username: usernameSchema,
  role: roleSchema.default('engineer'),
  groups: z.array(groupNameSchema).max(64).default([]),
  password: passwordSchema.optional(),
});
export const createdUserSchema = z.object({
  user: userSchema,
  /** The one-time enrollment token, when no password was set; null otherwise. */
  enrollment: z.object({ token: z.string(), expiresAt: isoTime }).nullable(),
});
export type CreatedUser = z.infer<typeof createdUserSchema>;

export const setUserRoleRequestSchema = z.strictObject({ role: roleSchema });

/** What a change that takes access away revoked, so the admin sees it. */
export const accessRevokedSchema = z.object({
  user: userSchema,
  /** Every sign-in (refresh and access tokens) was revoked. */
  signInsRevoked: z.boolean(),
  /** Grants naming this user that were ended (their end set to now). */
  grantsEnded: z.array(id),
  /** Open sessions ended (the proxies close them within a second). */
  sessionsEnded: z.array(id),
  /** Live watch streams of this user that were ended. */
  watchesEnded: z.number().int().min(0),
});
export type AccessRevoked = z.infer<typeof accessRevokedSchema>;

/**
 * Reset a user's password and/or TOTP (issue #14). Neither given means both, as the CLI's
 * default; both false is refused (nothing to reset).
 */
export const resetUserRequestSchema = z.strictObject({
  password: z.boolean().optional(),
  totp: z.boolean().optional(),
});
export const resetUserResponseSchema = z.object({
  user: userSchema,
  /** What was reset. */
  reset: z.object({ password: z.boolean(), totp: z.boolean() }),
  /** Every sign-in (refresh and access tokens) was revoked; live sessions were not ended. */
  signInsRevoked: z.boolean(),
  /** With a password reset: the one-time enrollment token the user sets a new one with. */
  enrollment: z.object({ token: z.string(), expiresAt: isoTime }).nullable(),
});
export type UserReset = z.infer<typeof resetUserResponseSchema>;

export const terminateSessionRequestSchema = z.strictObject({
  /** Shown to the person whose session ends. */
  reason: z.string().min(1).max(200).optional(),
});

// ---------------------------------------------------------------------------------------------
// Policies (issue #14): what a masking and guardrail policy would do, before it is saved

/** A sample result set: column names with their PostgreSQL type names, and rows as text. */
export const sampleResultSchema = z
  .strictObject({
    columns: z
      .array(
        z.strictObject({
          name: z.string().min(1).max(63),
          /** A PostgreSQL type name (`text`, `int4`, `jsonb`, …); `text` when left out. */
          type: z.string().min(1).max(63).default('text'),
        }),
      )
      .min(1)
      .max(100),
    /** Each row's values in the columns' order, as PostgreSQL's text form; null is NULL. */
    rows: z.array(z.array(z.string().max(8192).nullable()).max(100)).max(100),
  })
  .refine((result) => result.rows.every((row) => row.length === result.columns.length), {
    message: 'every row needs one value per column',
    path: ['rows'],
  });

export const policyTryRequestSchema = z.strictObject({
  /** The policy as a resource or grant holds it (the same schema). */
  policy: databasePolicyInputSchema,
  sampleQuery: z
    .string()
    .trim()
    .min(1, 'write a query to try')
    .max(16 * 1024),
  sampleResult: sampleResultSchema.optional(),
});
export type PolicyTryRequest = z.input<typeof policyTryRequestSchema>;

export const policyTryResultSchema = z.object({
  /** What the gateway would do with the query under this policy. */
  verdict: z.enum(['allowed', 'refused']),
  /** Why it would refuse: which rule, of which kind, on which statement. Null when allowed. */
  refusal: z
    .object({
      rule: z.string(),
      /** guardrail: an admin's rule; strict_masking: a masked column used; built_in: the gateway's own. */
      kind: z.enum(['guardrail', 'strict_masking', 'built_in']),
      statement: z.string(),
      reason: z.string(),
    })
    .nullable(),
  /** The sample result as the client would receive it (null without a sample or when refused). */
  result: z
    .object({
      columns: z.array(
        z.object({
          name: z.string(),
          type: z.string(),
          /** What happens to the column: clear, masked (by rule), nulled (by rule) or scanned by value rules. */
          treatment: z.enum(['clear', 'masked', 'nulled', 'scanned']),
          rules: z.array(z.string()),
        }),
      ),
      rows: z.array(z.array(z.string().nullable())),
    })
    .nullable(),
  /** Things the trial could not know, e.g. type names no built-in type has, or the target's views. */
  notes: z.array(z.string()),
});
export type PolicyTryResult = z.infer<typeof policyTryResultSchema>;

// ---------------------------------------------------------------------------------------------
// The audit log (issue #14): admin actions, access decisions, requests and their decisions

/** An instant in a query: an ISO time, or a duration back from now (`2h`, `7d`). */
const instantSchema = z.string().transform((text, ctx) => {
  const ago = parseDurationSeconds(text);
  if (ago !== undefined) return { agoSeconds: ago } as const;
  const at = Date.parse(text);
  if (/^\d{4}-\d\d-\d\d/.test(text) && Number.isFinite(at)) return { at } as const;
  ctx.addIssue({
    code: 'custom',
    message: 'an ISO time (2026-01-31T12:00:00Z) or a duration (2h)',
  });
  return z.NEVER;
});
export type Instant = z.output<typeof instantSchema>;

export const auditListQuerySchema = z.strictObject({
  /** Words anywhere in the action, target, actor's name or details. */
  q: z.string().max(200).optional(),
  /** A user id or username. */
  actor: z.string().max(128).optional(),
  /** An action, or its prefix before a dot (`session` for `session.allowed`, …). */
  action: z.string().max(64).optional(),
  since: instantSchema.optional(),
  until: instantSchema.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  /** The `nextCursor` of the previous page. */
  cursor: z
    .string()
    .regex(/^\d{1,15}$/, 'the nextCursor of the previous page')
    .optional(),
});
export type AuditListQuery = z.input<typeof auditListQuerySchema>;

export const auditEntrySchema = z.object({
  seq: z.number().int().min(1),
  time: isoTime,
  /** Null for the gateway itself. */
  actor: z.object({ id: z.string(), name: z.string() }).nullable(),
  /** `admin.<route>`, `session.allowed|refused|terminate`, `request.create|approve|deny`, `grant.issued`. */
  action: z.string(),
  target: z.string(),
  outcome: z.string(),
  details: z.record(z.string(), z.unknown()),
  /** The chain hash after this entry (hex). */
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof auditEntrySchema>;
export const auditListSchema = z.object({
  /** Newest first. */
  entries: z.array(auditEntrySchema),
  /** Pass as `cursor` for the next (older) page; null on the last page. */
  nextCursor: z.string().nullable(),
});
export type AuditList = z.infer<typeof auditListSchema>;
