import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RecordingVerification } from '../../shared/api/apiSchemas.ts';
import type { Logger } from '../logger.ts';
import { openSqliteStore } from '../store/openStore.ts';
import type { RecordingMetadata, RecordingStore } from '../store/recordingStore.ts';
import type { StoreHandle } from '../store/storeConnection.ts';
import type { JudgeOptions, RecordingJudgement } from './recordingJudge.ts';
import { RecordingReverifier } from './recordingReverifier.ts';

const T = 1_700_000_000_000;

/**
 * A judge that stores what it is given to say, and records the order and overlap of its calls;
 * the verification itself is the real one in recordingJudge (covered end to end by
 * test/integration/recordingVerdicts.test.ts).
 */
class ScriptedJudge {
  readonly judged: string[] = [];
  /** Whether each judgement was allowed to take a stored verdict (in call order). */
  readonly reuse: boolean[] = [];
  running = 0;
  mostAtOnce = 0;
  failing = new Set<string>();
  /** Called at the start of each judgement (to act in the middle of a pass). */
  onJudge: (sessionId: string) => void = () => {};

  constructor(private readonly store: RecordingStore) {}

  async judge(
    recording: RecordingMetadata,
    options: JudgeOptions = {},
  ): Promise<RecordingJudgement> {
    this.reuse.push(options.reuseUnchanged === true);
    this.running += 1;
    this.mostAtOnce = Math.max(this.mostAtOnce, this.running);
    this.judged.push(recording.sessionId);
    this.onJudge(recording.sessionId);
    await new Promise((resolve) => setTimeout(resolve, 1));
    const failed = this.failing.has(recording.sessionId);
    const verification: RecordingVerification = failed
      ? { status: 'failed', verifiedThroughSeq: 1, firstBadSeq: 2, message: 'frame 2 is bad' }
      : { status: 'verified', verifiedThroughSeq: 3, firstBadSeq: null, message: 'verified' };
    await this.store.recordRecordingVerification(recording.sessionId, {
      status: verification.status,
      verifiedThroughSeq: verification.verifiedThroughSeq,
      at: T,
    });
    this.running -= 1;
    return { verification, signed: null, checkedAt: T, reused: false };
  }
}

function logged(): Logger & { lines: Array<{ level: string; message: string; fields: unknown }> } {
  const lines: Array<{ level: string; message: string; fields: unknown }> = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    lines.push({ level, message, fields });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}

describe('RecordingReverifier', () => {
  let store: RecordingStore & StoreHandle;
  let judge: ScriptedJudge;
  let reverifier: RecordingReverifier;

  const add = async (n: number, status: 'recording' | 'complete' = 'complete') => {
    const sessionId = `ses_${String(n).padStart(3, '0')}`;
    await store.createRecording({
      sessionId,
      userId: 'usr_a',
      resourceId: 'res_a',
      protocol: 'ssh',
      owner: 'gw_1',
      storage: 'segments',
      startedAt: T + n * 1000,
    });
    if (status === 'complete') {
      await store.finishRecording(sessionId, { status: 'complete', endedAt: T + n * 1000 + 500 });
    }
    return sessionId;
  };

  beforeEach(async () => {
    store = await openSqliteStore(':memory:');
    judge = new ScriptedJudge(store);
    reverifier = new RecordingReverifier({ store, judge });
  });
  afterEach(async () => {
    await reverifier.stop();
    await store.close();
  });

  it('checks every stored recording one at a time, past a page, and leaves live ones alone', async () => {
    const ids: string[] = [];
    for (let n = 1; n <= 205; n++) ids.push(await add(n));
    await add(300, 'recording');
    judge.failing.add(ids[7]!);
    const log = logged();
    const result = await new Promise<Awaited<ReturnType<RecordingReverifier['pass']>>>(
      (resolve) => {
        void reverifier.pass().then(resolve);
        reverifier.start(3600_000, log);
      },
    );
    expect(result).toMatchObject({ checked: 205, failed: 1, newlyFailed: 1 });
    expect([...judge.judged].sort()).toEqual([...ids].sort());
    expect(judge.mostAtOnce).toBe(1);
    expect((await store.getRecording(ids[7]!))?.lastVerification?.status).toBe('failed');
    expect(log.lines).toContainEqual({
      level: 'warn',
      message: 'recording fails verification',
      fields: { sessionId: ids[7], firstBadSeq: 2, detail: 'frame 2 is bad' },
    });
    expect(log.lines).toContainEqual(
      expect.objectContaining({
        level: 'info',
        message: 'recordings re-verified',
        fields: expect.objectContaining({ recordings: 205, recordingsFailingVerification: 1 }),
      }),
    );
    // A second pass finds it failing still, but not newly: no second warning.
    const again = await reverifier.pass();
    expect(again).toMatchObject({ checked: 205, failed: 1, newlyFailed: 0 });
    expect(log.lines.filter((l) => l.message === 'recording fails verification')).toHaveLength(1);
  });

  it('checks a recording whose bytes were read before the rest of a pass', async () => {
    const ids: string[] = [];
    for (let n = 1; n <= 20; n++) ids.push(await add(n));
    // The list is newest first: ses_001 is the last a pass reaches.
    judge.onJudge = (sessionId) => {
      if (sessionId === ids[19]) reverifier.request(ids[0]!);
    };
    await new Promise<void>((resolve) => {
      void reverifier.pass().then(() => resolve());
      reverifier.start(3600_000, logged());
    });
    expect(judge.judged[0]).toBe(ids[19]);
    // Asked for while the newest was being checked: next, then the pass goes on.
    expect(judge.judged[1]).toBe(ids[0]);
    expect(judge.judged).toHaveLength(21);
    // A read for someone may take a stored verdict on unchanged bytes; a pass reads them all.
    expect(judge.reuse[1]).toBe(true);
    expect(judge.reuse.filter((reuse) => reuse)).toHaveLength(1);
  });

  it('verifies a requested recording without a pass, never a live one, and nothing once stopped', async () => {
    const done = await add(1);
    const live = await add(2, 'recording');
    reverifier.request(live);
    reverifier.request(done);
    await expect.poll(() => judge.judged).toEqual([done]);
    await reverifier.stop();
    reverifier.request(done);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(judge.judged).toEqual([done]);
  });

  it('leaves out a requested recording verified since the request (no second verification of the same read)', async () => {
    const done = await add(1);
    let now = T - 1_000;
    // Verified by someone else at T; the request was made at T - 1 s (the verdict is newer).
    await store.recordRecordingVerification(done, {
      status: 'verified',
      verifiedThroughSeq: 3,
      at: T,
    });
    reverifier = new RecordingReverifier({ store, judge, now: () => now });
    reverifier.request(done);
    const other = await add(2);
    now = T + 1_000;
    reverifier.request(other);
    await expect.poll(() => judge.judged).toEqual([other]);
  });
});
