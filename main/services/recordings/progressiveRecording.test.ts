/**
 * Progressive playback (issue #16) against a gateway stand-in that serves a real signed
 * recording and holds its stream back on command, so "before the download reaches it" is a
 * fact of the test, not a race: the first stretch plays once verified; a seek past the
 * download verifies its stretch on its own; a flipped byte there is refused at its seq, by the
 * seek and by the download's verdict; a recording cut short shows what verifies.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Download } from '../../../gateway-client/gatewayClient.ts';
import {
  generateRecordingKey,
  RecordingBuilder,
} from '../../../shared/recording/fixtures/recordingFixture.ts';
import { scanSeekTable } from '../../../shared/recording/seekTable.ts';
import { DesktopError } from '../../ipc/contract.ts';
import { PlaybackService } from './playbackService.ts';
import { ProgressiveRecording, type ProgressiveSource } from './progressiveRecording.ts';

const key = generateRecordingKey();
const STRETCHES = 40;
const LINES = 20;

/** A terminal session: 40 stretches of 20 output lines, 100 ms apart, a checkpoint after each. */
function buildRecording(options: { final?: boolean } = {}): RecordingBuilder {
  const r = new RecordingBuilder('ses_prog', key, { meta: { protocol: 'ssh' } });
  r.json('m', 1, { type: 'pty-req', term: 'xterm', cols: 100, rows: 30, width: 0, height: 0 });
  for (let s = 0; s < STRETCHES; s++) {
    for (let i = 0; i < LINES; i++) r.frame('o', 1, `stretch ${s} line ${i}\r\n`, 100);
    r.checkpoint({ final: options.final !== false && s === STRETCHES - 1 });
  }
  return r;
}

/** Serves `bytes`; the whole-stream download sends `firstBytes`, then the rest on `release`. */
class HeldGateway implements ProgressiveSource {
  ranges: { from: number; to: number }[] = [];
  private stream: PassThrough | null = null;

  constructor(
    private readonly bytes: Buffer,
    private readonly firstBytes: number,
  ) {}

  async downloadRecording(): Promise<Download> {
    const body = new PassThrough();
    this.stream = body;
    body.write(this.bytes.subarray(0, this.firstBytes));
    return { body, contentType: 'application/octet-stream', contentLength: this.bytes.length };
  }

  release(): void {
    this.stream?.end(this.bytes.subarray(this.firstBytes));
  }

  async downloadRecordingRange(_id: string, from: number, to: number): Promise<Download> {
    this.ranges.push({ from, to });
    const body = new PassThrough();
    body.end(this.bytes.subarray(from, to));
    return { body, contentType: 'application/octet-stream', contentLength: to - from };
  }

  async getRecordingSeekTable() {
    return scanSeekTable(this.bytes);
  }
}

/** Seq of line `i` of stretch `s` (the pty-req is frame 1); its time is seq·100 ms. */
const seqOf = (s: number, i: number) => 2 + s * LINES + i;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function open(bytes: Buffer, firstBytes: number) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-prog-'));
  dirs.push(dir);
  const gateway = new HeldGateway(bytes, firstBytes);
  const file = path.join(dir, 'stream.wrec.part');
  const recording = await ProgressiveRecording.start(gateway, key.publicKeyPem, 'ses_prog', file);
  const playbacks = new PlaybackService(() => {});
  const updates: string[] = [];
  const info = await playbacks.openProgressive('c1', recording, {
    keyFingerprint: key.keyId,
    username: null,
    resourceName: null,
    onUpdate: (next) => updates.push(next.verdict.status),
    waitBelowBytes: 0,
    finalize: async (report) => ({ report, cacheDir: null, file }),
  });
  return { gateway, recording, playbacks, info, file, updates };
}

/** Where the third stretch ends: the first two stretches and a bit arrive at once. */
function heldAt(r: RecordingBuilder): number {
  return r.offsetOf(r.indexOf('checkpoint', 1 + 2 * LINES)) + 10;
}

