/**
 * AuditStore over Kysely, for SQLite and PostgreSQL alike. An append reads the head and inserts
 * the next entry inside `writeTransaction` while holding the log's lock: on SQLite, BEGIN
 * IMMEDIATE (one writer per database file); on PostgreSQL, a transaction-scoped advisory lock,
 * which a second replica's append waits on and then reads the new head (read committed reads
 * what committed before each statement). The primary key on seq is the last line of defence.
 */
import { type Kysely, type Selectable, sql } from 'kysely';
import type {
  AuditCheckpointRecord,
  AuditEntryFilter,
  AuditEntryRecord,
  AuditHead,
  AuditStore,
} from './auditStore.ts';
import type { AuditCheckpointsTable, AuditEntriesTable, Database } from './migrations.ts';
import { asConflict } from './storeConflictError.ts';
import { rowLimit, type StoreConnection, writeTransaction } from './storeConnection.ts';

/** The advisory lock key of the audit log (any constant no other code uses; "WTNSAUDT"). */
const AUDIT_LOCK_KEY = 0x57544e5341554454n;

export class KyselyAuditStore implements AuditStore {
  private readonly db: Kysely<Database>;

  constructor(private readonly connection: StoreConnection) {
    this.db = connection.db;
  }

  appendAuditEntry(build: (head: AuditHead) => AuditEntryRecord): Promise<AuditEntryRecord> {
    return writeTransaction(this.connection, async (tx) => {
      if (this.connection.kind === 'postgres') {
        await sql`select pg_advisory_xact_lock(${AUDIT_LOCK_KEY.toString()}::bigint)`.execute(tx);
      }
      const entry = build(await readHead(tx));
      try {
        await tx.insertInto('audit_entries').values(entryToRow(entry)).execute();
      } catch (error) {
        throw asConflict(error, {
          'audit_entries.seq': `audit entry ${entry.seq} is already written`,
        });
      }
      return entry;
    });
  }

  auditHead(): Promise<AuditHead> {
    return readHead(this.db);
  }

  async getAuditEntry(seq: number): Promise<AuditEntryRecord | undefined> {
    const row = await this.db
      .selectFrom('audit_entries')
      .selectAll()
      .where('seq', '=', seq)
      .executeTakeFirst();
    return row && entryFromRow(row);
  }

  async listAuditEntries(filter: AuditEntryFilter): Promise<AuditEntryRecord[]> {
    let query = this.db.selectFrom('audit_entries').selectAll();
    if (filter.beforeSeq !== undefined) query = query.where('seq', '<', filter.beforeSeq);
    if (filter.since !== undefined) query = query.where('time', '>=', filter.since);
    if (filter.until !== undefined) query = query.where('time', '<', filter.until);
    if (filter.actor !== undefined) {
      const actor = filter.actor;
      query = query.where((eb) =>
        eb.or([eb('actor_id', '=', actor), eb('actor_name', '=', actor)]),
      );
    }
    if (filter.action !== undefined) {
      const action = filter.action;
      query = query.where((eb) =>
        eb.or([eb('action', '=', action), eb('action', 'like', `${escapeLike(action)}.%`)]),
      );
    }
    for (const word of (filter.text ?? '').toLowerCase().split(/\s+/).filter(Boolean)) {
      const pattern = `%${escapeLike(word)}%`;
      query = query.where((eb) =>
        eb.or(
          (['action', 'target', 'actor_name', 'outcome', 'details'] as const).map(
            (column) => sql<boolean>`lower(${sql.ref(column)}) like ${pattern} escape '\\'`,
          ),
        ),
      );
    }
    const rows = await query.orderBy('seq', 'desc').limit(rowLimit(filter.limit)).execute();
    return rows.map(entryFromRow);
  }

  async readAuditEntries(
    fromSeq: number,
    toSeq: number,
    limit: number,
  ): Promise<AuditEntryRecord[]> {
    const rows = await this.db
      .selectFrom('audit_entries')
      .selectAll()
      .where('seq', '>=', fromSeq)
      .where('seq', '<=', toSeq)
      .orderBy('seq')
      .limit(rowLimit(limit))
      .execute();
    return rows.map(entryFromRow);
  }

  async addAuditCheckpoint(checkpoint: AuditCheckpointRecord): Promise<void> {
    await this.db
      .insertInto('audit_checkpoints')
      .values({
        seq: checkpoint.seq,
        hash: checkpoint.hash.toString('hex'),
        time: checkpoint.time,
        key_id: checkpoint.keyId,
        signature: checkpoint.signature.toString('base64'),
      })
      // Two replicas may sign the same head; either signature is as good as the other.
      .onConflict((oc) => oc.column('seq').doNothing())
      .execute();
  }

  async latestAuditCheckpoint(): Promise<AuditCheckpointRecord | undefined> {
    const row = await this.db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row && checkpointFromRow(row);
  }

  async listAuditCheckpoints(fromSeq: number, toSeq: number): Promise<AuditCheckpointRecord[]> {
    const rows = await this.db
      .selectFrom('audit_checkpoints')
      .selectAll()
      .where('seq', '>=', fromSeq)
      .where('seq', '<=', toSeq)
      .orderBy('seq')
      .execute();
    return rows.map(checkpointFromRow);
  }
}

async function readHead(db: Kysely<Database>): Promise<AuditHead> {
  const row = await db
    .selectFrom('audit_entries')
    .select(['seq', 'hash'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ? { seq: row.seq, hash: Buffer.from(row.hash, 'hex') } : { seq: 0, hash: null };
}

/** LIKE's wildcards in a person's words match themselves. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function entryToRow(entry: AuditEntryRecord): AuditEntriesTable {
  return {
    seq: entry.seq,
    time: entry.time,
    actor_id: entry.actorId,
    actor_name: entry.actorName,
    action: entry.action,
    target: entry.target,
    outcome: entry.outcome,
    details: entry.details,
    prev_hash: entry.prevHash.toString('hex'),
    hash: entry.hash.toString('hex'),
  };
}

function entryFromRow(row: Selectable<AuditEntriesTable>): AuditEntryRecord {
  return {
    seq: Number(row.seq),
    time: Number(row.time),
    actorId: row.actor_id,
    actorName: row.actor_name,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    details: row.details,
    prevHash: Buffer.from(row.prev_hash, 'hex'),
    hash: Buffer.from(row.hash, 'hex'),
  };
}

function checkpointFromRow(row: Selectable<AuditCheckpointsTable>): AuditCheckpointRecord {
  return {
    seq: Number(row.seq),
    hash: Buffer.from(row.hash, 'hex'),
    time: Number(row.time),
    keyId: row.key_id,
    signature: Buffer.from(row.signature, 'base64'),
  };
}
