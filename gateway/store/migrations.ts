/**
 * The gateway's schema, defined once for SQLite and PostgreSQL.
 *
 * One query set has to work on both dialects, so the schema sticks to types both read back the
 * same way through their drivers:
 * - times are `bigint` epoch milliseconds (SQLite stores them as INTEGER; the PostgreSQL pool
 *   parses int8 to a JS number, see openStore.ts);
 * - booleans are `integer` 0/1;
 * - structured values (labels, target, groups, selector, secret fields) are JSON in `text`,
 *   serialised by the aggregates' Kysely stores (kysely*Store.ts).
 *
 * Migrations are append-only: never edit one that has shipped, add the next `000N_…`.
 */
import {
  type Generated,
  type Kysely,
  type Migration,
  type MigrationProvider,
  SqliteAdapter,
  sql,
} from 'kysely';
import type { AuthTokenKind, UserRole } from './identityStore.ts';
import { textHash } from './indexedText.ts';
import type {
  RecordingAccessAction,
  RecordingProtocol,
  RecordingStatus,
  RecordingStorageKind,
} from './recordingStore.ts';
import type { RecordingTextKind } from './recordingTextStore.ts';
import type { SessionState } from './sessionStore.ts';

// ---------------------------------------------------------------------------------------------
// Row types as the query builder sees them (snake_case columns, JSON as text, booleans as 0/1).

export interface UsersTable {
  id: string;
  username: string;
  role: UserRole;
  /** JSON string[] */
  groups: string;
  /** 0 or 1 */
  disabled: number;
  password_hash: string | null;
  totp_secret: string | null;
  totp_pending_secret: string | null;
  totp_last_step: number | null;
  failed_logins: number;
  locked_until: number | null;
  created_at: number;
}

