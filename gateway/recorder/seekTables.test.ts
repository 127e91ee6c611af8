/**
 * Seek tables of recordings written before the recorder stored them (issue #16): scanned once,
 * on the first request, by one scan however many ask at once, then stored, so another gateway
 * process reads them without scanning; a stored table that no longer matches the stored size is
 * scanned again. Real segment files and a real SQLite store.
 */
import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  generateRecordingKey,
  RecordingBuilder,
} from '../../shared/recording/fixtures/recordingFixture.ts';
import { scanSeekTable } from '../../shared/recording/seekTable.ts';
import { openSqliteStore } from '../store/openStore.ts';
import type { RecordingMetadata } from '../store/recordingStore.ts';
import type { Store } from '../store/store.ts';
import { RecordingArchive } from './recordingArchive.ts';
import { SegmentFileStorage } from './recordingStorage.ts';
import { SeekTables } from './seekTables.ts';

const key = generateRecordingKey();
const sessionId = 'ses_old';

describe('SeekTables for recordings without a stored table', () => {
  let root: string;
  let store: Store;
  let archive: RecordingArchive;
  let scans: number;
  let bytes: Buffer;
  let cutAt: number;

  const tables = () =>
    new SeekTables(
      {
        open: (recording) => {
          scans += 1;
          return archive.open(recording);
        },
        storedBytes: (recording) => archive.storedBytes(recording),
      },
      store,
    );

  const row = async (): Promise<RecordingMetadata> => {
    const found = await store.getRecording(sessionId);
    if (!found) throw new Error('no row');
    return found;
  };

  beforeEach(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'witness-seek-tables-'));
    store = await openSqliteStore(':memory:');
    const storage = new SegmentFileStorage(root);
    archive = new RecordingArchive([storage], key.publicKeyPem);
    scans = 0;
    const r = new RecordingBuilder(sessionId, key);
    for (let seq = 1; seq <= 12; seq++) {
      r.frame('o', 1, `line ${seq}\r\n`);
      if (seq % 4 === 0) r.checkpoint({ final: seq === 12 });
    }
    const [header, ...rest] = r.records;
    const sink = await storage.create(sessionId, header!.bytes);
    await sink.write(r.bytes(rest));
    await sink.close();
    bytes = r.bytes();
    cutAt = r.offsetOf(r.indexOf('checkpoint', 8) + 1);
    await store.createRecording({
      sessionId,
      userId: 'usr_a',
      resourceId: 'res_a',
      protocol: 'ssh',
      owner: 'gw_1',
      storage: 'segments',
      startedAt: 1,
    });
    await store.finishRecording(sessionId, { status: 'complete', endedAt: 2 });
  });

  afterEach(async () => {
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('scans once for everyone who asks at once, stores it, and another process reads it', async () => {
    const first = tables();
    const asked = await Promise.all([first.get(await row()), first.get(await row())]);
    expect(scans).toBe(1);
    const expected = await scanSeekTable(bytes);
    expect(asked).toEqual([expected, expected]);
    expect(await store.getSeekTable(sessionId)).toEqual(expected);
    expect(await tables().get(await row())).toEqual(expected);
    expect(scans).toBe(1);
  });

  it('scans again when the stored size no longer matches the stored table', async () => {
    await tables().get(await row());
    // Cut after the second checkpoint (as a tamper test cuts a recording short).
    truncateSync(path.join(root, sessionId, '000000.seg'), cutAt);
    const table = await tables().get(await row());
    expect(scans).toBe(2);
    expect(table.bytes).toBe(cutAt);
    expect(table.points.map((point) => point.seq)).toEqual([4, 8]);
    expect((await store.getSeekTable(sessionId))?.bytes).toBe(cutAt);
  });

  it('does not store the table of a recording still being written', async () => {
    await store.createRecording({
      sessionId: 'ses_live',
      userId: 'usr_a',
      resourceId: 'res_a',
      protocol: 'ssh',
      owner: 'gw_1',
      storage: 'segments',
      startedAt: 1,
    });
    const storage = new SegmentFileStorage(root);
    const r = new RecordingBuilder('ses_live', key);
    r.frame('o', 1, 'still going\r\n');
    r.checkpoint();
    const [header, ...rest] = r.records;
    const sink = await storage.create('ses_live', header!.bytes);
    await sink.write(r.bytes(rest));
    await sink.flush();
    const live = await store.getRecording('ses_live');
    expect((await tables().get(live!)).points).toHaveLength(1);
    expect(await store.getSeekTable('ses_live')).toBeUndefined();
    await sink.close();
  });
});
