/**
 * Opening the store: migrations, file modes, several processes or gateways at once, on SQLite
 * (temp file) and PostgreSQL (a fresh database on the harness cluster). Each aggregate's
 * contract is in its own file (identity, catalog, sessions, recordings, recordingSearch
 * `.contract.test.ts`), run on both through fixtures/storeContract.ts, so both deployments
 * behave the same.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import {
  describeWithPostgres,
  freshPostgresDatabase,
} from '../../test/harness/postgresForTests.ts';
import { describeStoreContract, newUser, T } from './fixtures/storeContract.ts';
import { migrations } from './migrations.ts';
import { openPostgresStore, openSqliteStore } from './openStore.ts';

/** Every migration, by name, in the order applied: each recorded exactly once. */
const ALL_MIGRATIONS = Object.keys(migrations)
  .sort()
  .map((name) => ({ name }));

describeStoreContract('opening', (underTest) => {
  it('reports its kind', () => {
    expect(underTest.store.kind).toBe(underTest.kind);
  });

  it('reopens existing data without re-running migrations', async () => {
    const { store } = underTest;
    await store.createUser(newUser(1));
    await underTest.close(store);
    const reopened = await underTest.openAnother();
    expect(await reopened.getUserById('usr_1')).toMatchObject({ username: 'user1' });
    const third = await underTest.openAnother();
    expect(await third.listUsers()).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------
// SQLite

const sqliteDirs: string[] = [];
afterAll(async () => {
  for (const dir of sqliteDirs) await rm(dir, { recursive: true, force: true });
});

async function freshSqliteFile(): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'witness-store-'));
  sqliteDirs.push(dir);
  return { dir, file: join(dir, 'nested', 'witness.db') };
}

describe('SQLite specifics', () => {
  it('creates the database owner-only, in WAL mode, with foreign keys on', async () => {
    const { file } = await freshSqliteFile();
    const store = await openSqliteStore(file);
    try {
      await store.createUser(newUser(1)); // forces the WAL file into existence
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(`${file}-wal`)).mode & 0o777).toBe(0o600);
      const raw = new SqliteDatabase(file, { readonly: true });
      try {
        expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      } finally {
        raw.close();
      }
    } finally {
      await store.close();
    }
  });

  it('records each migration once however often the file is opened', async () => {
    const { file } = await freshSqliteFile();
    for (let i = 0; i < 3; i++) {
      const store = await openSqliteStore(file);
      await store.createUser(newUser(i));
      await store.close();
    }
    const raw = new SqliteDatabase(file, { readonly: true });
    try {
      const names = raw.prepare('select name from kysely_migration order by name').all();
      expect(names).toEqual(ALL_MIGRATIONS);
      expect(raw.prepare('select count(*) as n from users').get()).toEqual({ n: 3 });
    } finally {
      raw.close();
    }
  });

  it('tightens an existing file to 0600', async () => {
    const { dir } = await freshSqliteFile();
    const file = join(dir, 'loose.db');
    new SqliteDatabase(file).close();
    await chmod(file, 0o644);
    const store = await openSqliteStore(file);
    await store.close();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('migrates safely when several processes open a new file at once', async () => {
    // Separate processes, as in real life: within one process better-sqlite3 blocks the event
    // loop while it waits for a lock, so two in-process connections cannot take turns.
    const { file } = await freshSqliteFile();
    const results = await openInProcesses(file, 3);
    expect(results).toEqual(['opened', 'opened', 'opened']);
    const raw = new SqliteDatabase(file, { readonly: true });
    try {
      expect(raw.prepare('select name from kysely_migration order by name').all()).toEqual(
        ALL_MIGRATIONS,
      );
    } finally {
      raw.close();
    }
  });

  it('indexes text from several processes at once, each distinct text stored once', async () => {
    // The search index reads (which texts are known) before it writes; its transaction takes
    // the write lock first, so a process that must wait does wait, rather than failing.
    const { file } = await freshSqliteFile();
    const store = await openSqliteStore(file);
    await store.createRecording({
      sessionId: 'ses_1',
      userId: 'usr_1',
      resourceId: 'res_1',
      protocol: 'postgres',
      owner: 'gw_1',
      storage: 'segments',
      startedAt: T,
    });
    await store.close();
    const results = await runInProcesses(
      file,
      3,
      `for (let i = 0; i < 20; i++) {
        await store.insertRecordingText([
          { sessionId: 'ses_1', seq: n * 100 + i, time: 0, channel: 0, kind: 'query', text: 'select 1 as shared' },
          { sessionId: 'ses_1', seq: n * 100 + i, time: 0, channel: 0, kind: 'query', text: 'select ' + i + ' as own' + n },
        ]);
      }`,
    );
    expect(results).toEqual(['opened', 'opened', 'opened']);
    const raw = new SqliteDatabase(file, { readonly: true });
    try {
      const count = (sql: string) => (raw.prepare(sql).get() as { n: number }).n;
      // The shared text, and one shape per process (`select ? as ownN`, issue #11); each
      // occurrence keeps its constant's word.
      expect(count('select count(*) as n from indexed_texts')).toBe(1 + 3);
      expect(count('select count(*) as n from recording_text')).toBe(3 * 20 * 2);
      expect(count('select count(*) as n from literal_words')).toBe(3 * 20 * 2);
    } finally {
      raw.close();
    }
  });

  it('opens an in-memory store', async () => {
    const store = await openSqliteStore(':memory:');
    try {
      await store.createUser(newUser(1));
      expect(await store.listUsers()).toHaveLength(1);
    } finally {
      await store.close();
    }
  });
});

/**
 * Starts `count` node processes that each open the SQLite file once all of them are ready
 * (a stdin barrier, so their migrations overlap), and resolves with what each printed.
 */
function openInProcesses(file: string, count: number): Promise<string[]> {
  return runInProcesses(file, count, '');
}

/**
 * Starts `count` node processes that, once all of them are ready (a stdin barrier, so what
 * they do overlaps), each open the SQLite file and run `work` (JavaScript, with `store` and
 * the process number `n` in scope); resolves with what each printed ('opened' when all went
 * well).
 */
async function runInProcesses(file: string, count: number, work: string): Promise<string[]> {
  const openStoreUrl = new URL('./openStore.ts', import.meta.url).href;
  const script = `
    import { openSqliteStore } from ${JSON.stringify(openStoreUrl)};
    const n = Number(process.env.WITNESS_PROCESS);
    process.stdout.write('ready\\n');
    process.stdin.once('data', async () => {
      try {
        const store = await openSqliteStore(process.env.WITNESS_DB);
        ${work}
        await store.close();
        process.stdout.write('opened');
      } catch (error) {
        process.stdout.write(String(error));
      }
      process.exit(0);
    });
  `;
  const children = Array.from({ length: count }, (_, n) =>
    spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, WITNESS_DB: file, WITNESS_PROCESS: String(n) },
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const outputs = children.map((child) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('ready\n')) resolve();
      });
    });
    const done = new Promise<string>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', () => resolve(out.replace('ready\n', '')));
    });
    return { child, ready, done };
  });
  await Promise.all(outputs.map((o) => o.ready));
  for (const { child } of outputs) child.stdin.end('go\n');
  return Promise.all(outputs.map((o) => o.done));
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