describe('ProgressiveRecording + PlaybackService', () => {
  it('shows the first stretch once verified, and the final verdict when the download ends', async () => {
    const r = buildRecording();
    const bytes = r.bytes();
    const { gateway, recording, playbacks, info, file, updates } = await open(bytes, heldAt(r));
    expect(info.verdict.status).toBe('verifying');
    // The stretches that arrived at once (at least the first) are verified before it opens.
    const through = info.verdict.verifiedThroughSeq;
    expect([1 + LINES, 1 + 2 * LINES]).toContain(through);
    // The whole length is known from the seek table before the bytes are.
    expect(info.verdict.totalMs).toBe((1 + STRETCHES * LINES) * 100);
    expect(info.durationMs).toBe((1 + STRETCHES * LINES) * 100);
    const first = await playbacks.frames('c1', {
      playbackId: info.playbackId,
      fromMs: 0,
      toMs: 10 ** 9,
    });
    expect(first.events.at(0)?.data).toBe('stretch 0 line 0\r\n');
    // Nothing past the last verified checkpoint is served, however much has arrived.
    expect(first.events.at(-1)?.data).toBe(
      `stretch ${(through - 1) / LINES - 1} line ${LINES - 1}\r\n`,
    );
    gateway.release();
    const report = await recording.done;
    expect(report.status).toBe('verified');
    await new Promise((resolve) => setImmediate(resolve));
    expect(updates.at(-1)).toBe('verified');
    expect(readFileSync(file).equals(bytes)).toBe(true);
    await playbacks.dispose();
  });

  it('seeks past the download: the stretch is fetched by range, verified, and shown', async () => {
    const r = buildRecording();
    const { gateway, playbacks, info } = await open(r.bytes(), heldAt(r));
    const atMs = seqOf(30, 5) * 100;
    const seek = await playbacks.seek('c1', { playbackId: info.playbackId, atMs });
    expect(seek.snapshot).toContain('stretch 30 line 5');
    expect(seek.snapshot).not.toContain('stretch 30 line 6');
    expect(gateway.ranges.length).toBeGreaterThan(0);
    // Playing on from there continues in the island, then fetches the stretches after it.
    let cursor: number | null = seek.nextSeq;
    const seen: string[] = [];
    while (cursor !== null && seen.length < 200) {
      const page = await playbacks.frames('c1', {
        playbackId: info.playbackId,
        fromMs: atMs,
        toMs: 10 ** 9,
        fromSeq: cursor,
      });
      seen.push(...page.events.map((e) => e.data));
      cursor = page.nextFromSeq;
    }
    expect(seen[0]).toBe('stretch 30 line 6\r\n');
    expect(seen.at(-1)).toBe(`stretch ${STRETCHES - 1} line ${LINES - 1}\r\n`);
    gateway.release();
    await playbacks.dispose();
  });

  it('a flipped byte in a stretch not downloaded yet: the seek refuses it at its seq, so does the download', async () => {
    const r = buildRecording();
    const bytes = r.bytes();
    const badSeq = seqOf(30, 7);
    const at = r.offsetOf(r.indexOf('frame', badSeq)) + 30;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x20, at);
    const { gateway, recording, playbacks, info } = await open(bytes, heldAt(r));
    const seek = playbacks.seek('c1', {
      playbackId: info.playbackId,
      atMs: seqOf(30, 15) * 100,
    });
    await expect(seek).rejects.toBeInstanceOf(DesktopError);
    await expect(seek).rejects.toMatchObject({
      code: 'verification_failed',
      message: expect.stringContaining(`seq ${badSeq}`),
    });
    // Before the bad frame, the same stretch still shows what its earlier checkpoint covers.
    const before = await playbacks.seek('c1', {
      playbackId: info.playbackId,
      atMs: seqOf(29, 3) * 100,
    });
    expect(before.snapshot).toContain('stretch 29 line 3');
    gateway.release();
    const report = await recording.done;
    expect(report).toMatchObject({ status: 'failed', firstBadSeq: badSeq });
    // The download stopped showing at the last checkpoint before the bad frame.
    expect(recording.verifiedThroughSeq).toBe(1 + 30 * LINES);
    await new Promise((resolve) => setImmediate(resolve));
    await expect(
      playbacks.frames('c1', { playbackId: info.playbackId, fromMs: 0, toMs: 1000 }),
    ).rejects.toMatchObject({ code: 'verification_failed' });
    await playbacks.dispose();
  });

  it('a recording cut short shows what verifies and says where it stops', async () => {
    const r = buildRecording({ final: false });
    const full = r.bytes();
    const cut = full.subarray(0, r.offsetOf(r.indexOf('frame', 1 + 20 * LINES + 5)));
    const { gateway, recording, playbacks, info } = await open(cut, heldAt(r));
    gateway.release();
    const report = await recording.done;
    expect(report.status).toBe('partial');
    expect(report.verifiedThroughSeq).toBe(1 + 20 * LINES);
    expect(report.message).toMatch(/interrupted.*first unverified seq 402/);
    await new Promise((resolve) => setImmediate(resolve));
    const page = await playbacks.frames('c1', {
      playbackId: info.playbackId,
      fromMs: seqOf(19, 0) * 100,
      toMs: 10 ** 9,
    });
    expect(page.events.at(-1)?.data).toBe(`stretch 19 line ${LINES - 1}\r\n`);
    await playbacks.dispose();
  });
});

describe('cold seeks into quiet gaps', () => {
  it('a seek into the quiet gap before an island’s first frame shows the screen before it, not an empty one', async () => {
    // Stretches of 400 KiB (no earlier ones are fetched as context), each after 10 s of quiet.
    const r = new RecordingBuilder('ses_prog', key, { meta: { protocol: 'ssh' } });
    r.json('m', 1, { type: 'pty-req', term: 'xterm', cols: 100, rows: 30, width: 0, height: 0 });
    const lastFrameOf: number[] = [];
    /** Ms from the start of each frame, by seq. */
    const msAt: number[] = [0, 100];
    for (let s = 0; s < 8; s++) {
      for (let f = 0; f < 4; f++) {
        let text = '';
        for (let n = 0; text.length < 100 * 1024; n++)
          text += `stretch ${s} frame ${f} line ${n}\r\n`;
        r.frame('o', 1, text, f === 0 ? 10_000 : 100);
        msAt.push(msAt.at(-1)! + (f === 0 ? 10_000 : 100));
      }
      lastFrameOf.push(r.frames);
      r.checkpoint({ final: s === 7 });
    }
    const msOf = (seq: number) => msAt[seq]!;
    const { gateway, playbacks, info } = await open(
      r.bytes(),
      r.offsetOf(r.indexOf('checkpoint', lastFrameOf[0]!) + 1),
    );
    // An island from stretch 5 (its third frame)...
    const inside = await playbacks.seek('c1', {
      playbackId: info.playbackId,
      atMs: msOf(lastFrameOf[4]! + 3),
    });
    expect(inside.snapshot).toContain('stretch 5 frame 2');
    // ...then the gap before its first frame: the screen stretch 4 left.
    const gap = await playbacks.seek('c1', {
      playbackId: info.playbackId,
      atMs: msOf(lastFrameOf[4]!) + 5_000,
    });
    expect(gap.snapshot).toContain('stretch 4 frame 3');
    gateway.release();
    await playbacks.dispose();
  });
});
