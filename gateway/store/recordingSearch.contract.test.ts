/**
 * The search index and the recording list's paging and filters, as one contract for both
 * stores (SQLite temp file, a fresh PostgreSQL database): the same entries must give the same
 * hits, in the same order, through FTS5 on one and tsvector + GIN on the other.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  describeWithPostgres,
  freshPostgresDatabase,
} from '../../test/harness/postgresForTests.ts';
import { indexWords } from './indexedText.ts';
import { migrations } from './migrations.ts';
import { openPostgresStore, openSqliteStore } from './openStore.ts';
import { SqliteRecordingTextWriter } from './sqliteRecordingTextWriter.ts';
import type { NewRecording, RecordingTextEntry, Store } from './store.ts';

const T = 1_750_000_000_000;

function recording(n: number, overrides: Partial<NewRecording> = {}): NewRecording {
  return {
    sessionId: `ses_${String(n).padStart(3, '0')}`,
    userId: n % 2 === 0 ? 'usr_even' : 'usr_odd',
    resourceId: n % 3 === 0 ? 'res_db' : 'res_box',
    protocol: n % 3 === 0 ? 'postgres' : 'ssh',
    owner: 'gw_1',
    storage: 'segments',
    startedAt: T + n * 1000,
    ...overrides,
  };
}

function text(sessionId: string, seq: number, kind: RecordingTextEntry['kind'], body: string) {
  return { sessionId, seq, time: T + seq, channel: 0, kind, text: body };
}

/** A fresh database for one test, which can be opened again (another gateway replica). */
interface SearchLocation {
  open(): Promise<Store>;
  /** Rows in a table, counted past the store (how much is stored, not what it answers). */
  countRows(table: 'indexed_texts' | 'recording_text' | 'literal_words'): Promise<number>;
  dispose(): Promise<void>;
}

