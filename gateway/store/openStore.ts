/**
 * Opens the store on SQLite (embedded default) or PostgreSQL (scale-out), migrates it to the
 * latest schema before handing it out, so callers never see a half-migrated database, and
 * puts the aggregates' stores together on its one connection.
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { KyselyAccessRequestStore } from './kyselyAccessRequestStore.ts';
import { KyselyAuditStore } from './kyselyAuditStore.ts';
import { KyselyCatalogStore } from './kyselyCatalogStore.ts';
import { KyselyClusterSecretStore } from './kyselyClusterSecretStore.ts';
import { KyselyIdentityStore } from './kyselyIdentityStore.ts';
import { KyselyMachineIdentityStore } from './kyselyMachineIdentityStore.ts';
import { KyselyOidcStore } from './kyselyOidcStore.ts';
import { KyselyRecordingStore } from './kyselyRecordingStore.ts';
import { KyselyRecordingTextStore } from './kyselyRecordingTextStore.ts';
import { KyselyReplicaStore } from './kyselyReplicaStore.ts';
import { KyselySessionStore } from './kyselySessionStore.ts';
import { type Database, migrationProvider } from './migrations.ts';
import type { Store } from './store.ts';
import type { StoreConnection } from './storeConnection.ts';

export type StoreConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; poolSize?: number; onPoolError?: (error: Error) => void };

export function openStore(config: StoreConfig): Promise<Store> {
  switch (config.kind) {
    case 'sqlite':
      return openSqliteStore(config.path);
    case 'postgres':
      return openPostgresStore(config.url, config);
  }
}

/**
 * Opens (creating if needed) the SQLite database at `filePath`; `:memory:` gives a throwaway
 * in-memory store. The file holds password hashes and encrypted secrets, so it is made
 * owner-only (0600); SQLite gives its -wal and -shm files the same mode.
 */
export async function openSqliteStore(filePath: string): Promise<Store> {
  if (filePath !== ':memory:') {
    mkdirSync(dirname(filePath), { recursive: true, mode: 0o700 });
    closeSync(openSync(filePath, 'a', 0o600));
    chmodSync(filePath, 0o600);
  }
  const database = new SqliteDatabase(filePath);
  try {
    // Another process (a CLI, a second gateway starting) may hold a lock briefly. Set first:
    // switching to WAL itself needs a lock and must wait rather than fail.
    database.pragma('busy_timeout = 5000');
    await withBusyRetry(() => database.pragma('journal_mode = WAL'));
    database.pragma('foreign_keys = ON');
  } catch (error) {
    database.close();
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Could not open the SQLite database ${filePath}: ${reason}. Check that no other program ` +
        'holds it locked and that the file is readable and writable.',
      { cause: error },
    );
  }
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  // Kysely runs SQLite migrations outside a transaction (its adapter reports no transactional
  // DDL) and takes no lock. SQLite does have transactional DDL, so hold BEGIN IMMEDIATE around
  // the run: a crash leaves the schema untouched, and a second process opening the same file
  // waits on busy_timeout, then finds the migrations recorded. Kysely's SQLite driver has a
  // single connection, so the migrator's statements run inside this transaction. (A future
  // migration that must toggle foreign_keys cannot do it in here; give it its own step.)
  await migrate(db, `SQLite database ${filePath}`, async (run) => {
    await sql`begin immediate`.execute(db);
    try {
      await run();
    } catch (error) {
      await sql`rollback`.execute(db);
      throw error;
    }
    await sql`commit`.execute(db);
  });
  return combineStores({ kind: 'sqlite', db });
}

/**
 * SQLite answers SQLITE_BUSY to a journal-mode change at once, without its busy handler, while
 * another process is converting the same new file to WAL; that process is done within
 * milliseconds, so retry for up to the busy timeout.
 */
async function withBusyRetry<T>(operation: () => T): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    try {
      return operation();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== 'string' || !code.startsWith('SQLITE_BUSY') || Date.now() > deadline) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
    }
  }
}

/**
 * Opens a PostgreSQL store. Several gateway replicas may start at once against one database:
 * Kysely's Migrator holds a session-level advisory lock (`pg_advisory_lock`) on a dedicated
 * connection and runs the pending migrations in one transaction, reading the migration table
 * only after it has the lock, so the loser waits and then finds nothing to do (covered by
 * store.contract.test.ts).
 */
export async function openPostgresStore(
  connectionString: string,
  options: { poolSize?: number; onPoolError?: (error: Error) => void } = {},
): Promise<Store> {
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 10,
    application_name: 'witness-gateway',
    // Per pool, not pg.types.setTypeParser: that would change every pg user in the process.
    types: { getTypeParser: getTypeParser as pg.CustomTypesConfig['getTypeParser'] },
  });
  // An idle client losing its connection (server restart, failover) is reported here; without a
  // listener Node would crash the gateway. The pool drops the client and the next query
  // reconnects, so by default there is nothing more to do.
  pool.on('error', options.onPoolError ?? (() => {}));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  await migrate(db, `PostgreSQL database ${redactUrl(connectionString)}`, (run) => run());
  return combineStores({ kind: 'postgres', db });
}

/**
 * Every aggregate's store on one connection, as one object (the composition root hands each
 * consumer the narrow interface it needs). Only this object closes the connection.
 */
function combineStores(connection: StoreConnection): Store {
  const aggregates = [
    new KyselyIdentityStore(connection),
    new KyselyCatalogStore(connection),
    new KyselyAccessRequestStore(connection),
    new KyselySessionStore(connection),
    new KyselyRecordingStore(connection),
    new KyselyRecordingTextStore(connection),
    new KyselyAuditStore(connection),
    new KyselyOidcStore(connection),
    new KyselyMachineIdentityStore(connection),
    new KyselyClusterSecretStore(connection),
    new KyselyReplicaStore(connection),
  ];
  const store: Record<string, unknown> = {
    kind: connection.kind,
    ping: async () => {
      await sql`select 1`.execute(connection.db);
    },
    close: () => connection.db.destroy(),
  };
  for (const aggregate of aggregates) {
    for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(aggregate))) {
      const method: unknown = Reflect.get(aggregate, name);
      if (name === 'constructor' || typeof method !== 'function') continue;
      // Two aggregates answering to one name would make one of them unreachable.
      if (name in store) throw new Error(`two stores define ${name}`);
      store[name] = method.bind(aggregate);
    }
  }
  return store as unknown as Store;
}

const INT8_OID = 20;

/**
 * Epoch-millisecond columns are int8; pg returns int8 as a string by default because it can
 * exceed 2^53. Our values never do, and a value that did would be a bug, so fail loudly
 * rather than round.
 */
function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`int8 value ${text} does not fit a JavaScript number`);
  }
  return value;
}

function getTypeParser(oid: number, format?: 'text' | 'binary'): unknown {
  if (oid === INT8_OID && format !== 'binary') return parseInt8;
  return pg.types.getTypeParser(oid, format ?? 'text');
}

async function migrate(
  db: Kysely<Database>,
  what: string,
  wrap: (run: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider });
  try {
    await wrap(async () => {
      const { error } = await migrator.migrateToLatest();
      if (error !== undefined) throw error;
    });
  } catch (error) {
    await db.destroy().catch(() => {});
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `Could not bring the ${what} to the current schema: ${reason}. Pending migrations were ` +
        'rolled back; check that the database is reachable and writable, then start again.',
      { cause: error },
    );
  }
}

/** Connection strings carry passwords; keep them out of error messages and logs. */
function redactUrl(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable connection string)';
  }
}
