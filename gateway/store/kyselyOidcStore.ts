/**
 * OidcStore over Kysely, for SQLite and PostgreSQL alike. Single use of a state or a code is
 * one conditional UPDATE (`used_at is null`), so two replicas cannot both accept one.
 */
import type { Kysely, Selectable, Updateable } from 'kysely';
import type {
  Database,
  OidcCodesTable,
  OidcLoginsTable,
  OidcProvidersTable,
  OidcSignInsTable,
} from './migrations.ts';
import type {
  OidcCodeRecord,
  OidcLoginRecord,
  OidcProviderPatch,
  OidcProviderRecord,
  OidcSignInRecord,
  OidcStore,
} from './oidcStore.ts';
import { asConflict } from './storeConflictError.ts';
import { parseJson, type StoreConnection } from './storeConnection.ts';

export class KyselyOidcStore implements OidcStore {
  private readonly db: Kysely<Database>;

  constructor(connection: StoreConnection) {
    this.db = connection.db;
  }

  async createOidcProvider(provider: OidcProviderRecord): Promise<void> {
    try {
      await this.db
        .insertInto('oidc_providers')
        .values({
          id: provider.id,
          name: provider.name,
          display_name: provider.displayName,
          issuer: provider.issuer,
          client_id: provider.clientId,
          client_secret: provider.clientSecret,
          scopes: JSON.stringify(provider.scopes),
          groups_claim: provider.groupsClaim,
          created_at: provider.createdAt,
          updated_at: provider.updatedAt,
        })
        .execute();
    } catch (error) {
      throw asConflict(error, {
        'oidc_providers.name': `an identity provider named ${provider.name} already exists`,
        'oidc_providers.id': `an identity provider with id ${provider.id} already exists`,
      });
    }
  }

  async updateOidcProvider(
    id: string,
    patch: OidcProviderPatch,
  ): Promise<OidcProviderRecord | undefined> {
    const set: Updateable<OidcProvidersTable> = { updated_at: patch.updatedAt };
    if (patch.displayName !== undefined) set.display_name = patch.displayName;
    if (patch.issuer !== undefined) set.issuer = patch.issuer;
    if (patch.clientId !== undefined) set.client_id = patch.clientId;
    if (patch.clientSecret !== undefined) set.client_secret = patch.clientSecret;
    if (patch.scopes !== undefined) set.scopes = JSON.stringify(patch.scopes);
    if (patch.groupsClaim !== undefined) set.groups_claim = patch.groupsClaim;
    const row = await this.db
      .updateTable('oidc_providers')
      .set(set)
      .where('id', '=', id)
      .returningAll()
      .executeTakeFirst();
    return row && providerFromRow(row);
  }

  async getOidcProvider(id: string): Promise<OidcProviderRecord | undefined> {
    const row = await this.db
      .selectFrom('oidc_providers')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row && providerFromRow(row);
  }

  async getOidcProviderByName(name: string): Promise<OidcProviderRecord | undefined> {
    const row = await this.db
      .selectFrom('oidc_providers')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row && providerFromRow(row);
  }

  async listOidcProviders(): Promise<OidcProviderRecord[]> {
    const rows = await this.db.selectFrom('oidc_providers').selectAll().orderBy('name').execute();
    return rows.map(providerFromRow);
  }