function describeSearchContract(name: string, freshLocation: () => Promise<SearchLocation>) {
  describe(`recording search and list paging: ${name}`, () => {
    let location: SearchLocation;
    let opened: Store[];
    let store: Store;

    async function openAnother(): Promise<Store> {
      const another = await location.open();
      opened.push(another);
      return another;
    }

    beforeEach(async () => {
      location = await freshLocation();
      opened = [];
      store = await openAnother();
    });
    afterEach(async () => {
      for (const s of opened) await s.close();
      await location.dispose();
    });

    const search = (q: string, extra: Partial<Parameters<Store['searchRecordingText']>[0]> = {}) =>
      store.searchRecordingText({ terms: indexWords(q), filter: {}, limit: 50, ...extra });

    it('finds words and word prefixes in every kind of text, newest first, with the recording', async () => {
      await store.createRecording(recording(1));
      await store.createRecording(recording(3));
      await store.insertRecordingText([
        text('ses_001', 5, 'command', 'sudo systemctl restart nginx'),
        text(
          'ses_001',
          9,
          'output',
          'Job for nginx.service failed because the control process exited',
        ),
        text('ses_003', 2, 'query', 'SELECT email FROM customers WHERE id = 42'),
      ]);
      expect((await search('restart nginx')).map((h) => [h.sessionId, h.seq, h.kind])).toEqual([
        ['ses_001', 5, 'command'],
      ]);
      // Newest indexed first; `ngin` is a prefix of `nginx`.
      expect((await search('ngin')).map((h) => h.seq)).toEqual([9, 5]);
      const [query] = await search('CUSTOMERS email');
      expect(query).toMatchObject({
        sessionId: 'ses_003',
        kind: 'query',
        time: T + 2,
        text: 'SELECT email FROM customers WHERE id = 42',
        recording: { sessionId: 'ses_003', protocol: 'postgres', userId: 'usr_odd' },
      });
      expect(await search('restart customers')).toEqual([]);
      // Only a prefix matches, never the middle of a word.
      expect(await search('ginx')).toEqual([]);
    });

    it('splits text into words the same way on both stores (paths, dots, case, non-ASCII)', async () => {
      await store.createRecording(recording(1));
      await store.insertRecordingText([
        text('ses_001', 1, 'command', 'cat /etc/passwd; vi x86_64/Makefile.AM'),
        text('ses_001', 2, 'output', 'Grüße aus Zürich — naïve café'),
      ]);
      expect((await search('etc passwd')).map((h) => h.seq)).toEqual([1]);
      expect((await search('/ETC/PASSWD')).map((h) => h.seq)).toEqual([1]);
      expect((await search('makefile am')).map((h) => h.seq)).toEqual([1]);
      expect((await search('x86')).map((h) => h.seq)).toEqual([1]);
      expect((await search('zürich grüße')).map((h) => h.seq)).toEqual([2]);
      // No diacritic folding: `cafe` is not `café`.
      expect(await search('cafe')).toEqual([]);
    });

    it('pages hits by id without repeats, and applies the list filters', async () => {
      for (const n of [1, 2, 3, 4]) {
        await store.createRecording(recording(n));
        await store.insertRecordingText(
          [1, 2, 3].map((seq) => text(recording(n).sessionId, seq, 'output', `deploy step ${seq}`)),
        );
      }
      const all = await search('deploy');
      expect(all).toHaveLength(12);
      const ids = all.map((h) => h.id);
      expect([...ids].sort((a, b) => b - a)).toEqual(ids);
      const first = await search('deploy', { limit: 5 });
      const second = await search('deploy', { limit: 5, beforeId: first.at(-1)?.id as number });
      const third = await search('deploy', { limit: 5, beforeId: second.at(-1)?.id as number });
      expect([...first, ...second, ...third].map((h) => h.id)).toEqual(ids);

      const sessions = async (filter: Parameters<Store['searchRecordingText']>[0]['filter']) => [
        ...new Set((await search('deploy', { filter })).map((h) => h.sessionId)),
      ];
      expect(await sessions({ userId: 'usr_even' })).toEqual(['ses_004', 'ses_002']);
      expect(await sessions({ protocol: 'postgres' })).toEqual(['ses_003']);
      expect(await sessions({ resourceId: 'res_box', userId: 'usr_odd' })).toEqual(['ses_001']);
      expect(await sessions({ from: T + 2000, to: T + 3000 })).toEqual(['ses_003', 'ses_002']);
      await store.finishRecording('ses_002', { status: 'complete', endedAt: T + 9000 });
      expect(await sessions({ status: 'complete' })).toEqual(['ses_002']);
      expect(await sessions({ status: 'recording' })).toEqual(['ses_004', 'ses_003', 'ses_001']);
    });

    it('skips text without words and stores text the database could not hold as is', async () => {
      await store.createRecording(recording(1));
      await store.insertRecordingText([
        text('ses_001', 1, 'output', '--- ### ---'),
        text('ses_001', 2, 'output', 'nul\u0000byte here'),
      ]);
      expect(await store.listRecordingText('ses_001')).toEqual([
        text('ses_001', 2, 'output', 'nulbyte here'),
      ]);
      expect((await search('nulbyte')).map((h) => h.seq)).toEqual([2]);
    });

    it('stores a text repeated in many places once, and finds every occurrence', async () => {
      await store.createRecording(recording(1));
      await store.createRecording(recording(2));
      const statement = 'SELECT abalance FROM pgbench_accounts WHERE aid = $1';
      await store.insertRecordingText(
        Array.from({ length: 50 }, (_, i) => text('ses_001', i + 1, 'query', statement)),
      );
      await store.insertRecordingText([
        text('ses_002', 1, 'query', statement),
        text('ses_002', 2, 'command', statement),
        text('ses_002', 3, 'output', 'abalance\n----------\n 0'),
      ]);
      expect(await location.countRows('indexed_texts')).toBe(2);
      expect(await location.countRows('recording_text')).toBe(53);

      const hits = await search('PGBENCH_ACC abal', { limit: 100 });
      expect(hits.map((h) => [h.sessionId, h.seq, h.kind])).toEqual([
        ['ses_002', 2, 'command'],
        ['ses_002', 1, 'query'],
        ...Array.from({ length: 50 }, (_, i) => ['ses_001', 50 - i, 'query']),
      ]);
      expect(new Set(hits.map((h) => h.text))).toEqual(new Set([statement]));
      expect(hits.map((h) => h.recording.sessionId).slice(0, 3)).toEqual([
        'ses_002',
        'ses_002',
        'ses_001',
      ]);
      const page = await search('abalance', { limit: 2, beforeId: hits[1]?.id as number });
      expect(page.map((h) => h.id)).toEqual(hits.slice(2, 4).map((h) => h.id));

      // One recording's text goes; the other's occurrences of the same text stay findable.
      expect(await store.deleteRecordingText('ses_001')).toBe(50);
      expect((await search('pgbench')).map((h) => h.seq)).toEqual([2, 1]);
      expect(await store.listRecordingText('ses_002')).toEqual([
        text('ses_002', 1, 'query', statement),
        text('ses_002', 2, 'command', statement),
        text('ses_002', 3, 'output', 'abalance\n----------\n 0'),
      ]);
      // Re-indexing finds the stored text rather than storing it again.
      await store.insertRecordingText([text('ses_001', 1, 'query', statement)]);
      expect(await location.countRows('indexed_texts')).toBe(2);
      expect((await search('pgbench')).map((h) => h.sessionId)).toEqual([
        'ses_001',
        'ses_002',
        'ses_002',
      ]);
    });

    it('forgets a text whose transaction rolled back: indexing it again stores it', async () => {
      await store.createRecording(recording(1));
      await expect(
        store.insertRecordingText([
          // biome-ignore lint/suspicious/noExplicitAny: the check constraint is what fails
          { ...text('ses_001', 1, 'query', 'select * from invoices'), kind: 'peek' as any },
        ]),
      ).rejects.toThrow();
      expect(await location.countRows('indexed_texts')).toBe(0);
      await store.insertRecordingText([text('ses_001', 1, 'query', 'select * from invoices')]);
      expect((await search('invoices')).map((h) => h.text)).toEqual(['select * from invoices']);
    });

    it('stores a new text once when replicas index it at the same moment', async () => {
      const replicas = [store];
      for (let n = 1; n < 4; n++) replicas.push(await openAnother());
      await store.createRecording(recording(1));
      const shared = 'select * from orders where id = $1';
      const index = (replica: Store, n: number) =>
        replica.insertRecordingText([
          text('ses_001', 10 * n + 1, 'query', shared),
          text('ses_001', 10 * n + 2, 'query', `select ${n} as replica${n}`),
        ]);
      if (name === 'postgres') {
        await Promise.all(replicas.map(index));
      } else {
        // SQLite replicas are processes: a second connection in this process would wait on
        // the first one's lock synchronously, blocking the very thread that would release it.
        for (const [n, replica] of replicas.entries()) await index(replica, n);
      }
      expect(await location.countRows('indexed_texts')).toBe(5);
      expect((await search('orders')).map((h) => h.seq).sort((a, b) => a - b)).toEqual([
        1, 11, 21, 31,
      ]);
      expect((await search('replica2')).map((h) => h.seq)).toEqual([22]);
    });

    it('finds rare words older than the newest 20,000 rows, and pages across that boundary', async () => {
      await store.createRecording(recording(1));
      // Row 1 (oldest) has a rare word; every row has a common one.
      await store.insertRecordingText([text('ses_001', 1, 'command', 'common rarebird')]);
      await store.insertRecordingText(
        Array.from({ length: 20_100 }, (_, i) => text('ses_001', i + 2, 'output', `common ${i}`)),
      );
      const rare = await store.searchRecordingText({ terms: ['rareb'], filter: {}, limit: 10 });
      expect(rare.map((h) => h.seq)).toEqual([1]);
      // A page that starts inside the newest 20,000 and ends past them.
      const [newest] = await store.searchRecordingText({ terms: ['common'], filter: {}, limit: 1 });
      const page = await store.searchRecordingText({
        terms: ['common'],
        filter: {},
        beforeId: (newest?.id as number) - 19_980,
        limit: 50,
      });
      const ids = page.map((h) => h.id);
      const first = (newest?.id as number) - 19_981;
      expect(ids).toEqual(Array.from({ length: 50 }, (_, i) => first - i));
    });

    it('stores a query with constants as one shape, and finds each occurrence by its own constants', async () => {
      await store.createRecording(recording(3));
      const pgbench = (aid: number) => `SELECT abalance FROM pgbench_accounts WHERE aid = ${aid};`;
      const login = "select id from users where email = 'alice@example.com' and tries < 3";
      await store.insertRecordingText([
        text('ses_003', 1, 'query', pgbench(12345)),
        text('ses_003', 2, 'query', pgbench(512)),
        text('ses_003', 3, 'query', pgbench(123456)),
        text('ses_003', 4, 'query', login),
        // The same words as a command are not a query: stored whole.
        text('ses_003', 5, 'command', pgbench(12345)),
      ]);
      // One shape for the three pgbench queries, the login's shape, the command.
      expect(await location.countRows('indexed_texts')).toBe(3);
      expect(await location.countRows('literal_words')).toBe(3 + 4);

      // A constant finds the occurrence that carried it, as a word or a word prefix.
      const hit = (q: string) => search(q).then((hits) => hits.map((h) => [h.seq, h.text]));
      expect(await hit('12345')).toEqual([
        [5, pgbench(12345)],
        [3, pgbench(123456)],
        [1, pgbench(12345)],
      ]);
      expect(await hit('512')).toEqual([[2, pgbench(512)]]);
      const [alice] = await search("'alice@example.com'");
      expect(alice).toMatchObject({ seq: 4, time: T + 4, kind: 'query', text: login });
      // Words of the shape and of the constants together; each term must match somewhere.
      expect((await search('pgbench 512')).map((h) => h.seq)).toEqual([2]);
      expect((await search('users example 3')).map((h) => h.seq)).toEqual([4]);
      expect(await search('users 512')).toEqual([]);
      // Only a prefix matches, in constants too.
      expect(await search('2345')).toEqual([]);
      expect(await store.listRecordingText('ses_003')).toEqual([
        text('ses_003', 1, 'query', pgbench(12345)),
        text('ses_003', 2, 'query', pgbench(512)),
        text('ses_003', 3, 'query', pgbench(123456)),
        text('ses_003', 4, 'query', login),
        text('ses_003', 5, 'command', pgbench(12345)),
      ]);

      // Re-indexing removes an occurrence's constants with it.
      expect(await store.deleteRecordingText('ses_003')).toBe(5);
      expect(await location.countRows('literal_words')).toBe(0);
      expect(await search('12345')).toEqual([]);
    });

    it('finds a constant older than the newest 20,000 rows', async () => {
      await store.createRecording(recording(3));
      await store.insertRecordingText([
        text('ses_003', 1, 'query', "select * from orders where ref = 'rarebird-77'"),
      ]);
      await store.insertRecordingText(
        Array.from({ length: 20_100 }, (_, i) =>
          text('ses_003', i + 2, 'query', `select * from orders where id = ${i}`),
        ),
      );
      // Two shapes (`ref = ?`, `id = ?`) for 20,101 queries.
      expect(await location.countRows('indexed_texts')).toBe(2);
      expect((await search('rareb 77 orders')).map((h) => h.seq)).toEqual([1]);
      expect((await search('orders 19')).map((h) => h.seq).slice(0, 2)).toEqual([20_001, 20_000]);
    });

    it('pages the recording list by position, and filters by the last verification', async () => {
      for (const n of [1, 2, 3, 4, 5]) await store.createRecording(recording(n));
      // Two recordings started in the same millisecond: the session id breaks the tie.
      await store.createRecording(recording(6, { startedAt: T + 5000 }));
      const all = (await store.listRecordings({ limit: 10 })).map((r) => r.sessionId);
      expect(all).toEqual(['ses_006', 'ses_005', 'ses_004', 'ses_003', 'ses_002', 'ses_001']);
      const page1 = await store.listRecordings({ limit: 2 });
      const last = page1.at(-1);
      const page2 = await store.listRecordings({
        limit: 10,
        after: { startedAt: last?.startedAt as number, sessionId: last?.sessionId as string },
      });
      expect([...page1, ...page2].map((r) => r.sessionId)).toEqual(all);

      await store.recordRecordingVerification('ses_002', {
        status: 'verified',
        verifiedThroughSeq: 40,
        at: T + 99,
      });
      // With its detail (0006): why, where, and what the signed content said.
      const signed = {
        sessionStartSeq: 1,
        user: 'alice',
        userId: 'usr_alice',
        resource: 'web-1',
        resourceId: 'res_web1',
        protocol: 'ssh' as const,
        startedAt: new Date(T).toISOString(),
        endedAt: null,
        status: 'not closed' as const,
      };
      await store.recordRecordingVerification('ses_003', {
        status: 'failed',
        verifiedThroughSeq: 7,
        at: T + 99,
        firstBadSeq: 8,
        message: 'frame 8: the hash chain is broken',
        signed,
      });
      expect((await store.getRecording('ses_003'))?.lastVerification).toEqual({
        status: 'failed',
        verifiedThroughSeq: 7,
        at: T + 99,
        firstBadSeq: 8,
        message: 'frame 8: the hash chain is broken',
        signed,
      });
      await store.finishRecording('ses_004', { status: 'failed', endedAt: T + 9 });
      expect((await store.getRecording('ses_002'))?.lastVerification).toEqual({
        status: 'verified',
        verifiedThroughSeq: 40,
        at: T + 99,
      });
      expect((await store.getRecording('ses_001'))?.lastVerification).toBeNull();
      const ids = async (status: 'verified' | 'failed') =>
        (await store.listRecordings({ status, limit: 10 })).map((r) => r.sessionId);
      expect(await ids('verified')).toEqual(['ses_002']);
      expect(await ids('failed')).toEqual(['ses_004', 'ses_003']);
    });

    it('audits searches (no session, the query as detail) and the new actions', async () => {
      await store.insertRecordingAccess({
        id: 'acc_1',
        sessionId: null,
        userId: 'usr_1',
        action: 'search',
        at: T + 1,
        detail: '{"q":"nginx"}',
      });
      for (const [n, action] of [
        [2, 'live'],
        [3, 'export_jsonl'],
      ] as const) {
        await store.insertRecordingAccess({
          id: `acc_${n}`,
          sessionId: 'ses_001',
          userId: 'usr_1',
          action,
          at: T + n,
        });
      }
      expect(await store.listRecordingAccess({ userId: 'usr_1', limit: 10 })).toEqual([
        {
          id: 'acc_3',
          sessionId: 'ses_001',
          userId: 'usr_1',
          action: 'export_jsonl',
          at: T + 3,
          detail: null,
        },
        {
          id: 'acc_2',
          sessionId: 'ses_001',
          userId: 'usr_1',
          action: 'live',
          at: T + 2,
          detail: null,
        },
        {
          id: 'acc_1',
          sessionId: null,
          userId: 'usr_1',
          action: 'search',
          at: T + 1,
          detail: '{"q":"nginx"}',
        },
      ]);
      await expect(
        store.insertRecordingAccess({
          id: 'acc_9',
          sessionId: 'ses_001',
          userId: 'usr_1',
          // biome-ignore lint/suspicious/noExplicitAny: the check constraint is what is tested
          action: 'peek' as any,
          at: T,
        }),
      ).rejects.toThrow();
    });
  });
}

