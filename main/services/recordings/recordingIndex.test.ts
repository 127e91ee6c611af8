import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  chainHash,
  type EventKind,
  encodeFrame,
  encodeFrameRecord,
  encodeHeaderRecord,
  eventKinds,
  initialHash,
} from '../../../shared/recording/recordingFormat.ts';
import { EV_OUTPUT, EV_RESIZE, MAX_PIECE_BYTES, scanRecording } from './recordingIndex.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const T0 = 1_700_000_000_000;

/** A recording file written with the real encoder (no checkpoints: scanning does not verify). */
function recordingFile(
  frames: [channel: number, kind: EventKind, data: string | Buffer, atMs: number][],
  protocol = 'ssh',
): string {
  const header = {
    formatVersion: 2 as const,
    sessionId: 'ses-x',
    keyId: 'ed25519:0',
    startedAt: T0,
    meta: { protocol },
  };
  const parts = [encodeHeaderRecord(header)];
  let hash = initialHash('ses-x', 'ed25519:0');
  frames.forEach(([channel, kind, data, atMs], i) => {
    const frame = encodeFrame({
      seq: i + 1,
      time: T0 + atMs,
      channel,
      kind,
      data: Buffer.from(data),
    });
    hash = chainHash(hash, frame);
    parts.push(encodeFrameRecord(frame, hash));
  });
  const file = path.join(dir, `r${Math.random()}.wrec`);
  writeFileSync(file, Buffer.concat(parts));
  return file;
}

describe('scanRecording', () => {
  it('plays the first terminal channel, sized by its first resize, with big frames in pieces', async () => {
    const big = Buffer.alloc(MAX_PIECE_BYTES * 2 + 10, 0x41);
    const file = recordingFile([
      [0, eventKinds.meta, '{"type":"session-start"}', 0],
      [1, eventKinds.meta, '{"type":"subsystem","name":"sftp"}', 1],
      [1, eventKinds.output, 'sftp bytes', 2],
      [2, eventKinds.resize, '{"cols":132,"rows":43}', 3],
      [2, eventKinds.output, 'hello', 4],
      [2, eventKinds.input, 'ls\r', 1_000],
      [2, eventKinds.output, big, 2_000],
      [2, eventKinds.resize, '{"cols":90,"rows":20}', 3_000],
      [3, eventKinds.output, 'another channel', 3_500],
      [2, eventKinds.output, 'late', 2_500],
    ]);
    const index = await scanRecording(file);
    expect(index).toMatchObject({
      kind: 'terminal',
      channel: 2,
      // sftp (channel 1) is not a terminal; channel 3 is a second one.
      channels: [2, 3],
      frames: 10,
      size: { cols: 132, rows: 43 },
      resizes: [{ t: 3_000, cols: 90, rows: 20 }],
      commands: [{ t: 1_000, text: 'ls' }],
      // Times never go backwards, even when the clock did.
      durationMs: 3_500,
    });
    const e = index.events;
    expect(e.seq.slice(0, e.count)).toEqual([5, 6, 7, 7, 7, 8, 10]);
    expect(e.length.slice(2, 5)).toEqual([MAX_PIECE_BYTES, MAX_PIECE_BYTES, 10]);
    expect(e.kind[5]).toBe(EV_RESIZE);
    expect(e.t[6]).toBe(3_500);
    // The stream links skip the input and resize between outputs.
    expect(e.next[0]).toBe(2);
    expect(e.next[4]).toBe(6);
    expect(e.kind[6]).toBe(EV_OUTPUT);
    expect(index.activity.reduce((a, b) => a + b, 0)).toBe(5 + big.length + 4);
  });

  it('plays another terminal channel when asked: a second shell over the same connection', async () => {
    const file = recordingFile([
      [1, eventKinds.meta, '{"type":"pty-req","cols":100,"rows":30}', 0],
      [1, eventKinds.output, 'first shell$ ', 10],
      [3, eventKinds.meta, '{"type":"pty-req","cols":80,"rows":24}', 500],
      [3, eventKinds.output, 'second shell$ ', 510],
      [1, eventKinds.input, 'ls\r', 1_000],
      [3, eventKinds.input, 'whoami\r', 2_000],
      [3, eventKinds.output, 'whoami\r\nroot\r\n', 2_010],
    ]);
    const second = await scanRecording(file, { channel: 3 });
    expect(second).toMatchObject({
      channel: 3,
      channels: [1, 3],
      size: { cols: 80, rows: 24 },
      commands: [{ t: 2_000, text: 'whoami' }],
    });
    expect(second.events.seq.slice(0, second.events.count)).toEqual([4, 6, 7]);
    const first = await scanRecording(file);
    expect(first).toMatchObject({ channel: 1, channels: [1, 3], size: { cols: 100, rows: 30 } });
    expect(first.events.seq.slice(0, first.events.count)).toEqual([2, 5]);
  });

  it('stops at maxSeq, and a database session has no terminal events', async () => {
    const file = recordingFile([
      [1, eventKinds.output, 'one', 0],
      [1, eventKinds.output, 'two', 10],
      [1, eventKinds.output, 'three', 20],
    ]);
    const index = await scanRecording(file, { maxSeq: 2 });
    expect(index.frames).toBe(2);
    expect(index.events.count).toBe(2);
    const db = await scanRecording(
      recordingFile(
        [[0, eventKinds.query, '{"protocol":"simple","sql":"select 1"}', 5]],
        'postgres',
      ),
    );
    expect(db).toMatchObject({ kind: 'database', channel: null, durationMs: 5 });
    expect(db.events.count).toBe(0);
  });

  it("keeps the session-start frame's who, what and when, only when it is among the frames indexed", async () => {
    const start =
      '{"type":"session-start","user":"alice","userId":"usr_a","resource":"orders-db","resourceId":"res_o"}';
    const file = recordingFile(
      [
        [0, eventKinds.meta, start, 1_250],
        [0, eventKinds.query, '{"protocol":"simple","sql":"select 1"}', 1_300],
      ],
      'postgres',
    );
    expect((await scanRecording(file)).sessionStart).toEqual({
      time: T0 + 1_250,
      user: 'alice',
      resource: 'orders-db',
    });
    // Not vouched for (past maxSeq): not used.
    const unsigned = recordingFile([
      [1, eventKinds.output, 'one', 0],
      [0, eventKinds.meta, start, 10],
    ]);
    expect((await scanRecording(unsigned, { maxSeq: 1 })).sessionStart).toBeNull();
    expect((await scanRecording(unsigned)).sessionStart).toMatchObject({ user: 'alice' });
  });
});
