/**
 * IdentityStore over Kysely, for SQLite and PostgreSQL alike.
 *
 * The transitions several gateway replicas can race on (consumeEnrollment, markAuthTokenUsed)
 * are each ONE conditional UPDATE whose WHERE clause re-checks the precondition, so the
 * database decides the winner: a second replica's UPDATE matches no row. `RETURNING *`
 * (SQLite ≥ 3.35 and PostgreSQL) returns the row this statement wrote, not a later read that
 * could observe someone else's change.
 */
import type { Insertable, Kysely, Selectable, Updateable } from 'kysely';
import type {
  AuthTokenRecord,
  EnrollmentRecord,
  IdentityStore,
  NewUser,
  UserPatch,
  UserRecord,
} from './identityStore.ts';
import type { AuthTokensTable, Database, EnrollmentsTable, UsersTable } from './migrations.ts';
import { asConflict } from './storeConflictError.ts';
import { parseJson, type StoreConnection } from './storeConnection.ts';

export class KyselyIdentityStore implements IdentityStore {
  private readonly db: Kysely<Database>;

  constructor(connection: StoreConnection) {
    this.db = connection.db;
  }

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

  async spendEnrollmentsOfUser(userId: string, now: number): Promise<void> {
    await this.db
      .updateTable('enrollments')
      .set({ used_at: now })
      .where('user_id', '=', userId)
      .where('used_at', 'is', null)
      .execute();
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
}

// ---------------------------------------------------------------------------------------------

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
