/**
 * A recording in a local file (the cache; a bundle's stream after its prefix) opened
 * progressively from disk (issue #16): ranges and the seek table come from the file, the first
 * stretch shows verified, and a byte flipped in a later stretch of the file is caught at its seq.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  generateRecordingKey,
  RecordingBuilder,
} from '../../../shared/recording/fixtures/recordingFixture.ts';
import { writeBundle } from '../../../shared/recording/recordingBundle.ts';
import { scanSeekTable } from '../../../shared/recording/seekTable.ts';
import { bundleStreamOf } from './bundleFiles.ts';
import { localProgressiveSource } from './localProgressiveSource.ts';
import { PlaybackService } from './playbackService.ts';
import { ProgressiveRecording } from './progressiveRecording.ts';

const key = generateRecordingKey();
const STRETCHES = 40;
const LINES = 20;
/** Stands for a bundle's prefix: the stream starts after it. */
const PREFIX = Buffer.from('not part of the stream\n');

function buildRecording(): RecordingBuilder {
  const r = new RecordingBuilder('ses_local', key, { meta: { protocol: 'ssh' } });
  r.json('m', 1, { type: 'pty-req', term: 'xterm', cols: 100, rows: 30, width: 0, height: 0 });
  for (let s = 0; s < STRETCHES; s++) {
    for (let i = 0; i < LINES; i++) r.frame('o', 1, `stretch ${s} line ${i}\r\n`, 100);
    r.checkpoint({ final: s === STRETCHES - 1 });
  }
  return r;
}

const seqOf = (s: number, i: number) => 2 + s * LINES + i;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of body) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

/** The stream written after PREFIX in a file, opened progressively from it. */
async function openLocal(stream: Buffer) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-local-'));
  dirs.push(dir);
  const file = path.join(dir, 'recording.wbundle');
  writeFileSync(file, Buffer.concat([PREFIX, stream]));
  const source = localProgressiveSource({
    file,
    startOffset: PREFIX.length,
    length: stream.length,
  });
  const part = path.join(dir, 'stream.wrec.part');
  const recording = await ProgressiveRecording.start(source, key.publicKeyPem, 'ses_local', part);
  const playbacks = new PlaybackService(() => {});
  const info = await playbacks.openProgressive('c1', recording, {
    keyFingerprint: key.keyId,
    username: null,
    resourceName: null,
    onUpdate: () => {},
    waitBelowBytes: 0,
    finalize: async (report) => ({ report, cacheDir: null, file: part }),
  });
  return { source, recording, playbacks, info };
}

describe('localProgressiveSource', () => {
  it('serves ranges and the seek table of the stream after its offset', async () => {
    const bytes = buildRecording().bytes();
    const { source, playbacks } = await openLocal(bytes);
    const range = await source.downloadRecordingRange('ses_local', 100, 5000);
    expect(range.contentLength).toBe(4900);
    expect((await collect(range.body)).equals(bytes.subarray(100, 5000))).toBe(true);
    const past = await source.downloadRecordingRange('ses_local', bytes.length, bytes.length + 9);
    expect((await collect(past.body)).length).toBe(0);
    expect(await source.getRecordingSeekTable('ses_local')).toEqual(await scanSeekTable(bytes));
    await playbacks.dispose();
  });

  it('opens from disk: the first stretch plays verified, the whole file verifies', async () => {
    const bytes = buildRecording().bytes();
    const { recording, playbacks, info } = await openLocal(bytes);
    expect(info.verdict.verifiedThroughSeq).toBeGreaterThanOrEqual(1 + LINES);
    const first = await playbacks.frames('c1', {
      playbackId: info.playbackId,
      fromMs: 0,
      toMs: 10 ** 9,
    });
    expect(first.events.at(0)?.data).toBe('stretch 0 line 0\r\n');
    const report = await recording.done;
    expect(report).toMatchObject({ status: 'verified', frames: 1 + STRETCHES * LINES });
    await playbacks.dispose();
  });

  it('a byte flipped in a later stretch of the file is caught and named by seq', async () => {
    const r = buildRecording();
    const bytes = r.bytes();
    const badSeq = seqOf(30, 7);
    const at = r.offsetOf(r.indexOf('frame', badSeq)) + 30;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x20, at);
    const { recording, playbacks, info } = await openLocal(bytes);
    // The first stretch is before the flipped byte: it shows.
    expect(info.verdict.status === 'verifying' || info.verdict.status === 'failed').toBe(true);
    const report = await recording.done;
    expect(report).toMatchObject({ status: 'failed', firstBadSeq: badSeq });
    expect(recording.verifiedThroughSeq).toBe(1 + 30 * LINES);
    await new Promise((resolve) => setImmediate(resolve));
    await expect(
      playbacks.seek('c1', { playbackId: info.playbackId, atMs: seqOf(30, 15) * 100 }),
    ).rejects.toMatchObject({
      code: 'verification_failed',
      message: expect.stringContaining(`seq ${badSeq}`),
    });
    await playbacks.dispose();
  });

  it('a bundle: its stream found after the description line, a flipped byte named by seq', async () => {
    const r = buildRecording();
    const bytes = r.bytes();
    const badSeq = seqOf(25, 3);
    const at = r.offsetOf(r.indexOf('frame', badSeq)) + 30;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x20, at);
    async function* once() {
      yield bytes;
    }
    const bundle = await collect(writeBundle(once(), { publicKeyPem: key.publicKeyPem }));
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-bundle-'));
    dirs.push(dir);
    const file = path.join(dir, 'ses_local.wbundle');
    writeFileSync(file, bundle);
    const stream = await bundleStreamOf(file, { publicKeyPem: key.publicKeyPem });
    expect(stream).toMatchObject({ sessionId: 'ses_local', length: bytes.length });
    expect(bundle.subarray(stream!.startOffset).equals(bytes)).toBe(true);
    // Another key is not resolved here: the whole verification opens it and says why.
    expect(await bundleStreamOf(file, { publicKeyPem: generateRecordingKey().publicKeyPem })).toBe(
      null,
    );
    const part = path.join(dir, 'stream.wrec.part');
    const recording = await ProgressiveRecording.start(
      localProgressiveSource({ ...stream!, file }),
      stream!.publicKeyPem,
      stream!.sessionId,
      part,
    );
    expect(recording.verifiedThroughSeq).toBeGreaterThanOrEqual(1 + LINES);
    const report = await recording.done;
    expect(report).toMatchObject({ status: 'failed', firstBadSeq: badSeq });
    expect(report.message).toContain(`frame ${badSeq}`);
    await recording.close();
  });
});
