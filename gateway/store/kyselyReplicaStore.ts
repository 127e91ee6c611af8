/**
 * ReplicaStore over Kysely, for SQLite and PostgreSQL alike. Each write is one statement whose
 * conditions are re-checked by the database, so replicas racing each other cannot both win.
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from './migrations.ts';
import type { ReplicaStore } from './replicaStore.ts';
import type { StoreConnection } from './storeConnection.ts';

export class KyselyReplicaStore implements ReplicaStore {
  private readonly db: Kysely<Database>;

  constructor(connection: StoreConnection) {
    this.db = connection.db;
  }

  async renewLease(instanceId: string, now: number, expiresAt: number): Promise<void> {
    await this.db
      .insertInto('gateway_leases')
      .values({ instance_id: instanceId, expires_at: expiresAt, renewed_at: now })
      .onConflict((c) =>
        c.column('instance_id').doUpdateSet({ expires_at: expiresAt, renewed_at: now }),
      )
      .execute();
  }

  async listExpiredLeases(now: number, self: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom('gateway_leases')
      .select('instance_id')
      .where('expires_at', '<', now)
      .where('instance_id', '!=', self)
      .orderBy('instance_id')
      .execute();
    return rows.map((row) => row.instance_id);
  }

  async releaseLease(instanceId: string, now: number | null): Promise<boolean> {
    let query = this.db.deleteFrom('gateway_leases').where('instance_id', '=', instanceId);
    if (now !== null) query = query.where('expires_at', '<', now);
    const result = await query.executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async countLoginAttempt(
    address: string,
    now: number,
    windowMs: number,
  ): Promise<{ attempts: number; windowStart: number }> {
    const over = now - windowMs;
    const row = await this.db
      .insertInto('login_address_attempts')
      .values({ address, window_start: now, attempts: 1 })
      .onConflict((c) =>
        c.column('address').doUpdateSet({
          // The same CASE for both columns: they read the row as it was before this update.
          attempts: sql<number>`case when login_address_attempts.window_start <= ${over} then 1 else login_address_attempts.attempts + 1 end`,
          window_start: sql<number>`case when login_address_attempts.window_start <= ${over} then ${now} else login_address_attempts.window_start end`,
        }),
      )
      .returning(['attempts', 'window_start'])
      .executeTakeFirstOrThrow();
    return { attempts: Number(row.attempts), windowStart: Number(row.window_start) };
  }

  async deleteLoginWindowsBefore(before: number): Promise<void> {
    await this.db.deleteFrom('login_address_attempts').where('window_start', '<', before).execute();
  }
}
