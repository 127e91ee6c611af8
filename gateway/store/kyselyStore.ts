/**
 * The one `Store` implementation, over Kysely, for both SQLite and PostgreSQL.
 *
 * Every query here must mean the same on both dialects; the schema conventions that make that
 * possible are in migrations.ts. The state transitions that several gateway replicas can race
 * on (consumeEnrollment, markAuthTokenUsed, redeemTicket, endSession) are each ONE conditional
 * UPDATE whose WHERE clause re-checks the precondition, so the database decides the winner:
 * a second replica's UPDATE matches no row. They use `RETURNING *` (SQLite ≥ 3.35 and
 * PostgreSQL both support it) so the returned row is the one this statement wrote, not a
 * later read that could observe someone else's change.
 */
import {
  type Expression,
  type ExpressionBuilder,
  type Insertable,
  type Kysely,
  type Selectable,
  type SqlBool,
  sql,
  type Updateable,
} from 'kysely';
import type { DatabasePolicy } from '../../shared/api/apiSchemas.ts';
import { MAX_INDEXED_WORD_LENGTH, searchWords } from '../search/searchTerms.ts';
import type {
  AuthTokensTable,
  Database,
  EnrollmentsTable,
  GrantsTable,
  RecordingAccessTable,
  RecordingsTable,
  ResourcesTable,
  SessionsTable,
  UsersTable,
} from './migrations.ts';
import {
  type AuthTokenRecord,
  type EnrollmentRecord,
  type GrantPatch,
  type GrantRecord,
  type NewRecording,
  type NewUser,
  type RecordingAccessFilter,
  type RecordingAccessRecord,
  type RecordingChunk,
  type RecordingEnd,
  type RecordingFilter,
  type RecordingMetadata,
  type RecordingProgress,
  type RecordingTextEntry,
  type RecordingTextHit,
  type RecordingTextSearch,
  type RecordingVerificationSummary,
  type ResourcePatch,
  type ResourceRecord,
  type SessionFilter,
  type SessionRecord,
  type Store,
  StoreConflictError,
  type StoreKind,
  type UserPatch,
  type UserRecord,
} from './store.ts';

export class KyselyStore implements Store {
  constructor(
    readonly kind: StoreKind,
    private readonly db: Kysely<Database>,
  ) {}

  // -------------------------------------------------------------------------------------------
  // Users

  async createUser(user: NewUser): Promise<UserRecord> {
    const row: Insertable<UsersTable> = {
      id: user.id,
      username: user.username,
      role: user.role,
      groups: JSON.stringify(user.groups),
      disabled: 0,
      password_hash: user.passwordHash,
      totp_secret: null,
      totp_pending_secret: null,
      totp_last_step: null,
      failed_logins: 0,
      locked_until: null,
      created_at: user.createdAt,
    };
    try {
      const inserted = await this.db
        .insertInto('users')
        .values(row)
        .returningAll()
        .executeTakeFirstOrThrow();
      return userFromRow(inserted);
    } catch (error) {
      throw asConflict(error, {
        'users.username': `a user named "${user.username}" already exists; choose another username`,
        'users.id': `a user with id ${user.id} already exists`,
      });
    }
  }

  async getUserById(id: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && userFromRow(row);
  }

  async getUserByUsername(username: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
    return row && userFromRow(row);
  }

  async listUsers(): Promise<UserRecord[]> {
    const rows = await this.db.selectFrom('users').selectAll().orderBy('username').execute();
    return rows.map(userFromRow);
  }

  async updateUser(id: string, patch: UserPatch): Promise<UserRecord | undefined> {
    const set: Updateable<UsersTable> = {};
    if (patch.role !== undefined) set.role = patch.role;
    if (patch.groups !== undefined) set.groups = JSON.stringify(patch.groups);
    if (patch.disabled !== undefined) set.disabled = patch.disabled ? 1 : 0;
    if (patch.passwordHash !== undefined) set.password_hash = patch.passwordHash;
    if (patch.totpSecret !== undefined) set.totp_secret = patch.totpSecret;
    if (patch.totpPendingSecret !== undefined) set.totp_pending_secret = patch.totpPendingSecret;
    if (patch.totpLastStep !== undefined) set.totp_last_step = patch.totpLastStep;
    if (patch.failedLogins !== undefined) set.failed_logins = patch.failedLogins;
    if (patch.lockedUntil !== undefined) set.locked_until = patch.lockedUntil;
    if (Object.keys(set).length === 0) return this.getUserById(id);
    const row = await this.db
      .updateTable('users')
      .set(set)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && userFromRow(row);
  }