/** The SQLite store's file, opened by `open` (a store) and counted past it. */
async function sqliteLocation(open: (file: string) => Promise<Store>): Promise<SearchLocation> {
  const dir = await mkdtemp(join(tmpdir(), 'witness-search-'));
  const file = join(dir, 'witness.db');
  return {
    open: () => open(file),
    countRows: async (table) => {
      const database = new SqliteDatabase(file, { readonly: true });
      try {
        return (database.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
      } finally {
        database.close();
      }
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

describeSearchContract('sqlite', () => sqliteLocation(openSqliteStore));

/**
 * The search-text worker's writes (SqliteRecordingTextWriter, its own connection and
 * statements) read back through the store: the same hits as the store's own writes.
 */
describeSearchContract('sqlite, index written by its own connection', () =>
  sqliteLocation(async (file) => {
    const store = await openSqliteStore(file);
    const writer = SqliteRecordingTextWriter.open(file);
    return {
      ...store,
      insertRecordingText: (entries) => writer.insertRecordingText(entries),
      deleteRecordingText: (sessionId) => writer.deleteRecordingText(sessionId),
      close: async () => {
        writer.close();
        await store.close();
      },
    };
  }),
);

describeWithPostgres('PostgreSQL', () => {
  describeSearchContract('postgres', async () => {
    const url = await freshPostgresDatabase();
    return {
      open: () => openPostgresStore(url),
      countRows: async (table) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          const { rows } = await client.query(`select count(*)::int as n from ${table}`);
          return (rows[0] as { n: number }).n;
        } finally {
          await client.end();
        }
      },
      dispose: async () => {},
    };
  });

  it('can answer a prefix search from the GIN index', async () => {
    const url = await freshPostgresDatabase();
    const store = await openPostgresStore(url);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await store.createRecording(recording(1));
      await store.insertRecordingText(
        Array.from({ length: 2000 }, (_, i) =>
          text('ses_001', i + 1, 'output', `line ${i} word${i}`),
        ),
      );
      await client.query('analyze indexed_texts');
      // On 2,000 rows a scan is what the planner rightly picks; what is pinned here is that
      // the index can answer this query shape (a prefix tsquery) at all.
      await client.query('set enable_seqscan = off');
      const { rows } = await client.query(
        "explain select id from indexed_texts where terms @@ $$'word1234':*$$::tsquery order by id + 0 desc limit 50",
      );
      const plan = rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/indexed_texts_terms_idx/);
    } finally {
      await client.end();
      await store.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Migration 0005: from one text per occurrence to each distinct text once

/**
 * A database at migration 0004 holding five occurrences of three texts (the last one
 * deleted, as a re-index does), then opened by the current store.
 */
async function migrateIndexFrom0004(
  db: Kysely<unknown>,
  kind: 'sqlite' | 'postgres',
  reopen: () => Promise<Store>,
): Promise<Store> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...migrations }) },
  });
  const { error } = await migrator.migrateTo('0004_recording_search');
  if (error !== undefined) throw error;
  const r = recording(1);
  await sql`insert into recordings (session_id, user_id, resource_id, protocol, status, owner, storage, started_at, frames, bytes, last_checkpoint_seq) values (${r.sessionId}, ${r.userId}, ${r.resourceId}, ${r.protocol}, 'recording', ${r.owner}, ${r.storage}, ${r.startedAt}, 0, 0, 0)`.execute(
    db,
  );
  const texts = [
    'select 1 from accounts',
    'select 1 from accounts',
    'ls -la',
    'select 1 from accounts',
    'gone soon',
  ];
  for (const [i, body] of texts.entries()) {
    const terms =
      kind === 'postgres' ? sql`, array_to_tsvector(${indexWords(body)}::text[])` : sql``;
    const column = kind === 'postgres' ? sql`, terms` : sql``;
    await sql`insert into recording_text (session_id, seq, time, channel, kind, text${column}) values ('ses_001', ${i + 1}, ${T + i + 1}, 0, 'query', ${body}${terms})`.execute(
      db,
    );
  }
  await sql`delete from recording_text where seq = 5`.execute(db);
  await db.destroy();
  return reopen();
}

