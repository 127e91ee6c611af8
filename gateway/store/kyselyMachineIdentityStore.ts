/** MachineIdentityStore over Kysely, for SQLite and PostgreSQL alike. */
import type { Kysely, Selectable } from 'kysely';
import type {
  MachineIdentityRecord,
  MachineIdentityStore,
  MachineSignInRecord,
} from './machineIdentityStore.ts';
import type { Database, MachineIdentitiesTable } from './migrations.ts';
import { asConflict, StoreConflictError } from './storeConflictError.ts';
import { parseJson, type StoreConnection } from './storeConnection.ts';

export class KyselyMachineIdentityStore implements MachineIdentityStore {
  private readonly db: Kysely<Database>;

  constructor(connection: StoreConnection) {
    this.db = connection.db;
  }

  async createMachineIdentity(identity: MachineIdentityRecord): Promise<void> {
    try {
      await this.db
        .insertInto('machine_identities')
        .values({
          id: identity.id,
          name: identity.name,
          user_id: identity.userId,
          issuer: identity.issuer,
          audience: identity.audience,
          claims: JSON.stringify(identity.claims),
          created_at: identity.createdAt,
        })
        .execute();
    } catch (error) {
      throw asConflict(error, {
        'machine_identities.name': `a machine identity named ${identity.name} already exists`,
      });
    }
  }

  async listMachineIdentities(): Promise<MachineIdentityRecord[]> {
    const rows = await this.db
      .selectFrom('machine_identities')
      .selectAll()
      .orderBy('name')
      .execute();
    return rows.map(identityFromRow);
  }

  async getMachineIdentityByName(name: string): Promise<MachineIdentityRecord | undefined> {
    const row = await this.db
      .selectFrom('machine_identities')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row && identityFromRow(row);
  }

  async deleteMachineIdentity(id: string): Promise<boolean> {
    const result = await this.db
      .deleteFrom('machine_identities')
      .where('id', '=', id)
      .executeTakeFirst();
    return Number(result.numDeletedRows) === 1;
  }

  async spendMachineToken(issuer: string, jti: string, expiresAt: number): Promise<boolean> {
    try {
      await this.db
        .insertInto('machine_token_uses')
        .values({ issuer, jti, expires_at: expiresAt })
        .execute();
      return true;
    } catch (error) {
      if (asConflict(error, {}) instanceof StoreConflictError) return false;
      throw error;
    }
  }

  async insertMachineSignIn(signIn: MachineSignInRecord): Promise<void> {
    await this.db
      .insertInto('machine_sign_ins')
      .values({
        family_id: signIn.familyId,
        identity_id: signIn.identityId,
        claims: JSON.stringify(signIn.claims),
        created_at: signIn.createdAt,
      })
      .execute();
  }

  async getMachineSignIn(familyId: string): Promise<MachineSignInRecord | undefined> {
    const row = await this.db
      .selectFrom('machine_sign_ins')
      .selectAll()
      .where('family_id', '=', familyId)
      .executeTakeFirst();
    return (
      row && {
        familyId: row.family_id,
        identityId: row.identity_id,
        claims: parseJson<Record<string, unknown>>(row.claims),
        createdAt: row.created_at,
      }
    );
  }
}

function identityFromRow(row: Selectable<MachineIdentitiesTable>): MachineIdentityRecord {
  return {
    id: row.id,
    name: row.name,
    userId: row.user_id,
    issuer: row.issuer,
    audience: row.audience,
    claims: parseJson<Record<string, string>>(row.claims),
    createdAt: row.created_at,
  };
}
