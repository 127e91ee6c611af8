import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  describeWithPostgres,
  freshPostgresDatabase,
} from '../../test/harness/postgresForTests.ts';
import { openPostgresStore, openSqliteStore } from '../store/openStore.ts';
import type { RecordingStore } from '../store/recordingStore.ts';
import type { StoreHandle } from '../store/storeConnection.ts';
import { diskFullError, FailingStorage } from './fixtures/failingStorage.ts';
import { readStoredBytes } from './fixtures/readRecording.ts';
import {
  DatabaseChunkStorage,
  RecordingNotFoundError,
  SegmentFileStorage,
} from './recordingStorage.ts';

const HEADER = Buffer.from('WTNSREC1-header-bytes');

describe('SegmentFileStorage', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'witness-segments-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('appends to owner-only segment files and reads them back in order', async () => {
    const root = join(dir, 'recordings');
    const storage = new SegmentFileStorage(root);
    const sink = await storage.create('ses_a', HEADER);
    const body = randomBytes(5000);
    await sink.write(body.subarray(0, 1000));
    await sink.write(body.subarray(1000));
    await sink.close();

    expect(await readStoredBytes(storage, 'ses_a')).toEqual(Buffer.concat([HEADER, body]));
    expect((await stat(root)).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, 'ses_a'))).mode & 0o777).toBe(0o700);
    expect((await stat(join(root, 'ses_a', '000000.seg'))).mode & 0o777).toBe(0o600);
  });

  it('rolls to a new segment at the size limit, splitting a write across files', async () => {
    const storage = new SegmentFileStorage(dir, { segmentBytes: 1000 });
    const sink = await storage.create('ses_roll', HEADER);
    const body = randomBytes(3500);
    await sink.write(body.subarray(0, 10));
    await sink.write(body.subarray(10, 2600)); // spans two boundaries
    await sink.sync();
    await sink.write(body.subarray(2600));
    await sink.close();

    const names = (await readdir(join(dir, 'ses_roll'))).sort();
    expect(names).toEqual(['000000.seg', '000001.seg', '000002.seg', '000003.seg']);
    for (const name of names.slice(0, 3)) {
      expect((await stat(join(dir, 'ses_roll', name))).size).toBe(1000);
    }
    expect(await readStoredBytes(storage, 'ses_roll')).toEqual(Buffer.concat([HEADER, body]));
  });

  it('never overwrites an existing recording', async () => {
    const storage = new SegmentFileStorage(dir);
    await (await storage.create('ses_once', HEADER)).close();
    await expect(storage.create('ses_once', HEADER)).rejects.toMatchObject({ code: 'EEXIST' });
    expect(await readStoredBytes(storage, 'ses_once')).toEqual(HEADER);
  });

  it('refuses session ids that could leave the recordings directory', async () => {
    const storage = new SegmentFileStorage(dir);
    for (const id of ['../etc', 'a/b', '', '.', 'x'.repeat(200)]) {
      await expect(storage.create(id, HEADER)).rejects.toThrow(/not a valid session id/);
    }
  });

  it('says when a recording is missing, and when a segment in the middle is', async () => {
    const storage = new SegmentFileStorage(dir, { segmentBytes: 100 });
    await expect(readStoredBytes(storage, 'ses_none')).rejects.toBeInstanceOf(
      RecordingNotFoundError,
    );
    const sink = await storage.create('ses_gap', HEADER);
    await sink.write(randomBytes(250));
    await sink.close();
    await unlink(join(dir, 'ses_gap', '000001.seg'));
    await expect(readStoredBytes(storage, 'ses_gap')).rejects.toThrow(/000001\.seg .* missing/);
  });

  it('refuses writes after a failed one: the end of the file is unknown', async () => {
    const storage = new SegmentFileStorage(dir);
    const sink = await storage.create('ses_closed', HEADER);
    await sink.close();
    await expect(sink.write(Buffer.from('late'))).rejects.toThrow(/closed/);
  });
});