describeWithPostgres('PostgreSQL store', () => {
  it('parses int8 to numbers only in its own pool, not process-wide', async () => {
    const url = await freshPostgresDatabase();
    const store = await openPostgresStore(url);
    try {
      await store.createUser(newUser(1));
      expect((await store.getUserById('usr_1'))?.createdAt).toBe(T + 1);
      expect(pg.types.getTypeParser(20, 'text')('42')).toBe('42');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query('select created_at from users');
        expect(rows).toEqual([{ created_at: String(T + 1) }]);
      } finally {
        await client.end();
      }
    } finally {
      await store.close();
    }
  });

  it('migrates safely when several gateways open a new database at once', async () => {
    const url = await freshPostgresDatabase();
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => openPostgresStore(url)));
    const stores = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      expect(results.map((r) => r.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);
      await stores[0]?.createUser(newUser(1));
      expect(await stores[3]?.getUserByUsername('user1')).toBeDefined();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query('select name from kysely_migration order by name');
        expect(rows).toEqual(ALL_MIGRATIONS);
      } finally {
        await client.end();
      }
    } finally {
      for (const s of stores) await s.close();
    }
  });

  it('says which database it could not migrate, without the password', async () => {
    const url = new URL(await freshPostgresDatabase());
    url.password = 'wrong-password';
    url.pathname = '/no_such_database';
    const attempt = openPostgresStore(url.toString());
    await expect(attempt).rejects.toThrow(/PostgreSQL database .*no_such_database/);
    await expect(attempt).rejects.not.toThrow(/wrong-password/);
  });
});