async function expectMigratedIndex(store: Store, countTexts: () => Promise<number>) {
  expect(await countTexts()).toBe(2);
  expect(await store.listRecordingText('ses_001')).toEqual([
    text('ses_001', 1, 'query', 'select 1 from accounts'),
    text('ses_001', 2, 'query', 'select 1 from accounts'),
    text('ses_001', 3, 'query', 'ls -la'),
    text('ses_001', 4, 'query', 'select 1 from accounts'),
  ]);
  const hits = await store.searchRecordingText({ terms: ['accounts'], filter: {}, limit: 10 });
  // Occurrence ids are kept: they are the paging positions clients hold.
  expect(hits.map((h) => [h.id, h.seq])).toEqual([
    [4, 4],
    [2, 2],
    [1, 1],
  ]);
  // A new occurrence gets an id after every id ever given, the deleted one's included.
  await store.insertRecordingText([text('ses_001', 6, 'command', 'ls -la /srv')]);
  const [newest] = await store.searchRecordingText({ terms: ['srv'], filter: {}, limit: 1 });
  expect(newest?.id).toBe(6);
  expect(await countTexts()).toBe(3);
}

describe('migration 0005 on SQLite', () => {
  it('moves each distinct text into indexed_texts, keeping occurrences and their ids', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'witness-search-'));
    const file = join(dir, 'witness.db');
    const store = await migrateIndexFrom0004(
      new Kysely({ dialect: new SqliteDialect({ database: new SqliteDatabase(file) }) }),
      'sqlite',
      () => openSqliteStore(file),
    );
    try {
      await expectMigratedIndex(store, async () => {
        const raw = new SqliteDatabase(file, { readonly: true });
        try {
          return (raw.prepare('select count(*) as n from indexed_texts').get() as { n: number }).n;
        } finally {
          raw.close();
        }
      });
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describeWithPostgres('migration 0005 on PostgreSQL', () => {
  it('moves each distinct text into indexed_texts, keeping occurrences and their ids', async () => {
    const url = await freshPostgresDatabase();
    const store = await migrateIndexFrom0004(
      new Kysely({
        dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }),
      }),
      'postgres',
      () => openPostgresStore(url),
    );
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await expectMigratedIndex(store, async () => {
        const { rows } = await client.query('select count(*)::int as n from indexed_texts');
        return (rows[0] as { n: number }).n;
      });
      // The key PostgreSQL computed while migrating is the one the gateway computes.
      const { rows } = await client.query("select hash from indexed_texts where text = 'ls -la'");
      expect(rows[0]?.hash).toBe(createHash('sha256').update('ls -la').digest('hex'));
    } finally {
      await client.end();
      await store.close();
    }
  });
});
