/**
 * What every Kysely store of an aggregate shares: one Kysely instance over one pool (or one
 * SQLite connection), and which dialect is underneath for the few statements that differ.
 * openStore.ts makes one and hands it to each aggregate's store; only it closes it.
 */
import { type Kysely, sql } from 'kysely';
import type { Database } from './migrations.ts';

export type StoreKind = 'sqlite' | 'postgres';

export interface StoreConnection {
  readonly kind: StoreKind;
  readonly db: Kysely<Database>;
}

/** The open database behind the aggregates, as its owner sees it: which one, and closing it. */
export interface StoreHandle {
  readonly kind: StoreKind;
  /** One round trip to the database (readiness checks, issue #17); rejects when unreachable. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Runs `work` in a transaction that may read before it writes. On SQLite it begins IMMEDIATE,
 * taking the write lock up front: a deferred transaction that has read cannot wait for the
 * lock when another process (a CLI, a second gateway on the file) wrote meanwhile, it fails
 * at once with SQLITE_BUSY. Kysely's SQLite driver has one connection, held here throughout,
 * so no other statement of this process runs inside the transaction.
 */
export function writeTransaction<T>(
  connection: StoreConnection,
  work: (tx: Kysely<Database>) => Promise<T>,
): Promise<T> {
  if (connection.kind === 'postgres') return connection.db.transaction().execute(work);
  return connection.db.connection().execute(async (db) => {
    await sql`begin immediate`.execute(db);
    try {
      const result = await work(db);
      await sql`commit`.execute(db);
      return result;
    } catch (error) {
      await sql`rollback`.execute(db);
      throw error;
    }
  });
}

/** JSON columns are only ever written by the stores, so their shape is trusted. */
export function parseJson<T>(text: string): T {
  return JSON.parse(text) as T;
}

/** A caller's row limit as SQL wants it: a whole number, never negative. */
export function rowLimit(limit: number): number {
  return Math.max(0, Math.floor(limit));
}