  async deleteOidcProvider(id: string): Promise<boolean> {
    await this.db.deleteFrom('oidc_logins').where('provider_id', '=', id).execute();
    await this.db.deleteFrom('oidc_codes').where('provider_id', '=', id).execute();
    const result = await this.db
      .deleteFrom('oidc_providers')
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async insertOidcLogin(login: OidcLoginRecord): Promise<void> {
    await this.db
      .insertInto('oidc_logins')
      .values({
        state_hash: login.stateHash,
        provider_id: login.providerId,
        code_verifier: login.codeVerifier,
        nonce: login.nonce,
        client_redirect_uri: login.clientRedirectUri,
        client_state: login.clientState,
        client_code_challenge: login.clientCodeChallenge,
        expires_at: login.expiresAt,
        used_at: login.usedAt,
        created_at: login.createdAt,
      })
      .execute();
  }

  async getOidcLogin(stateHash: string): Promise<OidcLoginRecord | undefined> {
    const row = await this.db
      .selectFrom('oidc_logins')
      .selectAll()
      .where('state_hash', '=', stateHash)
      .executeTakeFirst();
    return row && loginFromRow(row);
  }

  async markOidcLoginUsed(stateHash: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('oidc_logins')
      .set({ used_at: now })
      .where('state_hash', '=', stateHash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async insertOidcCode(code: OidcCodeRecord): Promise<void> {
    await this.db
      .insertInto('oidc_codes')
      .values({
        code_hash: code.codeHash,
        user_id: code.userId,
        provider_id: code.providerId,
        subject: code.subject,
        client_redirect_uri: code.clientRedirectUri,
        client_code_challenge: code.clientCodeChallenge,
        provider_refresh_token: code.providerRefreshToken,
        expires_at: code.expiresAt,
        used_at: code.usedAt,
        created_at: code.createdAt,
      })
      .execute();
  }

  async getOidcCode(codeHash: string): Promise<OidcCodeRecord | undefined> {
    const row = await this.db
      .selectFrom('oidc_codes')
      .selectAll()
      .where('code_hash', '=', codeHash)
      .executeTakeFirst();
    return row && codeFromRow(row);
  }

  async markOidcCodeUsed(codeHash: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('oidc_codes')
      .set({ used_at: now })
      .where('code_hash', '=', codeHash)
      .where('used_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async getOidcIdentity(providerId: string, subject: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom('oidc_identities')
      .select('user_id')
      .where('provider_id', '=', providerId)
      .where('subject', '=', subject)
      .executeTakeFirst();
    return row?.user_id;
  }

  async linkOidcIdentity(
    providerId: string,
    subject: string,
    userId: string,
    now: number,
  ): Promise<void> {
    try {
      await this.db
        .insertInto('oidc_identities')
        .values({ provider_id: providerId, subject, user_id: userId, created_at: now })
        .execute();
    } catch (error) {
      throw asConflict(error, {
        'oidc_identities.provider_id': 'this provider account is already linked to a user',
      });
    }
  }

  async insertOidcSignIn(signIn: OidcSignInRecord): Promise<void> {
    await this.db
      .insertInto('oidc_sign_ins')
      .values({
        family_id: signIn.familyId,
        user_id: signIn.userId,
        provider_id: signIn.providerId,
        subject: signIn.subject,
        provider_refresh_token: signIn.providerRefreshToken,
        checked_at: signIn.checkedAt,
        created_at: signIn.createdAt,
      })
      .execute();
  }

  async getOidcSignIn(familyId: string): Promise<OidcSignInRecord | undefined> {
    const row = await this.db
      .selectFrom('oidc_sign_ins')
      .selectAll()
      .where('family_id', '=', familyId)
      .executeTakeFirst();
    return row && signInFromRow(row);
  }

  async listOidcSignInsOfUser(userId: string): Promise<OidcSignInRecord[]> {
    const rows = await this.db
      .selectFrom('oidc_sign_ins')
      .selectAll()
      .where('user_id', '=', userId)
      .orderBy('created_at')
      .execute();
    return rows.map(signInFromRow);
  }

  async updateOidcSignIn(
    familyId: string,
    patch: Pick<OidcSignInRecord, 'checkedAt'> &
      Partial<Pick<OidcSignInRecord, 'providerRefreshToken'>>,
  ): Promise<void> {
    const set: Updateable<OidcSignInsTable> = { checked_at: patch.checkedAt };
    if (patch.providerRefreshToken !== undefined) {
      set.provider_refresh_token = patch.providerRefreshToken;
    }
    await this.db.updateTable('oidc_sign_ins').set(set).where('family_id', '=', familyId).execute();
  }

  async claimOidcSignInCheck(familyId: string, seen: number, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('oidc_sign_ins')
      .set({ checked_at: now })
      .where('family_id', '=', familyId)
      .where('checked_at', '=', seen)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async deleteOidcSignIn(familyId: string): Promise<void> {
    await this.db.deleteFrom('oidc_sign_ins').where('family_id', '=', familyId).execute();
  }

  async deleteExpiredOidcGrants(now: number): Promise<number> {
    const logins = await this.db
      .deleteFrom('oidc_logins')
      .where('expires_at', '<', now)
      .executeTakeFirst();
    const codes = await this.db
      .deleteFrom('oidc_codes')
      .where('expires_at', '<', now)
      .executeTakeFirst();
    return Number(logins.numDeletedRows) + Number(codes.numDeletedRows);
  }
}

function providerFromRow(row: Selectable<OidcProvidersTable>): OidcProviderRecord {
  return {
    id: row.id,
    name: row.name,
    displayName: row.display_name,
    issuer: row.issuer,
    clientId: row.client_id,
    clientSecret: row.client_secret,
    scopes: parseJson<string[]>(row.scopes),
    groupsClaim: row.groups_claim,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function loginFromRow(row: Selectable<OidcLoginsTable>): OidcLoginRecord {
  return {
    stateHash: row.state_hash,
    providerId: row.provider_id,
    codeVerifier: row.code_verifier,
    nonce: row.nonce,
    clientRedirectUri: row.client_redirect_uri,
    clientState: row.client_state,
    clientCodeChallenge: row.client_code_challenge,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    createdAt: row.created_at,
  };
}

function codeFromRow(row: Selectable<OidcCodesTable>): OidcCodeRecord {
  return {
    codeHash: row.code_hash,
    userId: row.user_id,
    providerId: row.provider_id,
    subject: row.subject,
    clientRedirectUri: row.client_redirect_uri,
    clientCodeChallenge: row.client_code_challenge,
    providerRefreshToken: row.provider_refresh_token,
    expiresAt: row.expires_at,
    usedAt: row.used_at,
    createdAt: row.created_at,
  };
}

function signInFromRow(row: Selectable<OidcSignInsTable>): OidcSignInRecord {
  return {
    familyId: row.family_id,
    userId: row.user_id,
    providerId: row.provider_id,
    subject: row.subject,
    providerRefreshToken: row.provider_refresh_token,
    checkedAt: row.checked_at,
    createdAt: row.created_at,
  };
}
