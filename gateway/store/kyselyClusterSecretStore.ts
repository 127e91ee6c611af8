/**
 * ClusterSecretStore over Kysely. `INSERT … ON CONFLICT (name) DO NOTHING` (both dialects) makes
 * the first writer of a name win without a lock; the loser learns it from the row count.
 */
import type { Kysely, Selectable } from 'kysely';
import type { ClusterSecretRecord, ClusterSecretStore } from './clusterSecretStore.ts';
import type { ClusterSecretsTable, Database } from './migrations.ts';
import type { StoreConnection } from './storeConnection.ts';

export class KyselyClusterSecretStore implements ClusterSecretStore {
  private readonly db: Kysely<Database>;

  constructor(connection: StoreConnection) {
    this.db = connection.db;
  }

  async addClusterSecretIfAbsent(secret: ClusterSecretRecord): Promise<boolean> {
    const result = await this.db
      .insertInto('cluster_secrets')
      .values({
        name: secret.name,
        public_part: secret.publicPart,
        sealed: secret.sealed,
        created_at: secret.createdAt,
      })
      .onConflict((conflict) => conflict.column('name').doNothing())
      .executeTakeFirst();
    return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
  }

  async getClusterSecret(name: string): Promise<ClusterSecretRecord | undefined> {
    const row = await this.db
      .selectFrom('cluster_secrets')
      .selectAll()
      .where('name', '=', name)
      .executeTakeFirst();
    return row && rowToRecord(row);
  }

  async listClusterSecrets(prefix: string): Promise<ClusterSecretRecord[]> {
    // Filtered here, not with LIKE or a range: the table holds a handful of rows, and a
    // collation that ignores punctuation would make a range on `recording-key:` match widely.
    const rows = await this.db.selectFrom('cluster_secrets').selectAll().execute();
    return rows
      .filter((row) => row.name.startsWith(prefix))
      .map(rowToRecord)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}

function rowToRecord(row: Selectable<ClusterSecretsTable>): ClusterSecretRecord {
  return {
    name: row.name,
    publicPart: row.public_part,
    sealed: row.sealed,
    createdAt: row.created_at,
  };
}
