/**
 * Stretches verified on their own (issue #16): the seek table found from record heads, each
 * stretch between two signed checkpoints verified from the hash its first checkpoint signs,
 * and tampering in one stretch caught there, at its seq, without reading anything before it.
 */
import { describe, expect, it } from 'vitest';
import { generateRecordingKey, RecordingBuilder, START_TIME } from './fixtures/recordingFixture.ts';
import { type RecordingEvent, RecordingReader } from './recordingFormat.ts';
import { type SeekTable, scanSeekTable, stretchIndexAt, stretchRange } from './seekTable.ts';
import { type StretchVerdict, StretchVerifier } from './verifyStretch.ts';

const key = generateRecordingKey();
const otherKey = generateRecordingKey();

/** 5 stretches of 4 output frames each; the third checkpoint lags one frame behind. */
function buildRecording(options: { final?: boolean } = {}): RecordingBuilder {
  const r = new RecordingBuilder('ses_stretch', key);
  for (let stretch = 0; stretch < 5; stretch++) {
    for (let i = 0; i < 4; i++) r.frame('o', 1, `stretch ${stretch} line ${i}\r\n`, 250);
    if (stretch === 2) {
      // Written while the next frame was appended (FORMAT.md §3 allows it to lag).
      const covered = r.frames;
      r.frame('o', 1, 'written during the sync\r\n', 250);
      r.checkpoint({ seq: covered });
    } else {
      r.checkpoint({ final: options.final !== false && stretch === 4 });
    }
  }
  return r;
}

function headerOf(bytes: Buffer) {
  const record = new RecordingReader().push(bytes).find((r) => r.type === 'header');
  if (record?.type !== 'header') throw new Error('no header');
  return record.header;
}

function verifyOne(
  bytes: Buffer,
  table: SeekTable,
  index: number,
  events: RecordingEvent[] = [],
  publicKeyPem = key.publicKeyPem,
): StretchVerdict {
  const range = stretchRange(table, index);
  const verifier = new StretchVerifier({
    publicKeyPem,
    sessionId: 'ses_stretch',
    range,
    header: headerOf(bytes),
    onEvent: (event) => events.push(event),
  });
  // In small pieces, as a download would arrive.
  const stretch = bytes.subarray(range.from, range.to);
  for (let at = 0; at < stretch.length; at += 7) {
    if (!verifier.push(stretch.subarray(at, at + 7))) break;
  }
  return verifier.finish();
}

describe('seek table from record heads', () => {
  it('lists every checkpoint with its seq, signed hash, times and offsets', async () => {
    const r = buildRecording();
    const bytes = r.bytes();
    const table = await scanSeekTable(bytes);
    expect(table.sessionId).toBe('ses_stretch');
    expect(table.bytes).toBe(bytes.length);
    expect(table.frames).toBe(21);
    expect(table.points.map((p) => p.seq)).toEqual([4, 8, 12, 17, 21]);
    expect(table.points.at(-1)!.final).toBe(true);
    for (const point of table.points) {
      expect(point.hash).toBe(r.hashAt(point.seq).toString('hex'));
      const index = r.indexOf('checkpoint', point.seq);
      expect(point.offset).toBe(r.offsetOf(index));
      expect(point.end).toBe(r.offsetOf(index + 1));
      expect(point.frameTime).toBe(START_TIME + point.seq * 250);
    }
    // The lagging checkpoint: the stretch after it starts at frame 13, before the checkpoint.
    const lagging = table.points[2]!;
    expect(lagging.from).toBe(r.offsetOf(r.indexOf('frame', 13)));
    expect(lagging.from).toBeLessThan(lagging.offset);
    // Any chunking gives the same table.
    const pieces = (async function* () {
      for (let at = 0; at < bytes.length; at += 3) yield bytes.subarray(at, at + 3);
    })();
    expect(await scanSeekTable(pieces)).toEqual(table);
  });

  it('finds the stretch holding a time', async () => {
    const table = await scanSeekTable(buildRecording().bytes());
    expect(stretchIndexAt(table, START_TIME)).toBe(0);
    expect(stretchIndexAt(table, START_TIME + 4 * 250)).toBe(0);
    expect(stretchIndexAt(table, START_TIME + 4 * 250 + 1)).toBe(1);
    expect(stretchIndexAt(table, START_TIME + 13 * 250)).toBe(3);
    expect(stretchIndexAt(table, START_TIME + 10 ** 9)).toBe(4);
  });
});

