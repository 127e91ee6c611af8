/**
 * The judge takes a stored verdict only while what it was made on is unchanged (issue #16): real
 * segment files, a real SQLite store, real verification. Every edit a tamper test makes to the
 * bytes (in place, same size; with the modification time put back) and an edit of the row the
 * check reads makes it read every byte again.
 */
import {
  closeSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  generateRecordingKey,
  RecordingBuilder,
  START_TIME,
} from '../../shared/recording/fixtures/recordingFixture.ts';
import { RecordingArchive } from '../recorder/recordingArchive.ts';
import { SegmentFileStorage } from '../recorder/recordingStorage.ts';
import { openSqliteStore } from '../store/openStore.ts';
import type { RecordingMetadata } from '../store/recordingStore.ts';
import type { Store } from '../store/store.ts';
import { RecordingJudge } from './recordingJudge.ts';

const key = generateRecordingKey();
const SETTLE_MS = 20;
const settled = () => new Promise((resolve) => setTimeout(resolve, SETTLE_MS * 3));

describe('RecordingJudge with a stored verdict', () => {
  let root: string;
  let store: Store;
  let judge: RecordingJudge;
  let inspections: number;
  let recording: RecordingBuilder;
  const sessionId = 'ses_main';
  const segment = () => path.join(root, sessionId, '000000.seg');

  beforeEach(async () => {
    root = mkdtempSync(path.join(os.tmpdir(), 'witness-judge-'));
    store = await openSqliteStore(':memory:');
    const storage = new SegmentFileStorage(root, { fingerprintSettleMs: SETTLE_MS });
    inspections = 0;
    judge = judgeOf(storage);
    recording = new RecordingBuilder(sessionId, key);
    for (let seq = 1; seq <= 12; seq++) {
      recording.frame('o', 1, `line ${seq} of the output\r\n`);
      if (seq % 4 === 0) recording.checkpoint({ final: seq === 12 });
    }
    const [header, ...rest] = recording.records;
    const sink = await storage.create(sessionId, header!.bytes);
    await sink.write(recording.bytes(rest));
    await sink.close();
    await store.createRecording({
      sessionId,
      userId: 'usr_a',
      resourceId: 'res_a',
      protocol: 'ssh',
      owner: 'gw_1',
      storage: 'segments',
      startedAt: START_TIME,
    });
    // Ended when its last frame was signed (the row's end is checked against it).
    await store.finishRecording(sessionId, { status: 'complete', endedAt: START_TIME + 1_300 });
  });

  afterEach(async () => {
    await store.close();
    rmSync(root, { recursive: true, force: true });
  });

  const judgeOf = (storage: SegmentFileStorage) => {
    const archive = new RecordingArchive([storage], key.publicKeyPem);
    return new RecordingJudge({
      recordings: {
        inspect: (r) => {
          inspections += 1;
          return archive.inspect(r);
        },
        fingerprint: (r) => archive.fingerprint(r),
      },
      store,
      clock: { now: () => Date.now() },
    });
  };

  const row = async (): Promise<RecordingMetadata> => {
    const found = await store.getRecording(sessionId);
    if (!found) throw new Error('no row');
    return found;
  };

  it('reuses the verdict while the bytes and the row are unchanged', async () => {
    await settled();
    const first = await judge.judge(await row(), { reuseUnchanged: true });
    expect(first.reused).toBe(false);
    expect(first.verification).toMatchObject({ status: 'verified' });
    expect((await row()).lastVerification?.judgedOn).toEqual(expect.any(String));
    const again = await judge.judge(await row(), { reuseUnchanged: true });
    expect(again).toMatchObject({ reused: true, checkedAt: first.checkedAt });
    expect(again.verification).toEqual(first.verification);
    expect(inspections).toBe(1);
    // The pass (no reuse asked for) reads every byte whatever the fingerprint says.
    expect((await judge.judge(await row())).reused).toBe(false);
    expect(inspections).toBe(2);
  });

  it('reads again after a byte is flipped in place, even with the modification time put back', async () => {
    await settled();
    await judge.judge(await row(), { reuseUnchanged: true });
    const before = statSync(segment());
    const at = recording.offsetOf(recording.indexOf('frame', 6)) + 30;
    const fd = openSync(segment(), 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    byte[0] = (byte[0] as number) ^ 0x01;
    writeSync(fd, byte, 0, 1, at);
    closeSync(fd);
    utimesSync(segment(), before.atime, before.mtime);
    expect(statSync(segment()).size).toBe(before.size);
    await settled();
    const judged = await judge.judge(await row(), { reuseUnchanged: true });
    expect(judged.reused).toBe(false);
    expect(judged.verification).toMatchObject({ status: 'failed', firstBadSeq: 6 });
  });

  it('does not reuse a verdict made within the settle time of the last write', async () => {
    // Just written (as far as a minute's settle time can tell): a write in the same clock
    // tick could leave the times as they are.
    const hasty = judgeOf(new SegmentFileStorage(root, { fingerprintSettleMs: 60_000 }));
    await hasty.judge(await row(), { reuseUnchanged: true });
    expect((await row()).lastVerification?.judgedOn).toBeUndefined();
    expect((await hasty.judge(await row(), { reuseUnchanged: true })).reused).toBe(false);
    expect(inspections).toBe(2);
  });

  it('reads again when a row fact the check reads has changed', async () => {
    await settled();
    await judge.judge(await row(), { reuseUnchanged: true });
    // As a row edited in the database would read (its status, progress or size).
    for (const edited of [
      { status: 'interrupted' as const },
      { lastCheckpointSeq: 8 },
      { bytes: 999 },
      { frames: 13 },
    ]) {
      expect(
        (await judge.judge({ ...(await row()), ...edited }, { reuseUnchanged: true })).reused,
      ).toBe(false);
    }
    expect(inspections).toBe(5);
  });

  it('never reuses a failed verdict', async () => {
    const fd = openSync(segment(), 'r+');
    writeSync(fd, Buffer.from([0]), 0, 1, recording.offsetOf(recording.indexOf('frame', 3)) + 30);
    closeSync(fd);
    await settled();
    expect((await judge.judge(await row(), { reuseUnchanged: true })).verification.status).toBe(
      'failed',
    );
    expect((await judge.judge(await row(), { reuseUnchanged: true })).reused).toBe(false);
  });
});