  // -------------------------------------------------------------------------------------------
  // Enrollments

  async createEnrollment(enrollment: EnrollmentRecord): Promise<void> {
    try {
      await this.db
        .insertInto('enrollments')
        .values({
          token_hash: enrollment.tokenHash,
          user_id: enrollment.userId,
          expires_at: enrollment.expiresAt,
          used_at: enrollment.usedAt,
          created_at: enrollment.createdAt,
        })
        .execute();
    } catch (error) {
      throw asConflict(error, { 'enrollments.token_hash': 'this enrollment token already exists' });
    }
  }

  async consumeEnrollment(tokenHash: string, now: number): Promise<EnrollmentRecord | undefined> {
    const row = await this.db
      .updateTable('enrollments')
      .set({ used_at: now })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .returningAll()
      .executeTakeFirst();
    return row && enrollmentFromRow(row);
  }

  // -------------------------------------------------------------------------------------------
  // Access and refresh tokens

  async insertAuthToken(token: AuthTokenRecord): Promise<void> {
    try {
      await this.db
        .insertInto('auth_tokens')
        .values({
          token_hash: token.tokenHash,
          kind: token.kind,
          user_id: token.userId,
          family_id: token.familyId,
          expires_at: token.expiresAt,
          used_at: token.usedAt,
          revoked_at: token.revokedAt,
          created_at: token.createdAt,
        })
        .execute();
    } catch (error) {
      throw asConflict(error, { 'auth_tokens.token_hash': 'this token already exists' });
    }
  }