describe('StretchVerifier', () => {
  it('verifies each stretch alone, through the checkpoint that ends it', async () => {
    const r = buildRecording();
    const bytes = r.bytes();
    const table = await scanSeekTable(bytes);
    const seqs: number[] = [];
    for (let index = 0; index < table.points.length; index++) {
      const events: RecordingEvent[] = [];
      const verdict = verifyOne(bytes, table, index, events);
      const after = index === 0 ? 0 : table.points[index - 1]!.seq;
      expect(verdict).toMatchObject({
        status: 'verified',
        afterSeq: after,
        throughSeq: table.points[index]!.seq,
        final: index === 4,
        firstBadSeq: null,
      });
      // Frames handed over start right after the stretch's start, whatever the lag.
      expect(events[0]!.seq).toBe(after + 1);
      seqs.push(...events.filter((e) => e.seq <= verdict.throughSeq).map((e) => e.seq));
    }
    expect(seqs).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
  });

  it('catches a flipped byte in a later stretch at its seq, reading only that stretch', async () => {
    const r = buildRecording();
    const bytes = r.bytes();
    const table = await scanSeekTable(bytes);
    const offset = r.offsetOf(r.indexOf('frame', 15));
    bytes.writeUInt8(bytes.readUInt8(offset + 30) ^ 0x01, offset + 30); // in frame 15's data
    const verdict = verifyOne(bytes, table, 3);
    expect(verdict.status).toBe('failed');
    expect(verdict.firstBadSeq).toBe(15);
    expect(verdict.throughSeq).toBe(12);
    expect(verdict.message).toMatch(/frame 15 was altered/);
    // The stretches before it still verify on their own.
    expect(verifyOne(bytes, table, 2).status).toBe('verified');
  });

  it('refuses a seek table that lies about the starting hash', async () => {
    const r = buildRecording();
    const bytes = r.bytes();
    const table = await scanSeekTable(bytes);
    const lying: SeekTable = {
      ...table,
      points: table.points.map((p, i) => (i === 1 ? { ...p, hash: '00'.repeat(32) } : p)),
    };
    const verdict = verifyOne(bytes, lying, 2);
    expect(verdict.status).toBe('failed');
    // The checkpoint the stretch starts with signs another hash: nothing after it is trusted.
    expect(verdict.firstBadSeq).toBe(9);
    expect(verdict.message).toMatch(/does not match the checkpoint at seq 8/);
  });

  it('refuses checkpoints signed by another key', async () => {
    const r = buildRecording();
    const bytes = r.bytes();
    const table = await scanSeekTable(bytes);
    const verdict = verifyOne(bytes, table, 1, [], otherKey.publicKeyPem);
    expect(verdict.status).toBe('failed');
    expect(verdict.firstBadSeq).toBe(0);
  });

  it('a recording cut short verifies through its last checkpoint and says where it stops', async () => {
    const r = buildRecording({ final: false });
    const full = r.bytes();
    // Cut inside stretch 4: after frame 19.
    const cut = full.subarray(0, r.offsetOf(r.indexOf('frame', 20)));
    const table = await scanSeekTable(cut);
    expect(table.points.map((p) => p.seq)).toEqual([4, 8, 12, 17]);
    expect(table.frames).toBe(19);
    expect(verifyOne(cut, table, 3)).toMatchObject({ status: 'verified', throughSeq: 17 });
    // What follows the last checkpoint is not a stretch that can verify.
    const tail = new StretchVerifier({
      publicKeyPem: key.publicKeyPem,
      sessionId: 'ses_stretch',
      range: {
        index: 4,
        from: table.points[3]!.end,
        to: cut.length,
        after: table.points[3]!,
      },
      header: headerOf(cut),
    });
    tail.push(cut.subarray(table.points[3]!.end));
    expect(tail.finish()).toMatchObject({
      status: 'unverified',
      throughSeq: 17,
      message: expect.stringMatching(/after seq 17/),
    });
  });
});

describe('stretch boundaries where checkpoints lag', () => {
  /**
   * Builds a recording from a pattern of checkpoints, each covering the frames written so far
   * and then lagging `lag` frames behind (as the recorder's checkpoint does while its sync runs).
   */
  function lagging(pattern: readonly { frames: number; lag: number }[]): RecordingBuilder {
    const r = new RecordingBuilder('ses_stretch', key);
    for (const [n, { frames, lag }] of pattern.entries()) {
      for (let i = 0; i < frames; i++) r.frame('o', 1, `cp ${n} frame ${i}\r\n`);
      const covered = r.frames;
      for (let i = 0; i < lag; i++) r.frame('o', 1, `cp ${n} during the sync ${i}\r\n`);
      r.checkpoint({ seq: covered });
    }
    return r.checkpoint({ final: true });
  }

  async function everyStretchVerifies(r: RecordingBuilder): Promise<void> {
    const bytes = r.bytes();
    const table = await scanSeekTable(bytes);
    let covered = 0;
    for (let index = 0; index < table.points.length; index++) {
      const verdict = verifyOne(bytes, table, index);
      expect({ index, status: verdict.status, message: verdict.message }).toEqual({
        index,
        status: 'verified',
        message: expect.any(String),
      });
      expect(verdict.afterSeq).toBe(covered);
      covered = verdict.throughSeq;
    }
    expect(covered).toBe(r.frames);
  }

  // The recordingSeekTable flake under load: a checkpoint started right after a lagging one's
  // record (the tick fired during its sync) covers exactly the frames that preceded that
  // record, so the stretch after it used to start before the lagging record and fail.
  it('a checkpoint covering only the frames a lagging one was written after', async () => {
    const r = lagging([
      { frames: 4, lag: 2 },
      { frames: 0, lag: 0 },
      { frames: 2, lag: 0 },
    ]);
    const table = await scanSeekTable(r.bytes());
    const [lag, next] = table.points;
    expect(next!.seq).toBe(lag!.seq + 2);
    expect(next!.from).toBe(lag!.end);
    await everyStretchVerifies(r);
  });

  it('every pattern of lags and gaps a recorder can write', async () => {
    // Deterministic pseudo-random patterns (a linear congruential generator), so a failure
    // names a pattern that can be run again.
    let state = 16;
    const next = (n: number) => {
      state = (state * 1103515245 + 12345) % 2 ** 31;
      return state % n;
    };
    for (let trial = 0; trial < 300; trial++) {
      const pattern: { frames: number; lag: number }[] = [];
      for (let n = 1 + next(5); n > 0; n--) {
        // The first checkpoint covers at least one frame; a later one may cover only the
        // frames written during the previous one's sync, but never nothing new.
        const frames = (pattern.length === 0 ? 1 : 0) + next(3);
        const lag = next(3);
        if (frames + (pattern.at(-1)?.lag ?? 0) > 0) pattern.push({ frames, lag });
      }
      await everyStretchVerifies(lagging(pattern)).catch((error: unknown) => {
        throw new Error(`pattern ${JSON.stringify(pattern)}: ${String(error)}`);
      });
    }
  });
});