export interface EnrollmentsTable {
  token_hash: string;
  user_id: string;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

export interface AuthTokensTable {
  token_hash: string;
  kind: AuthTokenKind;
  user_id: string;
  family_id: string;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
  created_at: number;
}

export interface ResourcesTable {
  id: string;
  name: string;
  description: string;
  kind: 'ssh' | 'postgres';
  /** JSON Record<string, string> */
  labels: string;
  /** JSON object */
  target: string;
  secret_ciphertext: string | null;
  /** JSON string[] */
  secret_fields: string;
  /** JSON DatabasePolicy (masking and guardrail rules), added in 0003. */
  policy: string;
  created_at: number;
  updated_at: number;
}

export interface GrantsTable {
  id: string;
  subject_kind: 'user' | 'group';
  subject: string;
  target_kind: 'resource' | 'labels';
  resource_id: string | null;
  /** JSON Record<string, string>, or null */
  selector: string | null;
  mode: 'standing' | 'approval';
  valid_from: number | null;
  valid_until: number | null;
  max_session_seconds: number;
  description: string;
  /** JSON DatabasePolicy, added in 0003. */
  policy: string;
  created_by: string;
  created_at: number;
  /** JSON `{ users: string[], groups: string[] }`: who may approve requests (0007). */
  approvers: string;
  /** How many distinct approvers must approve a request under this grant (0007). */
  approvals_required: number;
  /** The access request this time-boxed grant was issued for, or null (0007). */
  request_id: string | null;
}

export type AccessRequestState = 'pending' | 'approved' | 'denied';

/** An engineer's request for time-boxed access under an approval-required grant (0007). */
export interface AccessRequestsTable {
  id: string;
  user_id: string;
  resource_id: string;
  /** The approval-required grant that lets the user ask. */
  grant_id: string;
  reason: string;
  duration_seconds: number;
  approvals_required: number;
  state: AccessRequestState;
  created_at: number;
  decided_at: number | null;
  /** The time-boxed grant an approval issued, once approved. */
  issued_grant_id: string | null;
}

/** One approver's decision on one request; the primary key makes each approver count once. */
export interface AccessRequestDecisionsTable {
  request_id: string;
  approver_id: string;
  decision: 'approve' | 'deny';
  comment: string;
  created_at: number;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  resource_id: string;
  grant_id: string;
  state: SessionState;
  ticket_hash: string;
  ticket_expires_at: number;
  ticket_used_at: number | null;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  expires_at: number;
  end_reason: string | null;
  /** The access request whose grant enabled this session, or null (0007). */
  request_id: string | null;
  /** JSON: the machine identity and its token's claims that opened the session (0010). */
  principal: string | null;
}

export interface RecordingsTable {
  session_id: string;
  user_id: string;
  resource_id: string;
  protocol: RecordingProtocol;
  status: RecordingStatus;
  /** Gateway instance that writes (or wrote) it; only that instance may mark it interrupted. */
  owner: string;
  storage: RecordingStorageKind;
  started_at: number;
  ended_at: number | null;
  frames: number;
  bytes: number;
  last_checkpoint_seq: number;
  last_checkpoint_at: number | null;
  failure_reason: string | null;
  /** 0004: the gateway's last verification verdict ('verified' | 'partial' | 'failed'). */
  last_verification: 'verified' | 'partial' | 'failed' | null;
  last_verification_seq: number | null;
  last_verification_at: number | null;
  /**
   * 0006: the rest of that verdict as JSON ({firstBadSeq, message, signed}), so a list can say
   * why and compare the row with what was signed without verifying again (issue #12).
   */
  last_verification_detail: string | null;
}

/** 0011 (issue #16): a finished recording's seek table, written once (JSON of SeekTable). */
export interface RecordingSeekTablesTable {
  session_id: string;
  table_json: string;
}

export interface RecordingChunksTable {
  session_id: string;
  chunk_no: number;
  /** bytea on PostgreSQL, blob on SQLite; both drivers read and write a Buffer. */
  data: Buffer;
}

export interface RecordingAccessTable {
  id: string;
  /** Nullable since 0004 (a search reads no one recording). */
  session_id: string | null;
  user_id: string;
  action: RecordingAccessAction;
  at: number;
  /** 0004: what was asked for (a search's query), JSON or null. */
  detail: string | null;
}

/**
 * Text derived from recordings for full-text search: one row per occurrence (0004; since 0005
 * it points at its text in indexed_texts instead of holding it).
 */
export interface RecordingTextTable {
  id: Generated<number>;
  session_id: string;
  seq: number;
  time: number;
  channel: number;
  kind: RecordingTextKind;
  /** 0005: indexed_texts.id */
  text_id: number;
  /** 0009: a query's constants as a JSON array when indexed_texts holds its shape, else null. */
  literals: string | null;
}

/** 0009: each word of an occurrence's constants, for finding a constant (storedText.ts). */
export interface LiteralWordsTable {
  occurrence_id: number;
  word: string;
}

/**
 * 0005: each distinct derived text once, keyed by the SHA-256 of its UTF-8 (indexedText.ts).
 * On PostgreSQL `terms` (not in this type: only raw SQL writes it) is the tsvector of the
 * text's words, GIN-indexed; on SQLite the FTS5 table `indexed_texts_fts` indexes `text`.
 */
export interface IndexedTextsTable {
  id: Generated<number>;
  hash: string;
  text: string;
}

/** SQLite only: the FTS5 index over indexed_texts (rowid = indexed_texts.id). */
export interface IndexedTextsFtsTable {
  rowid: number;
  text: string;
}

/** One entry of the audit log's chain (0008). Hashes are hex; `details` is JSON text. */
export interface AuditEntriesTable {
  seq: number;
  time: number;
  actor_id: string | null;
  actor_name: string | null;
  action: string;
  target: string;
  outcome: string;
  details: string;
  prev_hash: string;
  hash: string;
}

/** A signed checkpoint over the audit chain (0008); the signature is base64. */
export interface AuditCheckpointsTable {
  seq: number;
  hash: string;
  time: number;
  key_id: string;
  signature: string;
}

/** OpenID Connect providers (0010); `client_secret` sealed, `scopes` JSON string[]. */
export interface OidcProvidersTable {
  id: string;
  name: string;
  display_name: string;
  issuer: string;
  client_id: string;
  client_secret: string;
  scopes: string;
  groups_claim: string;
  created_at: number;
  updated_at: number;
}

/** A sign-in under way with a provider (0010), keyed by the SHA-256 of its `state`. */
export interface OidcLoginsTable {
  state_hash: string;
  provider_id: string;
  code_verifier: string;
  nonce: string;
  client_redirect_uri: string;
  client_state: string;
  client_code_challenge: string;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

/** A one-time code for a client's loopback redirect (0010), keyed by its SHA-256. */
export interface OidcCodesTable {
  code_hash: string;
  user_id: string;
  provider_id: string;
  subject: string;
  client_redirect_uri: string;
  client_code_challenge: string;
  provider_refresh_token: string | null;
  expires_at: number;
  used_at: number | null;
  created_at: number;
}

/** Which Witness user a provider's subject is (0010). */
export interface OidcIdentitiesTable {
  provider_id: string;
  subject: string;
  user_id: string;
  created_at: number;
}

/** The provider behind a Witness sign-in (a refresh-token family) (0010). */
export interface OidcSignInsTable {
  family_id: string;
  user_id: string;
  provider_id: string;
  subject: string;
  provider_refresh_token: string | null;
  checked_at: number;
  created_at: number;
}

/** Machine identities (0010, issue #18); `claims` JSON Record<string, string>. */
export interface MachineIdentitiesTable {
  id: string;
  name: string;
  user_id: string;
  issuer: string;
  audience: string;
  claims: string;
  created_at: number;
}

/** Workload tokens already exchanged, by issuer and jti, until they expire (0010). */
export interface MachineTokenUsesTable {
  issuer: string;
  jti: string;
  expires_at: number;
}

/** The token behind a machine's sign-in (0010); `claims` JSON. */
export interface MachineSignInsTable {
  family_id: string;
  identity_id: string;
  claims: string;
  created_at: number;
}

/** One piece of the cluster's identity (issue #17), its secret half sealed by the caller. */
export interface ClusterSecretsTable {
  name: string;
  /** The half anyone may see (a CA certificate, a public key), or null. */
  public_part: string | null;
  /** secretBox envelope under the replicas' sealing key; the store never sees it open. */
  sealed: string;
  created_at: number;
}

export interface Database {
  users: UsersTable;
  enrollments: EnrollmentsTable;
  auth_tokens: AuthTokensTable;
  resources: ResourcesTable;
  grants: GrantsTable;
  access_requests: AccessRequestsTable;
  access_request_decisions: AccessRequestDecisionsTable;
  sessions: SessionsTable;
  recordings: RecordingsTable;
  recording_chunks: RecordingChunksTable;
  recording_seek_tables: RecordingSeekTablesTable;
  recording_access: RecordingAccessTable;
  recording_text: RecordingTextTable;
  indexed_texts: IndexedTextsTable;
  indexed_texts_fts: IndexedTextsFtsTable;
  literal_words: LiteralWordsTable;
  audit_entries: AuditEntriesTable;
  audit_checkpoints: AuditCheckpointsTable;
  oidc_providers: OidcProvidersTable;
  oidc_logins: OidcLoginsTable;
  oidc_codes: OidcCodesTable;
  oidc_identities: OidcIdentitiesTable;
  oidc_sign_ins: OidcSignInsTable;
  machine_identities: MachineIdentitiesTable;
  machine_token_uses: MachineTokenUsesTable;
  machine_sign_ins: MachineSignInsTable;
  cluster_secrets: ClusterSecretsTable;
  gateway_events: GatewayEventsTable;
  gateway_leases: GatewayLeasesTable;
  login_address_attempts: LoginAddressAttemptsTable;
}

/**
 * 0013, PostgreSQL only: the event bus's catch-up log (events/postgresEventBus.ts). `id` is a
 * bigserial; publishers serialize on an advisory lock, so ids commit in increasing order.
 */
export interface GatewayEventsTable {
  id: Generated<number>;
  kind: string;
  /** The event as JSON (events/gatewayEvents.ts). */
  payload: string;
  created_at: number;
}

/** 0013: each live gateway replica's heartbeat (recorder/replicaLease.ts, issue #17). */
export interface GatewayLeasesTable {
  instance_id: string;
  expires_at: number;
  renewed_at: number;
}

/** 0013: sign-in attempts per client address in the current window (auth/loginThrottle.ts). */
export interface LoginAddressAttemptsTable {
  address: string;
  window_start: number;
  attempts: number;
}

// ---------------------------------------------------------------------------------------------
// Migrations

/**
 * `ifNotExists` everywhere in 0001: Kysely does not run SQLite migrations in a transaction, so
 * if a process died between creating the tables and recording the migration, the next start
 * re-runs it (openStore.ts also wraps SQLite migration in BEGIN IMMEDIATE, so this is a second
 * line of defence).
 */
const initial: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('users')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('role', 'text', (c) => c.notNull())
      .addColumn('groups', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('disabled', 'integer', (c) =>
        c.notNull().defaultTo(0).check(sql`disabled in (0, 1)`),
      )
      .addColumn('password_hash', 'text')
      .addColumn('totp_secret', 'text')
      .addColumn('totp_pending_secret', 'text')
      .addColumn('totp_last_step', 'bigint')
      .addColumn('failed_logins', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('locked_until', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('users_username_unique', ['username'])
      .execute();

    await db.schema
      .createTable('enrollments')
      .ifNotExists()
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('enrollments_user_idx')
      .ifNotExists()
      .on('enrollments')
      .column('user_id')
      .execute();

    await db.schema
      .createTable('auth_tokens')
      .ifNotExists()
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('kind', 'text', (c) => c.notNull().check(sql`kind in ('access', 'refresh')`))
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('family_id', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('auth_tokens_family_idx')
      .ifNotExists()
      .on('auth_tokens')
      .column('family_id')
      .execute();
    await db.schema
      .createIndex('auth_tokens_user_idx')
      .ifNotExists()
      .on('auth_tokens')
      .column('user_id')
      .execute();
    await db.schema
      .createIndex('auth_tokens_expires_idx')
      .ifNotExists()
      .on('auth_tokens')
      .column('expires_at')
      .execute();

    await db.schema
      .createTable('resources')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('labels', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('secret_ciphertext', 'text')
      .addColumn('secret_fields', 'text', (c) => c.notNull().defaultTo('[]'))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addUniqueConstraint('resources_name_unique', ['name'])
      .execute();

    // Grants die with their resource (the FK is the backstop; KyselyCatalogStore.deleteResource
    // also deletes them explicitly so it does not depend on SQLite's per-connection
    // foreign_keys).
    await db.schema
      .createTable('grants')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('subject_kind', 'text', (c) =>
        c.notNull().check(sql`subject_kind in ('user', 'group')`),
      )
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('target_kind', 'text', (c) =>
        c.notNull().check(sql`target_kind in ('resource', 'labels')`),
      )
      .addColumn('resource_id', 'text', (c) => c.references('resources.id').onDelete('cascade'))
      .addColumn('selector', 'text')
      .addColumn('mode', 'text', (c) => c.notNull())
      .addColumn('valid_from', 'bigint')
      .addColumn('valid_until', 'bigint')
      .addColumn('max_session_seconds', 'integer', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addCheckConstraint(
        'grants_target_check',
        sql`(target_kind = 'resource' and resource_id is not null) or (target_kind = 'labels' and selector is not null)`,
      )
      .execute();
    await db.schema
      .createIndex('grants_resource_idx')
      .ifNotExists()
      .on('grants')
      .column('resource_id')
      .execute();
    await db.schema
      .createIndex('grants_subject_idx')
      .ifNotExists()
      .on('grants')
      .columns(['subject_kind', 'subject'])
      .execute();

    // Sessions are audit history: no foreign keys to resources or grants, so deleting either
    // leaves the session rows (and their recordings) intact.
    await db.schema
      .createTable('sessions')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
      .addColumn('resource_id', 'text', (c) => c.notNull())
      .addColumn('grant_id', 'text', (c) => c.notNull())
      .addColumn('state', 'text', (c) =>
        c.notNull().check(sql`state in ('pending', 'live', 'ended')`),
      )
      .addColumn('ticket_hash', 'text', (c) => c.notNull())
      .addColumn('ticket_expires_at', 'bigint', (c) => c.notNull())
      .addColumn('ticket_used_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('started_at', 'bigint')
      .addColumn('ended_at', 'bigint')
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('end_reason', 'text')
      .execute();
    await db.schema
      .createIndex('sessions_user_idx')
      .ifNotExists()
      .on('sessions')
      .columns(['user_id', 'created_at'])
      .execute();
    await db.schema
      .createIndex('sessions_resource_idx')
      .ifNotExists()
      .on('sessions')
      .columns(['resource_id', 'created_at'])
      .execute();
    await db.schema
      .createIndex('sessions_state_idx')
      .ifNotExists()
      .on('sessions')
      .columns(['state', 'created_at'])
      .execute();
    await db.schema
      .createIndex('sessions_created_idx')
      .ifNotExists()
      .on('sessions')
      .column('created_at')
      .execute();
  },

  async down(db: Kysely<unknown>) {
    for (const table of [
      'sessions',
      'grants',
      'resources',
      'auth_tokens',
      'enrollments',
      'users',
    ]) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};

/**
 * Recording metadata, the recording bytes of the PostgreSQL deployment, and the audit trail of
 * who fetched or exported a recording (DESIGN.md: "who watched which recording is itself
 * audited"). Like sessions, none of these has a foreign key to users or resources: they are
 * history and outlive what they refer to.
 */
const recordings: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('recordings')
      .ifNotExists()
      .addColumn('session_id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('resource_id', 'text', (c) => c.notNull())
      .addColumn('protocol', 'text', (c) => c.notNull().check(sql`protocol in ('ssh', 'postgres')`))
      .addColumn('status', 'text', (c) =>
        c.notNull().check(sql`status in ('recording', 'complete', 'interrupted', 'failed')`),
      )
      .addColumn('owner', 'text', (c) => c.notNull())
      .addColumn('storage', 'text', (c) =>
        c.notNull().check(sql`storage in ('segments', 'database')`),
      )
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .addColumn('ended_at', 'bigint')
      .addColumn('frames', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('bytes', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('last_checkpoint_seq', 'bigint', (c) => c.notNull().defaultTo(0))
      .addColumn('last_checkpoint_at', 'bigint')
      .addColumn('failure_reason', 'text')
      .execute();
    for (const [name, columns] of [
      ['recordings_user_idx', ['user_id', 'started_at']],
      ['recordings_resource_idx', ['resource_id', 'started_at']],
      ['recordings_started_idx', ['started_at']],
      // startup recovery: this instance's unfinished recordings
      ['recordings_owner_status_idx', ['owner', 'status']],
    ] as const) {
      await db.schema
        .createIndex(name)
        .ifNotExists()
        .on('recordings')
        .columns([...columns])
        .execute();
    }

    // One row per chunk of at most 1 MiB, read back in pages in chunk_no order, so a large
    // recording is never loaded by one query. SQLite names the binary type blob.
    const binary = db.getExecutor().adapter instanceof SqliteAdapter ? 'blob' : 'bytea';
    await db.schema
      .createTable('recording_chunks')
      .ifNotExists()
      .addColumn('session_id', 'text', (c) => c.notNull())
      .addColumn('chunk_no', 'integer', (c) => c.notNull())
      .addColumn('data', binary, (c) => c.notNull())
      .addPrimaryKeyConstraint('recording_chunks_pk', ['session_id', 'chunk_no'])
      .execute();

    await db.schema
      .createTable('recording_access')
      .ifNotExists()
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('session_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('action', 'text', (c) =>
        c.notNull().check(sql`action in ('stream', 'export_cast', 'export_bundle')`),
      )
      .addColumn('at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('recording_access_session_idx')
      .ifNotExists()
      .on('recording_access')
      .columns(['session_id', 'at'])
      .execute();
    await db.schema
      .createIndex('recording_access_user_idx')
      .ifNotExists()
      .on('recording_access')
      .columns(['user_id', 'at'])
      .execute();
  },

  async down(db: Kysely<unknown>) {
    for (const table of ['recording_access', 'recording_chunks', 'recordings']) {
      await db.schema.dropTable(table).ifExists().execute();
    }
  },
};

/** Masking and guardrail policy on resources and grants (PostgreSQL proxy, issue #4). */
const databasePolicy: Migration = {
  async up(db: Kysely<unknown>) {
    for (const table of ['resources', 'grants']) {
      await db.schema
        .alterTable(table)
        .addColumn('policy', 'text', (c) => c.notNull().defaultTo(EMPTY_POLICY_JSON))
        .execute();
    }
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['resources', 'grants']) {
      await db.schema.alterTable(table).dropColumn('policy').execute();
    }
  },
};

/**
 * Full-text search inside recordings (issue #6), the last verification verdict on recordings,
 * and more audited actions (live watch, search, jsonl export).
 *
 * The index is derived text (search/recordingTextDeriver.ts), written as the recorder writes
 * (after each checkpoint), so a search never scans recordings. SQLite: an FTS5 table with
 * external content, unicode61 tokenizer without diacritic folding and `detail=none` (no
 * phrase queries are made, so positions would only cost space). PostgreSQL: a tsvector column
 * of the words, built in the gateway (array_to_tsvector of the same words SQLite's tokenizer
 * sees) so both stores split text alike whatever the database's text search configuration,
 * with a GIN index.
 *
 * recording_access's action check is widened and session_id made nullable. PostgreSQL alters
 * the table; SQLite cannot alter a check constraint, so the table is rebuilt (inside the
 * migration's transaction, see openStore.ts).
 */
const recordingSearch: Migration = {
  async up(db: Kysely<unknown>) {
    const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
    for (const [column, type] of [
      ['last_verification', 'text'],
      ['last_verification_seq', 'bigint'],
      ['last_verification_at', 'bigint'],
    ] as const) {
      await db.schema.alterTable('recordings').addColumn(column, type).execute();
    }

    const textTable = db.schema
      .createTable('recording_text')
      .addColumn('id', sqlite ? 'integer' : 'bigserial', (c) =>
        sqlite ? c.primaryKey().autoIncrement() : c.primaryKey(),
      )
      .addColumn('session_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'bigint', (c) => c.notNull())
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('channel', 'integer', (c) => c.notNull())
      .addColumn('kind', 'text', (c) =>
        c.notNull().check(sql`kind in ('input', 'output', 'command', 'query')`),
      )
      .addColumn('text', 'text', (c) => c.notNull());
    await (sqlite
      ? textTable
      : textTable.addColumn('terms', sql`tsvector`, (c) => c.notNull())
    ).execute();
    await db.schema
      .createIndex('recording_text_session_idx')
      .on('recording_text')
      .columns(['session_id', 'seq'])
      .execute();
    if (sqlite) {
      await sql`create virtual table recording_text_fts using fts5(text, content='recording_text', content_rowid='id', tokenize='unicode61 remove_diacritics 0', detail=none)`.execute(
        db,
      );
      await sql`create trigger recording_text_fts_insert after insert on recording_text begin insert into recording_text_fts(rowid, text) values (new.id, new.text); end`.execute(
        db,
      );
      await sql`create trigger recording_text_fts_delete after delete on recording_text begin insert into recording_text_fts(recording_text_fts, rowid, text) values ('delete', old.id, old.text); end`.execute(
        db,
      );
    } else {
      await sql`create index recording_text_terms_idx on recording_text using gin (terms)`.execute(
        db,
      );
    }

    const actions = sql.raw(
      "'stream', 'live', 'search', 'export_cast', 'export_bundle', 'export_jsonl'",
    );
    if (sqlite) {
      await db.schema
        .createTable('recording_access_0004')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('session_id', 'text')
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('action', 'text', (c) => c.notNull().check(sql`action in (${actions})`))
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('detail', 'text')
        .execute();
      await sql`insert into recording_access_0004 (id, session_id, user_id, action, at) select id, session_id, user_id, action, at from recording_access`.execute(
        db,
      );
      await db.schema.dropTable('recording_access').execute();
      await sql`alter table recording_access_0004 rename to recording_access`.execute(db);
      for (const [name, column] of [
        ['recording_access_session_idx', 'session_id'],
        ['recording_access_user_idx', 'user_id'],
      ] as const) {
        await db.schema.createIndex(name).on('recording_access').columns([column, 'at']).execute();
      }
    } else {
      // PostgreSQL names an unnamed column check <table>_<column>_check.
      await sql`alter table recording_access drop constraint recording_access_action_check`.execute(
        db,
      );
      await sql`alter table recording_access add constraint recording_access_action_check check (action in (${actions}))`.execute(
        db,
      );
      await sql`alter table recording_access alter column session_id drop not null`.execute(db);
      await db.schema.alterTable('recording_access').addColumn('detail', 'text').execute();
    }
  },
};

/**
 * Each distinct derived text stored once (issue #11): a statement a client runs a million
 * times was a million copies of its text, each tokenized and indexed. Now `indexed_texts`
 * holds each text once, keyed by its hash, with the full-text index over it, and
 * `recording_text` keeps one small row per occurrence pointing at it. Occurrence ids (the
 * search's paging positions) are kept.
 *
 * PostgreSQL moves the texts in SQL (its sha256() gives the same key as indexedText.ts);
 * SQLite has no hash function, so the gateway hashes while copying the table in pages, inside
 * the migration's transaction (openStore.ts), then swaps the new table in.
 */
const distinctTexts: Migration = {
  async up(db: Kysely<unknown>) {
    if (db.getExecutor().adapter instanceof SqliteAdapter) {
      await distinctTextsOnSqlite(db as Kysely<DistinctTextsMigrationTables>);
      return;
    }
    await sql`create table indexed_texts (id bigserial primary key, hash text not null, text text not null, terms tsvector not null, constraint indexed_texts_hash_unique unique (hash))`.execute(
      db,
    );
    await sql`create index indexed_texts_terms_idx on indexed_texts using gin (terms)`.execute(db);
    await sql`insert into indexed_texts (hash, text, terms) select encode(sha256(convert_to(text, 'UTF8')), 'hex'), text, terms from recording_text order by id on conflict (hash) do nothing`.execute(
      db,
    );
    await sql`alter table recording_text add column text_id bigint references indexed_texts (id)`.execute(
      db,
    );
    await sql`update recording_text set text_id = indexed_texts.id from indexed_texts where indexed_texts.hash = encode(sha256(convert_to(recording_text.text, 'UTF8')), 'hex')`.execute(
      db,
    );
    await sql`alter table recording_text alter column text_id set not null`.execute(db);
    // Dropping terms drops its GIN index too.
    await sql`alter table recording_text drop column text, drop column terms`.execute(db);
    await sql`create index recording_text_text_idx on recording_text (text_id)`.execute(db);
  },
};

/** The tables as 0005 sees them on SQLite: the 0004 occurrence table and the new ones. */
interface DistinctTextsMigrationTables {
  recording_text: {
    id: number;
    session_id: string;
    seq: number;
    time: number;
    channel: number;
    kind: string;
    text: string;
  };
  recording_text_0005: Omit<DistinctTextsMigrationTables['recording_text'], 'text'> & {
    text_id: number;
  };
  indexed_texts: { id: Generated<number>; hash: string; text: string };
  sqlite_sequence: { name: string; seq: number };
}

async function distinctTextsOnSqlite(db: Kysely<DistinctTextsMigrationTables>): Promise<void> {
  await sql`drop trigger recording_text_fts_insert`.execute(db);
  await sql`drop trigger recording_text_fts_delete`.execute(db);
  await sql`drop table recording_text_fts`.execute(db);
  await sql`create table indexed_texts (id integer primary key autoincrement, hash text not null, text text not null, constraint indexed_texts_hash_unique unique (hash))`.execute(
    db,
  );
  await sql`create virtual table indexed_texts_fts using fts5(text, content='indexed_texts', content_rowid='id', tokenize='unicode61 remove_diacritics 0', detail=none)`.execute(
    db,
  );
  await sql`create trigger indexed_texts_fts_insert after insert on indexed_texts begin insert into indexed_texts_fts(rowid, text) values (new.id, new.text); end`.execute(
    db,
  );
  await sql`create trigger indexed_texts_fts_delete after delete on indexed_texts begin insert into indexed_texts_fts(indexed_texts_fts, rowid, text) values ('delete', old.id, old.text); end`.execute(
    db,
  );
  await sql`create table recording_text_0005 (id integer primary key autoincrement, session_id text not null, seq bigint not null, time bigint not null, channel integer not null, kind text not null check (kind in ('input', 'output', 'command', 'query')), text_id integer not null references indexed_texts (id))`.execute(
    db,
  );

  const page = 500;
  for (let after = 0; ; ) {
    const rows = await db
      .selectFrom('recording_text')
      .selectAll()
      .where('id', '>', after)
      .orderBy('id')
      .limit(page)
      .execute();
    if (rows.length === 0) break;
    after = rows[rows.length - 1]?.id ?? after;
    const hashes = new Map(rows.map((row) => [textHash(row.text), row.text]));
    await db
      .insertInto('indexed_texts')
      .values([...hashes].map(([hash, text]) => ({ hash, text })))
      .onConflict((oc) => oc.column('hash').doNothing())
      .execute();
    const ids = new Map(
      (
        await db
          .selectFrom('indexed_texts')
          .select(['id', 'hash'])
          .where('hash', 'in', [...hashes.keys()])
          .execute()
      ).map(({ id, hash }) => [hash, id]),
    );
    await db
      .insertInto('recording_text_0005')
      .values(
        rows.map(({ text, ...occurrence }) => ({
          ...occurrence,
          text_id: ids.get(textHash(text)) as number,
        })),
      )
      .execute();
  }

  // AUTOINCREMENT never reuses an id; carry the old table's high-water mark over, so an id a
  // client holds as a paging position keeps meaning what it meant.
  const sequence = await db
    .selectFrom('sqlite_sequence')
    .select('seq')
    .where('name', '=', 'recording_text')
    .executeTakeFirst();
  await sql`drop table recording_text`.execute(db);
  await sql`alter table recording_text_0005 rename to recording_text`.execute(db);
  if (sequence !== undefined) {
    await db.deleteFrom('sqlite_sequence').where('name', '=', 'recording_text').execute();
    await db
      .insertInto('sqlite_sequence')
      .values({ name: 'recording_text', seq: sequence.seq })
      .execute();
  }
  await sql`create index recording_text_session_idx on recording_text (session_id, seq)`.execute(
    db,
  );
  await sql`create index recording_text_text_idx on recording_text (text_id)`.execute(db);
}

/**
 * 0006 (issue #12): the last verdict's detail beside its status — its message, first bad seq and
 * what the signed content said (user, resource, protocol, times, closed) — so the list shows why
 * a recording failed and flags a row edited after it was checked, without reading its bytes.
 */
const verdictDetail: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('recordings')
      .addColumn('last_verification_detail', 'text')
      .execute();
  },
};

/**
 * 0007 (issue #14): just-in-time access. Grants name their approvers and how many approvals a
 * request needs, and a time-boxed grant names the request it was issued for; requests and each
 * approver's decision get their own tables; a session names the request that enabled it.
 */
const accessRequests: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('grants')
      .addColumn('approvers', 'text', (c) => c.notNull().defaultTo(NO_APPROVERS_JSON))
      .execute();
    await db.schema
      .alterTable('grants')
      .addColumn('approvals_required', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
    await db.schema.alterTable('grants').addColumn('request_id', 'text').execute();
    // One issued grant per request, whatever the interleaving of approvers (NULLs don't clash).
    await db.schema
      .createIndex('grants_request_id')
      .on('grants')
      .column('request_id')
      .unique()
      .execute();
    await db.schema.alterTable('sessions').addColumn('request_id', 'text').execute();
    await db.schema
      .createTable('access_requests')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('resource_id', 'text', (c) => c.notNull())
      .addColumn('grant_id', 'text', (c) => c.notNull())
      .addColumn('reason', 'text', (c) => c.notNull())
      .addColumn('duration_seconds', 'integer', (c) => c.notNull())
      .addColumn('approvals_required', 'integer', (c) => c.notNull())
      .addColumn('state', 'text', (c) =>
        c.notNull().check(sql`state in ('pending', 'approved', 'denied')`),
      )
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('decided_at', 'bigint')
      .addColumn('issued_grant_id', 'text')
      .execute();
    await db.schema
      .createIndex('access_requests_user')
      .on('access_requests')
      .columns(['user_id', 'created_at'])
      .execute();
    await db.schema
      .createTable('access_request_decisions')
      .addColumn('request_id', 'text', (c) =>
        c.notNull().references('access_requests.id').onDelete('cascade'),
      )
      .addColumn('approver_id', 'text', (c) => c.notNull())
      .addColumn('decision', 'text', (c) => c.notNull().check(sql`decision in ('approve', 'deny')`))
      .addColumn('comment', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('access_request_decisions_pk', ['request_id', 'approver_id'])
      .execute();
  },
};

/**
 * 0008 (issue #14): the audit log, a hash chain of admin actions, access decisions and
 * requests, and the signed checkpoints over it. `seq` is the primary key, so two appends that
 * raced past the lock would still not both land at one place in the chain.
 */
const auditLog: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('audit_entries')
      .addColumn('seq', 'bigint', (c) => c.primaryKey())
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('actor_id', 'text')
      .addColumn('actor_name', 'text')
      .addColumn('action', 'text', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('outcome', 'text', (c) => c.notNull())
      .addColumn('details', 'text', (c) => c.notNull())
      .addColumn('prev_hash', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('audit_entries_time').on('audit_entries').column('time').execute();
    await db.schema
      .createIndex('audit_entries_actor')
      .on('audit_entries')
      .columns(['actor_id', 'seq'])
      .execute();
    await db.schema
      .createIndex('audit_entries_action')
      .on('audit_entries')
      .columns(['action', 'seq'])
      .execute();
    await db.schema
      .createTable('audit_checkpoints')
      .addColumn('seq', 'bigint', (c) => c.primaryKey())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('time', 'bigint', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('signature', 'text', (c) => c.notNull())
      .execute();
  },
};

/**
 * 0009 (issue #11, statement shapes): a query is indexed as its shape (constants replaced by a
 * placeholder, statementShape.ts), stored once in indexed_texts; each occurrence keeps its own
 * constants (`recording_text.literals`, JSON, null for texts stored whole) and their words go
 * to `literal_words`, plain B-tree rows instead of a full-text insert per new text. Keyed by
 * occurrence first, so a pgbench run appends to it; the word index answers a search for a
 * constant. No foreign key: derived rows, deleted with their occurrences by the stores, and a
 * key check per row is what this table exists to save. Texts indexed before stay whole and are
 * found as before; re-indexing a recording stores its queries as shapes.
 */
const statementShapes: Migration = {
  async up(db: Kysely<unknown>) {
    const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
    await db.schema.alterTable('recording_text').addColumn('literals', 'text').execute();
    if (sqlite) {
      await sql`create table literal_words (occurrence_id integer not null, word text not null, primary key (occurrence_id, word)) without rowid`.execute(
        db,
      );
    } else {
      // Byte order (C), so a word prefix is a range the B-tree answers, as on SQLite.
      await sql`create table literal_words (occurrence_id bigint not null, word text collate "C" not null, primary key (occurrence_id, word))`.execute(
        db,
      );
    }
    await sql`create index literal_words_word_idx on literal_words (word, occurrence_id)`.execute(
      db,
    );
  },
};

/**
 * 0010 (issue #18): OpenID Connect sign-in. Providers, the sign-ins under way (state and PKCE
 * kept by the gateway, single use), the one-time codes for clients' loopback redirects, the
 * provider accounts linked to users, and the provider's refresh token behind each sign-in.
 */
const oidcSignIn: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('oidc_providers')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('display_name', 'text', (c) => c.notNull())
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('client_secret', 'text', (c) => c.notNull())
      .addColumn('scopes', 'text', (c) => c.notNull())
      .addColumn('groups_claim', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('oidc_logins')
      .addColumn('state_hash', 'text', (c) => c.primaryKey())
      .addColumn('provider_id', 'text', (c) => c.notNull())
      .addColumn('code_verifier', 'text', (c) => c.notNull())
      .addColumn('nonce', 'text', (c) => c.notNull())
      .addColumn('client_redirect_uri', 'text', (c) => c.notNull())
      .addColumn('client_state', 'text', (c) => c.notNull())
      .addColumn('client_code_challenge', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('oidc_codes')
      .addColumn('code_hash', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('provider_id', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('client_redirect_uri', 'text', (c) => c.notNull())
      .addColumn('client_code_challenge', 'text', (c) => c.notNull())
      .addColumn('provider_refresh_token', 'text')
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('oidc_identities')
      .addColumn('provider_id', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('oidc_identities_pk', ['provider_id', 'subject'])
      .execute();
    await db.schema
      .createTable('oidc_sign_ins')
      .addColumn('family_id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('provider_id', 'text', (c) => c.notNull())
      .addColumn('subject', 'text', (c) => c.notNull())
      .addColumn('provider_refresh_token', 'text')
      .addColumn('checked_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex('oidc_sign_ins_user')
      .on('oidc_sign_ins')
      .column('user_id')
      .execute();
    // Machine identities: CI jobs exchange their workload token, once, for minutes of access.
    await db.schema
      .createTable('machine_identities')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('audience', 'text', (c) => c.notNull())
      .addColumn('claims', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('machine_token_uses')
      .addColumn('issuer', 'text', (c) => c.notNull())
      .addColumn('jti', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('machine_token_uses_pk', ['issuer', 'jti'])
      .execute();
    await db.schema
      .createTable('machine_sign_ins')
      .addColumn('family_id', 'text', (c) => c.primaryKey())
      .addColumn('identity_id', 'text', (c) => c.notNull())
      .addColumn('claims', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    // The principal that opened a session, beyond its user: a machine identity and the claims
    // of its workload token (JSON), carried into the signed session-start frame.
    await db.schema.alterTable('sessions').addColumn('principal', 'text').execute();
  },
};

/**
 * 0011 (issue #16): each finished recording's seek table (where every checkpoint and the stretch
 * after it lie in the stored stream), written by the recorder when the recording ends and by the
 * API for older recordings the first time one is asked for, so no gateway scans a recording
 * twice. Its own table, not a column of `recordings`: a table can be megabytes of JSON, and
 * lists read whole rows.
 */
const seekTables: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('recording_seek_tables')
      .addColumn('session_id', 'text', (c) => c.primaryKey())
      .addColumn('table_json', 'text', (c) => c.notNull())
      .execute();
  },
};

/**
 * 0012 (issue #17): the identity every replica on one PostgreSQL database serves with (CA,
 * client CA, SSH host key, master key, recording keys by generation), sealed by a key each
 * replica gets from its environment. The primary key on `name` is what makes creation
 * race-safe: two replicas starting at once both insert with ON CONFLICT DO NOTHING and then
 * read back the one row that won. Created on SQLite too (one schema), where it stays empty.
 */
const clusterSecrets: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('cluster_secrets')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('public_part', 'text')
      .addColumn('sealed', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
  },
};

/**
 * 0013 (issue #17): what several replicas on one database share — the event bus's log, each
 * replica's lease, and the sign-in limiter per address, which lived in one process's memory.
 */
const replicas: Migration = {
  async up(db: Kysely<unknown>) {
    const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
    if (!sqlite) {
      await sql`create table gateway_events (id bigserial primary key, kind text not null, payload text not null, created_at bigint not null)`.execute(
        db,
      );
      await sql`create index gateway_events_created_at_idx on gateway_events (created_at)`.execute(
        db,
      );
    }
    await db.schema
      .createTable('gateway_leases')
      .addColumn('instance_id', 'text', (c) => c.primaryKey())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('renewed_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('login_address_attempts')
      .addColumn('address', 'text', (c) => c.primaryKey())
      .addColumn('window_start', 'bigint', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull())
      .execute();
  },
};

export const EMPTY_POLICY_JSON = '{"masking":[],"guardrails":[]}';
export const NO_APPROVERS_JSON = '{"users":[],"groups":[]}';

/** Every migration, in order. Names sort lexically, which is the order Kysely applies them. */
export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '0001_initial': initial,
  '0002_recordings': recordings,
  '0003_database_policy': databasePolicy,
  '0004_recording_search': recordingSearch,
  '0005_distinct_texts': distinctTexts,
  '0006_verdict_detail': verdictDetail,
  '0007_access_requests': accessRequests,
  '0008_audit_log': auditLog,
  '0009_statement_shapes': statementShapes,
  '0010_oidc_sign_in': oidcSignIn,
  '0011_seek_tables': seekTables,
  '0012_cluster_secrets': clusterSecrets,
  '0013_replicas': replicas,
});

/** In-code provider, so migrations ship inside the bundle with no directory to find at runtime. */
export const migrationProvider: MigrationProvider = {
  async getMigrations() {
    return { ...migrations };
  },
};