  async getAuthToken(tokenHash: string): Promise<AuthTokenRecord | undefined> {
    const row = await this.db
      .selectFrom('auth_tokens')
      .selectAll()
      .where('token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row && authTokenFromRow(row);
  }

  async markAuthTokenUsed(tokenHash: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('auth_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async revokeAuthTokenFamily(familyId: string, now: number): Promise<void> {
    // Keep the first revocation time: it dates the leak.
    await this.db
      .updateTable('auth_tokens')
      .set({ revoked_at: now })
      .where('family_id', '=', familyId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async revokeAuthTokensOfUser(userId: string, now: number): Promise<void> {
    await this.db
      .updateTable('auth_tokens')
      .set({ revoked_at: now })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async deleteExpiredAuthTokens(now: number): Promise<number> {
    // Used and revoked tokens stay until they expire: a replayed used refresh token must still
    // be recognised (and revoke its family) for as long as it would otherwise have worked.
    const result = await this.db
      .deleteFrom('auth_tokens')
      .where('expires_at', '<=', now)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  // -------------------------------------------------------------------------------------------
  // Resources

  async createResource(resource: ResourceRecord): Promise<void> {
    try {
      await this.db.insertInto('resources').values(resourceToRow(resource)).execute();
    } catch (error) {
      throw asConflict(error, {
        'resources.name': `a resource named "${resource.name}" already exists; choose another name`,
        'resources.id': `a resource with id ${resource.id} already exists`,
      });
    }
  }

  async getResource(id: string): Promise<ResourceRecord | undefined> {
    const row = await this.db
      .selectFrom('resources')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && resourceFromRow(row);
  }

  async getResourceByName(name: string): Promise<ResourceRecord | undefined> {
    const row = await this.db
      .selectFrom('resources')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row && resourceFromRow(row);
  }

  async listResources(): Promise<ResourceRecord[]> {
    const rows = await this.db.selectFrom('resources').selectAll().orderBy('name').execute();
    return rows.map(resourceFromRow);
  }

  async updateResource(id: string, patch: ResourcePatch): Promise<ResourceRecord | undefined> {
    const set: Updateable<ResourcesTable> = { updated_at: patch.updatedAt };
    if (patch.name !== undefined) set.name = patch.name;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.kind !== undefined) set.kind = patch.kind;
    if (patch.labels !== undefined) set.labels = JSON.stringify(patch.labels);
    if (patch.target !== undefined) set.target = JSON.stringify(patch.target);
    if (patch.secretCiphertext !== undefined) set.secret_ciphertext = patch.secretCiphertext;
    if (patch.secretFields !== undefined) set.secret_fields = JSON.stringify(patch.secretFields);
    if (patch.policy !== undefined) set.policy = JSON.stringify(patch.policy);
    try {
      const row = await this.db
        .updateTable('resources')
        .set(set)
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst();
      return row && resourceFromRow(row);
    } catch (error) {
      throw asConflict(error, {
        'resources.name': `a resource named "${patch.name}" already exists; choose another name`,
      });
    }
  }

  async deleteResource(id: string): Promise<boolean> {
    // Grants that target the resource go with it; sessions stay as history. The explicit
    // delete makes this independent of foreign-key enforcement being on (SQLite's is a
    // per-connection pragma); the FK's ON DELETE CASCADE is the backstop.
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('grants').where('resource_id', '=', id).execute();
      const result = await trx.deleteFrom('resources').where('id', '=', id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    });
  }

  // -------------------------------------------------------------------------------------------
  // Grants

  async createGrant(grant: GrantRecord): Promise<void> {
    try {
      await this.db
        .insertInto('grants')
        .values({
          id: grant.id,
          subject_kind: grant.subjectKind,
          subject: grant.subject,
          target_kind: grant.targetKind,
          resource_id: grant.resourceId,
          selector: grant.selector === null ? null : JSON.stringify(grant.selector),
          mode: grant.mode,
          valid_from: grant.validFrom,
          valid_until: grant.validUntil,
          max_session_seconds: grant.maxSessionSeconds,
          description: grant.description,
          policy: JSON.stringify(grant.policy),
          created_by: grant.createdBy,
          created_at: grant.createdAt,
        })
        .execute();
    } catch (error) {
      throw asConflict(error, { 'grants.id': `a grant with id ${grant.id} already exists` });
    }
  }

  async getGrant(id: string): Promise<GrantRecord | undefined> {
    const row = await this.db
      .selectFrom('grants')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && grantFromRow(row);
  }

  async listGrants(): Promise<GrantRecord[]> {
    const rows = await this.db
      .selectFrom('grants')
      .selectAll()
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map(grantFromRow);
  }

  async updateGrant(id: string, patch: GrantPatch): Promise<GrantRecord | undefined> {
    const set: Updateable<GrantsTable> = {};
    if (patch.mode !== undefined) set.mode = patch.mode;
    if (patch.validFrom !== undefined) set.valid_from = patch.validFrom;
    if (patch.validUntil !== undefined) set.valid_until = patch.validUntil;
    if (patch.maxSessionSeconds !== undefined) set.max_session_seconds = patch.maxSessionSeconds;
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.policy !== undefined) set.policy = JSON.stringify(patch.policy);
    if (Object.keys(set).length === 0) return this.getGrant(id);
    const row = await this.db
      .updateTable('grants')
      .set(set)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && grantFromRow(row);
  }

  async deleteGrant(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('grants').where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  // -------------------------------------------------------------------------------------------
  // Sessions

  async createSession(session: SessionRecord): Promise<void> {
    try {
      await this.db
        .insertInto('sessions')
        .values({
          id: session.id,
          user_id: session.userId,
          resource_id: session.resourceId,
          grant_id: session.grantId,
          state: session.state,
          ticket_hash: session.ticketHash,
          ticket_expires_at: session.ticketExpiresAt,
          ticket_used_at: session.ticketUsedAt,
          created_at: session.createdAt,
          started_at: session.startedAt,
          ended_at: session.endedAt,
          expires_at: session.expiresAt,
          end_reason: session.endReason,
        })
        .execute();
    } catch (error) {
      throw asConflict(error, { 'sessions.id': `a session with id ${session.id} already exists` });
    }
  }

  async getSession(id: string): Promise<SessionRecord | undefined> {
    const row = await this.db
      .selectFrom('sessions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && sessionFromRow(row);
  }

  async listSessions(filter: SessionFilter): Promise<SessionRecord[]> {
    let query = this.db.selectFrom('sessions').selectAll();
    if (filter.state !== undefined) query = query.where('state', '=', filter.state);
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    if (filter.resourceId !== undefined) query = query.where('resource_id', '=', filter.resourceId);
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(Math.max(0, Math.floor(filter.limit)))
      .execute();
    return rows.map(sessionFromRow);
  }

  async redeemTicket(
    sessionId: string,
    ticketHash: string,
    now: number,
  ): Promise<SessionRecord | undefined> {
    const row = await this.db
      .updateTable('sessions')
      .set({ ticket_used_at: now, state: 'live', started_at: now })
      .where('id', '=', sessionId)
      .where('ticket_hash', '=', ticketHash)
      .where('ticket_used_at', 'is', null)
      .where('ticket_expires_at', '>', now)
      .where('state', '=', 'pending')
      .returningAll()
      .executeTakeFirst();
    return row && sessionFromRow(row);
  }

  async endSession(id: string, reason: string, now: number): Promise<SessionRecord | undefined> {
    const row = await this.db
      .updateTable('sessions')
      .set({ state: 'ended', ended_at: now, end_reason: reason })
      .where('id', '=', id)
      .where('state', '!=', 'ended')
      .returningAll()
      .executeTakeFirst();
    return row && sessionFromRow(row);
  }

  async endOpenSessions(
    match: { grantId: string } | { resourceId: string } | { userId: string },
    reason: string,
    now: number,
  ): Promise<SessionRecord[]> {
    const [column, value] =
      'grantId' in match
        ? (['grant_id', match.grantId] as const)
        : 'resourceId' in match
          ? (['resource_id', match.resourceId] as const)
          : (['user_id', match.userId] as const);
    const rows = await this.db
      .updateTable('sessions')
      .set({ state: 'ended', ended_at: now, end_reason: reason })
      .where(column, '=', value)
      .where('state', '!=', 'ended')
      .returningAll()
      .execute();
    return rows.map(sessionFromRow);
  }

  // -------------------------------------------------------------------------------------------
  // Recordings

  async createRecording(recording: NewRecording): Promise<RecordingMetadata> {
    try {
      const row = await this.db
        .insertInto('recordings')
        .values({
          session_id: recording.sessionId,
          user_id: recording.userId,
          resource_id: recording.resourceId,
          protocol: recording.protocol,
          status: 'recording',
          owner: recording.owner,
          storage: recording.storage,
          started_at: recording.startedAt,
          ended_at: null,
          frames: 0,
          bytes: 0,
          last_checkpoint_seq: 0,
          last_checkpoint_at: null,
          failure_reason: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      return recordingFromRow(row);
    } catch (error) {
      throw asConflict(error, {
        'recordings.session_id': `session ${recording.sessionId} already has a recording`,
      });
    }
  }

  async getRecording(sessionId: string): Promise<RecordingMetadata | undefined> {
    const row = await this.db
      .selectFrom('recordings')
      .selectAll()
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    return row && recordingFromRow(row);
  }

  async listRecordings(filter: RecordingFilter): Promise<RecordingMetadata[]> {
    const rows = await this.db
      .selectFrom('recordings')
      .selectAll()
      .where((eb) => recordingConditions(eb, filter))
      .orderBy('started_at', 'desc')
      .orderBy('session_id', 'desc')
      .limit(Math.max(0, Math.floor(filter.limit)))
      .execute();
    return rows.map(recordingFromRow);
  }

  async recordRecordingVerification(
    sessionId: string,
    verification: RecordingVerificationSummary,
  ): Promise<void> {
    await this.db
      .updateTable('recordings')
      .set({
        last_verification: verification.status,
        last_verification_seq: verification.verifiedThroughSeq,
        last_verification_at: verification.at,
      })
      .where('session_id', '=', sessionId)
      .execute();
  }

  async updateRecordingProgress(sessionId: string, progress: RecordingProgress): Promise<boolean> {
    const result = await this.db
      .updateTable('recordings')
      .set(progressToRow(progress))
      .where('session_id', '=', sessionId)
      .where('status', '=', 'recording')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async finishRecording(
    sessionId: string,
    end: RecordingEnd,
  ): Promise<RecordingMetadata | undefined> {
    const row = await this.db
      .updateTable('recordings')
      .set({
        status: end.status,
        ended_at: end.endedAt,
        failure_reason: end.failureReason ?? null,
        ...(end.progress ? progressToRow(end.progress) : {}),
      })
      .where('session_id', '=', sessionId)
      .where('status', '=', 'recording')
      .returningAll()
      .executeTakeFirst();
    return row && recordingFromRow(row);
  }

  async markUnfinishedRecordingsInterrupted(owner: string, now: number): Promise<string[]> {
    const rows = await this.db
      .updateTable('recordings')
      .set((eb) => ({
        status: 'interrupted',
        // The last moment the recording is known to have been written.
        ended_at: eb.fn.coalesce('last_checkpoint_at', 'started_at'),
        failure_reason: `The gateway stopped while recording (found at its restart, ${new Date(now).toISOString()}); the recording verifies up to its last checkpoint.`,
      }))
      .where('owner', '=', owner)
      .where('status', '=', 'recording')
      .returning('session_id')
      .execute();
    return rows.map((row) => row.session_id).sort();
  }

  async appendRecordingChunk(sessionId: string, chunkNo: number, data: Uint8Array): Promise<void> {
    try {
      await this.db
        .insertInto('recording_chunks')
        .values({
          session_id: sessionId,
          chunk_no: chunkNo,
          // better-sqlite3 binds a Buffer, not a bare Uint8Array; this view copies nothing.
          data: Buffer.isBuffer(data)
            ? data
            : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        })
        .execute();
    } catch (error) {
      const message = `chunk ${chunkNo} of the recording of ${sessionId} is already stored`;
      // SQLite names the first column of the composite key, PostgreSQL lists both.
      throw asConflict(error, {
        'recording_chunks.session_id': message,
        'recording_chunks.session_id, chunk_no': message,
      });
    }
  }

  async listRecordingChunks(
    sessionId: string,
    afterChunkNo: number,
    limit: number,
  ): Promise<RecordingChunk[]> {
    const rows = await this.db
      .selectFrom('recording_chunks')
      .select(['chunk_no', 'data'])
      .where('session_id', '=', sessionId)
      .where('chunk_no', '>', afterChunkNo)
      .orderBy('chunk_no')
      .limit(Math.max(0, Math.floor(limit)))
      .execute();
    return rows.map((row) => ({ chunkNo: row.chunk_no, data: row.data }));
  }

  async insertRecordingText(entries: readonly RecordingTextEntry[]): Promise<void> {
    const rows = entries
      .map((entry) => ({ entry, text: storableText(entry.text) }))
      .map(({ entry, text }) => ({
        entry: { ...entry, text },
        words: searchWords(text).filter((word) => word.length <= MAX_INDEXED_WORD_LENGTH),
      }))
      .filter((row) => row.words.length > 0);
    if (rows.length === 0) return;
    await this.db.transaction().execute(async (tx) => {
      for (let start = 0; start < rows.length; start += TEXT_ROWS_PER_INSERT) {
        const batch = rows.slice(start, start + TEXT_ROWS_PER_INSERT);
        if (this.kind === 'postgres') {
          // The words, not to_tsvector: the same words SQLite's tokenizer indexes (migrations.ts).
          const values = batch.map(
            ({ entry, words }) =>
              sql`(${entry.sessionId}, ${entry.seq}, ${entry.time}, ${entry.channel}, ${entry.kind}, ${entry.text}, array_to_tsvector(${words}::text[]))`,
          );
          await sql`insert into recording_text (session_id, seq, time, channel, kind, text, terms) values ${sql.join(values)}`.execute(
            tx,
          );
        } else {
          await tx
            .insertInto('recording_text')
            .values(
              batch.map(({ entry }) => ({
                session_id: entry.sessionId,
                seq: entry.seq,
                time: entry.time,
                channel: entry.channel,
                kind: entry.kind,
                text: entry.text,
              })),
            )
            .execute();
        }
      }
    });
  }

  async searchRecordingText(search: RecordingTextSearch): Promise<RecordingTextHit[]> {
    const terms = search.terms.filter((term) => /^[\p{L}\p{N}]+$/u.test(term));
    if (terms.length === 0 || search.limit <= 0) return [];
    const limit = Math.floor(search.limit);
    const columns = [
      'recording_text.id as text_id',
      'recording_text.seq',
      'recording_text.time',
      'recording_text.channel',
      'recording_text.kind',
      'recording_text.text',
    ] as const;
    let rows: (Selectable<RecordingsTable> & TextColumns)[];
    if (this.kind === 'postgres') {
      rows = await this.searchPostgres(terms, search, limit, columns);
    } else {
      // FTS5 drives the join in rowid order, newest first, and stops at the limit.
      const match = terms.map((term) => `"${term}"*`).join(' AND ');
      let query = this.db
        .selectFrom('recording_text_fts')
        .innerJoin('recording_text', 'recording_text.id', 'recording_text_fts.rowid')
        .innerJoin('recordings', 'recordings.session_id', 'recording_text.session_id')
        .selectAll('recordings')
        .select(columns)
        .where(sql<boolean>`recording_text_fts match ${match}`)
        .where((eb) => recordingConditions(onRecordings(eb), search.filter));
      if (search.beforeId !== undefined) {
        query = query.where('recording_text_fts.rowid', '<', search.beforeId);
      }
      rows = await query.orderBy('recording_text_fts.rowid', 'desc').limit(limit).execute();
    }
    return rows.map((row) => ({
      id: row.text_id,
      sessionId: row.session_id,
      seq: row.seq,
      time: row.time,
      channel: row.channel,
      kind: row.kind,
      text: row.text,
      recording: recordingFromRow(row),
    }));
  }

  /**
   * PostgreSQL cannot estimate how many rows a prefix tsquery matches (it assumes a fixed
   * share), so left alone it either walks the whole primary key backwards filtering every row
   * (fine for a common word, a full scan for a rare one) or reads every match through the GIN
   * index before sorting (fine for a rare word, slow for a common one). So the search is made
   * in two steps whose cost is bounded either way:
   * 1. the newest SEARCH_WINDOW_ROWS rows by primary key, the match tested on each (the
   *    `= true` form keeps the planner off the GIN index here): a common word fills the page
   *    from these;
   * 2. if the page is not full, the older rows through the GIN index (`id + 0` keeps it off
   *    the backward primary-key scan): what is left is a rare word, whose matches are few.
   */
  private async searchPostgres(
    terms: string[],
    search: RecordingTextSearch,
    limit: number,
    columns: readonly TextColumnSelection[],
  ): Promise<(Selectable<RecordingsTable> & TextColumns)[]> {
    const tsquery = terms.map((term) => `'${term}':*`).join(' & ');
    const newest =
      search.beforeId !== undefined
        ? search.beforeId - 1
        : ((
            await this.db
              .selectFrom('recording_text')
              .select((eb) => eb.fn.max('id').as('max'))
              .executeTakeFirst()
          )?.max ?? 0);
    const windowStart = newest - SEARCH_WINDOW_ROWS;
    const base = () =>
      this.db
        .selectFrom('recording_text')
        .innerJoin('recordings', 'recordings.session_id', 'recording_text.session_id')
        .selectAll('recordings')
        .select(columns)
        .where((eb) => recordingConditions(onRecordings(eb), search.filter));
    const recent = await base()
      .where(sql<boolean>`(recording_text.terms @@ ${tsquery}::tsquery) = true`)
      .where('recording_text.id', '<=', newest)
      .where('recording_text.id', '>', windowStart)
      .orderBy('recording_text.id', 'desc')
      .limit(limit)
      .execute();
    if (recent.length >= limit || windowStart <= 0) return recent;
    const older = await base()
      .where(sql<boolean>`recording_text.terms @@ ${tsquery}::tsquery`)
      .where('recording_text.id', '<=', windowStart)
      .orderBy(sql`recording_text.id + 0`, 'desc')
      .limit(limit - recent.length)
      .execute();
    return [...recent, ...older];
  }

  async deleteRecordingText(sessionId: string): Promise<number> {
    // On SQLite a trigger removes the rows from the FTS5 index too (migrations.ts).
    const result = await this.db
      .deleteFrom('recording_text')
      .where('session_id', '=', sessionId)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async listRecordingText(sessionId: string): Promise<RecordingTextEntry[]> {
    const rows = await this.db
      .selectFrom('recording_text')
      .select(['session_id', 'seq', 'time', 'channel', 'kind', 'text'])
      .where('session_id', '=', sessionId)
      .orderBy('seq')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      sessionId: row.session_id,
      seq: row.seq,
      time: row.time,
      channel: row.channel,
      kind: row.kind,
      text: row.text,
    }));
  }

  async insertRecordingAccess(access: RecordingAccessRecord): Promise<void> {
    try {
      await this.db
        .insertInto('recording_access')
        .values({
          id: access.id,
          session_id: access.sessionId,
          user_id: access.userId,
          action: access.action,
          at: access.at,
          detail: access.detail ?? null,
        })
        .execute();
    } catch (error) {
      throw asConflict(error, { 'recording_access.id': `access ${access.id} is already stored` });
    }
  }

  async listRecordingAccess(filter: RecordingAccessFilter): Promise<RecordingAccessRecord[]> {
    let query = this.db.selectFrom('recording_access').selectAll();
    if (filter.sessionId !== undefined) query = query.where('session_id', '=', filter.sessionId);
    if (filter.userId !== undefined) query = query.where('user_id', '=', filter.userId);
    const rows = await query
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(Math.max(0, Math.floor(filter.limit)))
      .execute();
    return rows.map(recordingAccessFromRow);
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// Row ↔ record mapping

function userFromRow(row: Selectable<UsersTable>): UserRecord {
  return {
    id: row.id,
    username: row.username,
    role: row.role,
    groups: parseJson<string[]>(row.groups),
    disabled: row.disabled !== 0,
    passwordHash: row.password_hash,
    totpSecret: row.totp_secret,
    totpPendingSecret: row.totp_pending_secret,
    totpLastStep: row.totp_last_step,
    failedLogins: row.failed_logins,
    lockedUntil: row.locked_until,
    createdAt: row.created_at,
  };
}

function enrollmentFromRow(row: Selectable<EnrollmentsTable>): EnrollmentRecord {
  return {
    tokenHash: row.token_hash,
    userId: row.user_id,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    createdAt: row.created_at,
  };
}

function authTokenFromRow(row: Selectable<AuthTokensTable>): AuthTokenRecord {
  return {
    tokenHash: row.token_hash,
    kind: row.kind,
    userId: row.user_id,
    familyId: row.family_id,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    revokedAt: row.revoked_at,
    createdAt: row.created_at,
  };
}

function resourceToRow(resource: ResourceRecord): Insertable<ResourcesTable> {
  return {
    id: resource.id,
    name: resource.name,
    description: resource.description,
    kind: resource.kind,
    labels: JSON.stringify(resource.labels),
    target: JSON.stringify(resource.target),
    secret_ciphertext: resource.secretCiphertext,
    secret_fields: JSON.stringify(resource.secretFields),
    policy: JSON.stringify(resource.policy),
    created_at: resource.createdAt,
    updated_at: resource.updatedAt,
  };
}

function resourceFromRow(row: Selectable<ResourcesTable>): ResourceRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    kind: row.kind,
    labels: parseJson<Record<string, string>>(row.labels),
    target: parseJson<Record<string, unknown>>(row.target),
    secretCiphertext: row.secret_ciphertext,
    secretFields: parseJson<string[]>(row.secret_fields),
    policy: parseJson<DatabasePolicy>(row.policy),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function grantFromRow(row: Selectable<GrantsTable>): GrantRecord {
  return {
    id: row.id,
    subjectKind: row.subject_kind,
    subject: row.subject,
    targetKind: row.target_kind,
    resourceId: row.resource_id,
    selector: row.selector === null ? null : parseJson<Record<string, string>>(row.selector),
    mode: row.mode,
    validFrom: row.valid_from,
    validUntil: row.valid_until,
    maxSessionSeconds: row.max_session_seconds,
    description: row.description,
    policy: parseJson<DatabasePolicy>(row.policy),
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

function sessionFromRow(row: Selectable<SessionsTable>): SessionRecord {
  return {
    id: row.id,
    userId: row.user_id,
    resourceId: row.resource_id,
    grantId: row.grant_id,
    state: row.state,
    ticketHash: row.ticket_hash,
    ticketExpiresAt: row.ticket_expires_at,
    ticketUsedAt: row.ticket_used_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    expiresAt: row.expires_at,
    endReason: row.end_reason,
  };
}

function recordingFromRow(row: Selectable<RecordingsTable>): RecordingMetadata {
  return {
    sessionId: row.session_id,
    userId: row.user_id,
    resourceId: row.resource_id,
    protocol: row.protocol,
    status: row.status,
    owner: row.owner,
    storage: row.storage,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    frames: row.frames,
    bytes: row.bytes,
    lastCheckpointSeq: row.last_checkpoint_seq,
    lastCheckpointAt: row.last_checkpoint_at,
    failureReason: row.failure_reason,
    lastVerification:
      row.last_verification === null
        ? null
        : {
            status: row.last_verification,
            verifiedThroughSeq: row.last_verification_seq ?? 0,
            at: row.last_verification_at ?? 0,
          },
  };
}

interface TextColumns {
  text_id: number;
  seq: number;
  time: number;
  channel: number;
  kind: RecordingTextEntry['kind'];
  text: string;
}

/** PostgreSQL search, step 1: how many of the newest index rows are tested one by one. */
const SEARCH_WINDOW_ROWS = 20_000;

type TextColumnSelection =
  | 'recording_text.id as text_id'
  | 'recording_text.seq'
  | 'recording_text.time'
  | 'recording_text.channel'
  | 'recording_text.kind'
  | 'recording_text.text';

/** Rows per INSERT statement of derived text (well under both drivers' parameter limits). */
const TEXT_ROWS_PER_INSERT = 200;

/**
 * A join's expression builder narrowed to the `recordings` table it contains; the conditions
 * use only fully qualified `recordings.*` columns, so they mean the same in the join.
 */
function onRecordings<TB extends keyof Database>(
  eb: ExpressionBuilder<Database, TB | 'recordings'>,
): ExpressionBuilder<Database, 'recordings'> {
  return eb as unknown as ExpressionBuilder<Database, 'recordings'>;
}

/** PostgreSQL text cannot hold NUL; derived text never needs it. */
function storableText(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '') : text;
}

/**
 * The list filters as one condition on the `recordings` table, for the list and for search
 * (where recordings is joined to the index).
 */
function recordingConditions(
  eb: ExpressionBuilder<Database, 'recordings'>,
  filter: Omit<RecordingFilter, 'limit'>,
): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [];
  if (filter.userId !== undefined) conditions.push(eb('recordings.user_id', '=', filter.userId));
  if (filter.resourceId !== undefined) {
    conditions.push(eb('recordings.resource_id', '=', filter.resourceId));
  }
  switch (filter.status) {
    case undefined:
      break;
    case 'verified':
      conditions.push(eb('recordings.last_verification', '=', 'verified'));
      break;
    case 'failed':
      conditions.push(
        eb.or([
          eb('recordings.status', '=', 'failed'),
          eb('recordings.last_verification', '=', 'failed'),
        ]),
      );
      break;
    default:
      conditions.push(eb('recordings.status', '=', filter.status));
  }
  if (filter.protocol !== undefined) {
    conditions.push(eb('recordings.protocol', '=', filter.protocol));
  }
  if (filter.from !== undefined) conditions.push(eb('recordings.started_at', '>=', filter.from));
  if (filter.to !== undefined) conditions.push(eb('recordings.started_at', '<=', filter.to));
  const after = filter.after;
  if (after !== undefined) {
    conditions.push(
      eb.or([
        eb('recordings.started_at', '<', after.startedAt),
        eb.and([
          eb('recordings.started_at', '=', after.startedAt),
          eb('recordings.session_id', '<', after.sessionId),
        ]),
      ]),
    );
  }
  return eb.and(conditions);
}

function progressToRow(progress: RecordingProgress): Updateable<RecordingsTable> {
  return {
    frames: progress.frames,
    bytes: progress.bytes,
    last_checkpoint_seq: progress.lastCheckpointSeq,
    last_checkpoint_at: progress.lastCheckpointAt,
  };
}

function recordingAccessFromRow(row: Selectable<RecordingAccessTable>): RecordingAccessRecord {
  return {
    id: row.id,
    sessionId: row.session_id,
    userId: row.user_id,
    action: row.action,
    at: row.at,
    detail: row.detail,
  };
}

/** JSON columns are only ever written by this module, so their shape is trusted. */
function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

// ---------------------------------------------------------------------------------------------
// Unique-violation translation

/**
 * Turns a driver's unique-constraint error into a StoreConflictError with a message a person
 * can act on; any other error is returned unchanged (the caller rethrows it).
 * `messages` maps `table.column` to the message for that clash.
 */
function asConflict(error: unknown, messages: Record<string, string>): unknown {
  const conflict = uniqueViolation(error);
  if (conflict === undefined) return error;
  const message = messages[conflict] ?? `already exists (${conflict})`;
  return new StoreConflictError(message, conflict, { cause: error });
}

/** `table.column` of a unique/primary-key violation, `unknown` if unnamed, else undefined. */
function uniqueViolation(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  // better-sqlite3: "UNIQUE constraint failed: users.username"
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    const match = /constraint failed: ([\w.]+)/.exec(String(message));
    return match?.[1] ?? 'unknown';
  }
  // PostgreSQL unique_violation, https://www.postgresql.org/docs/15/errcodes-appendix.html;
  // detail reads "Key (username)=(alice) already exists."
  if (code === '23505') {
    const { table, detail } = error as { table?: unknown; detail?: unknown };
    const column = /^Key \(([^)]+)\)=/.exec(String(detail))?.[1];
    return typeof table === 'string' && column ? `${table}.${column}` : 'unknown';
  }
  return undefined;
}