describe('FailingStorage (fault injection)', () => {
  it('stores what fits, then fails that write and every later one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'witness-failing-'));
    try {
      const storage = new FailingStorage(new SegmentFileStorage(dir), { failAfterBytes: 10 });
      const sink = await storage.create('ses_full', HEADER);
      await sink.write(Buffer.from('12345'));
      await expect(sink.write(Buffer.from('67890abc'))).rejects.toMatchObject({ code: 'ENOSPC' });
      await expect(sink.write(Buffer.from('x'))).rejects.toThrow(diskFullError().message);
      await expect(sink.sync()).rejects.toMatchObject({ code: 'ENOSPC' });
      await sink.close();
      expect((await readStoredBytes(storage, 'ses_full')).toString()).toBe(
        `${HEADER.toString()}1234567890`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

function describeDatabaseChunkStorage(
  name: string,
  openStore: () => Promise<RecordingStore & StoreHandle>,
): void {
  describe(`DatabaseChunkStorage on ${name}`, () => {
    let store: RecordingStore & StoreHandle;
    beforeEach(async () => {
      store = await openStore();
    });
    afterEach(async () => {
      await store.close();
    });

    it('commits every write before it resolves (issue #17), split into chunks', async () => {
      const storage = new DatabaseChunkStorage(store, { chunkBytes: 1000 });
      const sink = await storage.create('ses_commit', HEADER);
      const body = randomBytes(2300);
      await sink.write(body.subarray(0, 30)); // a keystroke's echo: committed, not buffered
      // In the store without a sync (buffering, this would still be in memory).
      expect(
        (await store.listRecordingChunks('ses_commit', 0, 10)).map((c) => c.data.length),
      ).toEqual([30]);
      await sink.writev?.([body.subarray(30, 1500), body.subarray(1500)]);
      expect(
        (await store.listRecordingChunks('ses_commit', 0, 10)).map((c) => c.data.length),
      ).toEqual([30, 1000, 1000, 270]);
      await sink.close();
      expect(await readStoredBytes(storage, 'ses_commit')).toEqual(Buffer.concat([HEADER, body]));
    });

    it('stores the header at once, buffers up to a chunk, flushes at sync, and reads back in pages', async () => {
      const storage = new DatabaseChunkStorage(store, {
        chunkBytes: 1000,
        chunksPerPage: 2,
        commitEachWrite: false,
      });
      const sink = await storage.create('ses_db', HEADER);
      expect((await store.listRecordingChunks('ses_db', -1, 10)).map((c) => c.chunkNo)).toEqual([
        0,
      ]);

      const body = randomBytes(4321);
      await sink.write(body.subarray(0, 300));
      // Below a chunk: still buffered.
      expect(await store.listRecordingChunks('ses_db', 0, 10)).toEqual([]);
      await sink.sync();
      expect((await store.listRecordingChunks('ses_db', 0, 10)).map((c) => c.data.length)).toEqual([
        300,
      ]);
      await sink.write(body.subarray(300, 2800)); // 2500 bytes: flushed as 1000 + 1000 + 500
      await sink.write(body.subarray(2800));
      await sink.close();

      const chunks = await store.listRecordingChunks('ses_db', -1, 100);
      expect(chunks.map((c) => c.chunkNo)).toEqual(chunks.map((_, i) => i));
      expect(Math.max(...chunks.map((c) => c.data.length))).toBeLessThanOrEqual(1000);
      expect(await readStoredBytes(storage, 'ses_db')).toEqual(Buffer.concat([HEADER, body]));
    });

    it('never overwrites an existing recording, and says when one is missing', async () => {
      const storage = new DatabaseChunkStorage(store);
      await (await storage.create('ses_once', HEADER)).close();
      await expect(storage.create('ses_once', HEADER)).rejects.toMatchObject({
        name: 'StoreConflictError',
      });
      await expect(readStoredBytes(storage, 'ses_none')).rejects.toBeInstanceOf(
        RecordingNotFoundError,
      );
    });
  });
}

describeDatabaseChunkStorage('SQLite', () => openSqliteStore(':memory:'));
describeWithPostgres('DatabaseChunkStorage (PostgreSQL)', () => {
  describeDatabaseChunkStorage('PostgreSQL', async () =>
    openPostgresStore(await freshPostgresDatabase()),
  );
});
