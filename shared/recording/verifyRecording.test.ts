/**
 * The tamper suite (issue 3, "Done when"): a real recording with real Ed25519 checkpoints, then
 * one change at a time; each must fail — or be partial, for a cut at a record boundary — at
 * the exact seq asserted here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type BuiltRecord,
  buildSshRecording,
  generateRecordingKey,
  RecordingBuilder,
} from './fixtures/recordingFixture.ts';
import {
  chainHash,
  checkpointSigningBytes,
  encodeFrame,
  encodeFrameRecord,
  initialHash,
  type RecordingEvent,
  RecordingReader,
} from './recordingFormat.ts';
import {
  MAX_FRAMES_BETWEEN_CHECKPOINTS,
  RecordingVerifier,
  recordingKeyId,
  type VerificationReport,
  verifyRecording,
} from './verifyRecording.ts';

const key = generateRecordingKey();
const otherKey = generateRecordingKey();
const publicKeyPem = key.publicKeyPem;

function verify(bytes: Uint8Array, options: { expectedSessionId?: string } = {}) {
  return verifyRecording(bytes, { publicKeyPem, ...options });
}

async function* chunked(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += size) yield bytes.subarray(at, at + size);
}

function withRecords(builder: RecordingBuilder, edit: (records: BuiltRecord[]) => void): Buffer {
  const records = [...builder.records];
  edit(records);
  return builder.bytes(records);
}

function flip(bytes: Buffer, offset: number, mask: number): void {
  bytes.writeUInt8(bytes.readUInt8(offset) ^ mask, offset);
}

function expectFailedAt(report: VerificationReport, seq: number, message: RegExp) {
  expect(report).toMatchObject({ ok: false, status: 'failed', firstBadSeq: seq, final: false });
  expect(report.message).toMatch(message);
}

describe('verifyRecording: intact recordings', () => {
  it('verifies a clean recording and hands over every event in order', async () => {
    const recording = buildSshRecording(key);
    const events: RecordingEvent[] = [];
    const report = await verifyRecording(recording.bytes(), {
      publicKeyPem,
      expectedSessionId: 'ses_main',
      onEvent: (event) => events.push({ ...event, data: Buffer.from(event.data) }),
    });
    expect(report).toEqual({
      ok: true,
      status: 'verified',
      sessionId: 'ses_main',
      keyId: key.keyId,
      frames: 12,
      verifiedThroughSeq: 12,
      lastCheckpointSeq: 12,
      final: true,
      interrupted: false,
      firstBadSeq: null,
      message: `verified: all 12 frames of session ses_main are covered by the final checkpoint, signed by ${key.keyId}`,
    });
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(events[4]).toMatchObject({ kind: 'i', channel: 1, time: 1_700_000_000_500 });
    expect(Buffer.from(events[8]!.data).toString('utf8')).toBe('h\u00e9llo \u{1F600}\r\n');
  });

  it('gives the same verdict however the stream is chunked (1 byte, 7 bytes)', async () => {
    const bytes = buildSshRecording(key).bytes();
    for (const size of [1, 7]) {
      const report = await verifyRecording(chunked(bytes, size), { publicKeyPem });
      expect(report.status).toBe('verified');
      expect(report.frames).toBe(12);
    }
    const tampered = Buffer.from(bytes);
    const recording = buildSshRecording(key);
    flip(tampered, recording.offsetOf(recording.indexOf('frame', 6)) + 5 + 20, 1);
    const report = await verifyRecording(chunked(tampered, 3), { publicKeyPem });
    expect(report.firstBadSeq).toBe(6);
  });

  it("lets the caller reuse a chunk's memory after releaseInput (records straddle chunks)", async () => {
    const bytes = buildSshRecording(key).bytes();
    const events: RecordingEvent[] = [];
    const verifier = new RecordingVerifier({ publicKeyPem, onEvent: (e) => events.push(e) });
    // One buffer, filled with the next 37 bytes each time and scribbled over once pushed:
    // whatever the verifier still needed of it must have been copied.
    const scratch = Buffer.alloc(37);
    for (let at = 0; at < bytes.length; at += scratch.length) {
      const piece = bytes.subarray(at, at + scratch.length);
      piece.copy(scratch);
      expect(verifier.push(scratch.subarray(0, piece.length))).toBe(true);
      verifier.releaseInput();
      scratch.fill(0xee);
    }
    expect(verifier.finish()).toMatchObject({ status: 'verified', frames: 12 });
    const expected: RecordingEvent[] = [];
    await verifyRecording(bytes, { publicKeyPem, onEvent: (e) => expected.push(e) });
    expect(events.map((e) => [e.seq, e.kind])).toEqual(expected.map((e) => [e.seq, e.kind]));
  });

  it('is partial when interrupted: verified through the last checkpoint, the rest named', async () => {
    const recording = buildSshRecording(key, { final: false });
    const report = await verify(recording.bytes());
    expect(report).toMatchObject({
      ok: true,
      status: 'partial',
      interrupted: true,
      final: false,
      frames: 12,
      verifiedThroughSeq: 8,
      lastCheckpointSeq: 8,
      firstBadSeq: null,
    });
    expect(report.message).toBe(
      'interrupted (no final checkpoint): frames 1–8 are verified by the signed checkpoint at ' +
        'seq 8; frames 9–12 come after the last checkpoint and are unverified (first unverified seq 9)',
    );
  });

  it('is partial but not ok when there is no checkpoint at all: nothing is signed', async () => {
    const recording = new RecordingBuilder('ses_x', key);
    recording.frame('o', 0, 'forged?');
    const report = await verify(recording.bytes());
    expect(report).toMatchObject({
      ok: false,
      status: 'partial',
      verifiedThroughSeq: 0,
      firstBadSeq: null,
    });
    expect(report.message).toMatch(/no signed checkpoint \(1 frames, first unverified seq 1\)/);
  });

  it('verifies an empty session closed with a final checkpoint at seq 0', async () => {
    const recording = new RecordingBuilder('ses_empty', key).checkpoint({ final: true });
    const report = await verify(recording.bytes());
    expect(report).toMatchObject({ ok: true, status: 'verified', frames: 0 });
  });

  it('accepts a checkpoint that lags behind the frames already written', async () => {
    const recording = new RecordingBuilder('ses_lag', key);
    for (let i = 0; i < 5; i++) recording.frame('o', 0, `line ${i}\n`);
    recording.checkpoint({ seq: 3 });
    recording.checkpoint({ final: true });
    expect((await verify(recording.bytes())).status).toBe('verified');
  });
});

describe('verifyRecording: tampering', () => {
  const recording = buildSshRecording(key);
  const frameIndex = (seq: number) => recording.indexOf('frame', seq);

  it('a flipped byte in frame 6 fails at 6', async () => {
    const bytes = recording.bytes();
    // 5-byte record prefix + 20-byte frame header: the first byte of frame 6's data.
    flip(bytes, recording.offsetOf(frameIndex(6)) + 5 + 20, 0x20);
    const report = await verify(bytes);
    expectFailedAt(report, 6, /^frame 6 was altered: its hash does not match the chain$/);
    expect(report.verifiedThroughSeq).toBe(4);
  });

  it('an altered frame whose stored hashes were all recomputed fails at the checkpoint (8)', async () => {
    // An attacker without the key can rewrite the chain, but not the signed checkpoint.
    const forged = new RecordingBuilder('ses_main', key, { meta: { protocol: 'ssh' } });
    for (const record of recording.records) {
      if (record.type === 'checkpoint') {
        forged.records.push(record);
        continue;
      }
      if (record.type !== 'frame') continue;
      const payload = record.bytes.subarray(5, record.bytes.length - 32);
      const kind = String.fromCharCode(payload[1]!) as RecordingEvent['kind'];
      const data = Buffer.from(payload.subarray(20));
      if (record.seq === 6) data.write('rm', 0);
      forged.frame(kind, payload.readUInt16BE(2), data);
    }
    const report = await verify(forged.bytes());
    expectFailedAt(report, 8, /the chain does not match the checkpoint at seq 8: frames 5–8/);
    expect(report.verifiedThroughSeq).toBe(4);
  });

  it('a dropped frame (6) fails at 6', async () => {
    const bytes = withRecords(recording, (records) => records.splice(frameIndex(6), 1));
    expectFailedAt(
      await verify(bytes),
      6,
      /^frame 6 is missing: the next frame in the stream is 7/,
    );
  });

  it('a dropped frame right before a checkpoint (8) fails at 8', async () => {
    const bytes = withRecords(recording, (records) => records.splice(frameIndex(8), 1));
    expectFailedAt(
      await verify(bytes),
      8,
      /checkpoint at seq 8 covers frames that are not there: only 7/,
    );
  });

  it('two dropped frames before a checkpoint (7, 8) fail at 7', async () => {
    const bytes = withRecords(recording, (records) => records.splice(frameIndex(7), 2));
    expectFailedAt(await verify(bytes), 7, /covers frames that are not there/);
  });

  it('two reordered frames (6, 7) fail at 6', async () => {
    const bytes = withRecords(recording, (records) => {
      const i = frameIndex(6);
      [records[i], records[i + 1]] = [records[i + 1]!, records[i]!];
    });
    expectFailedAt(
      await verify(bytes),
      6,
      /^frame 6 is missing: the next frame in the stream is 7/,
    );
  });

  it('a frame appended after the final checkpoint fails at 13', async () => {
    const frame = encodeFrame({
      seq: 13,
      time: 1_700_000_009_000,
      channel: 0,
      kind: 'o',
      data: Buffer.from('appended'),
    });
    // Correctly chained: only the final checkpoint gives it away.
    const appended = encodeFrameRecord(frame, chainHash(recording.hashAt(12), frame));
    const report = await verify(Buffer.concat([recording.bytes(), appended]));
    expectFailedAt(report, 13, /^frame 13 comes after the final checkpoint \(seq 12\)/);
    expect(report.verifiedThroughSeq).toBe(12);
  });

  it('a checkpoint appended after the final one fails at its seq', async () => {
    const extra = recording.checkpointRecord({ final: true });
    expectFailedAt(
      await verify(Buffer.concat([recording.bytes(), extra])),
      12,
      /checkpoint at seq 12 comes after the final checkpoint/,
    );
  });

  it('a cut in the middle of frame 7 fails at 7', async () => {
    const bytes = recording.bytes();
    const cut = bytes.subarray(0, recording.offsetOf(frameIndex(7)) + 9);
    const report = await verify(cut);
    expectFailedAt(report, 7, /cut off in the middle of a record after frame 6 \(9 bytes/);
    expect(report.verifiedThroughSeq).toBe(4);
  });

  it('a cut in the middle of a checkpoint fails at the next seq', async () => {
    const bytes = recording.bytes();
    const cut = bytes.subarray(0, recording.offsetOf(recording.indexOf('checkpoint', 8)) + 30);
    expectFailedAt(await verify(cut), 9, /cut off in the middle of a record after frame 8/);
  });

  it('a cut at a record boundary after frame 9 is partial, verified through 8', async () => {
    const cut = recording.bytes(recording.records.slice(0, frameIndex(9) + 1));
    const report = await verify(cut);
    expect(report).toMatchObject({
      ok: true,
      status: 'partial',
      interrupted: true,
      frames: 9,
      verifiedThroughSeq: 8,
      firstBadSeq: null,
    });
    expect(report.message).toMatch(
      /frames 9–9 come after the last checkpoint.*first unverified seq 9/,
    );
  });

  it('a cut right after a checkpoint is partial with nothing unverified', async () => {
    const cut = recording.bytes(recording.records.slice(0, recording.indexOf('checkpoint', 8) + 1));
    const report = await verify(cut);
    expect(report).toMatchObject({ status: 'partial', frames: 8, verifiedThroughSeq: 8 });
    expect(report.message).toMatch(/frames 1–8 are verified .* no frame follows it/);
  });

  it("another session's checkpoint (same key) swapped in fails at its seq (8)", async () => {
    const other = buildSshRecording(key, { sessionId: 'ses_other' });
    const bytes = withRecords(recording, (records) => {
      records[recording.indexOf('checkpoint', 8)] = other.records[other.indexOf('checkpoint', 8)]!;
    });
    expectFailedAt(
      await verify(bytes),
      8,
      /^checkpoint at seq 8 belongs to session ses_other, not ses_main$/,
    );
  });

  it('a checkpoint signed by another key fails at its seq (8)', async () => {
    for (const keyId of [key.keyId, otherKey.keyId]) {
      const forged = recording.checkpointRecord({ seq: 8, signWith: otherKey, keyId });
      const bytes = withRecords(recording, (records) => {
        records[recording.indexOf('checkpoint', 8)] = { type: 'checkpoint', seq: 8, bytes: forged };
      });
      const report = await verify(bytes);
      expectFailedAt(report, 8, /^checkpoint at seq 8 is not signed by the key you trust/);
      expect(report.verifiedThroughSeq).toBe(4);
    }
  });

  it('a validly signed checkpoint naming another key id fails at its seq', async () => {
    const forged = recording.checkpointRecord({ seq: 8, keyId: 'ed25519:0000000000000000' });
    const bytes = withRecords(recording, (records) => {
      records[recording.indexOf('checkpoint', 8)] = { type: 'checkpoint', seq: 8, bytes: forged };
    });
    expectFailedAt(await verify(bytes), 8, /names key ed25519:0000000000000000/);
  });

  it('a checkpoint moved back behind a later one fails at its seq (4)', async () => {
    const bytes = withRecords(recording, (records) => {
      const [first] = records.splice(recording.indexOf('checkpoint', 4), 1);
      records.splice(recording.indexOf('checkpoint', 8), 0, first!);
    });
    expectFailedAt(await verify(bytes), 4, /goes back before the previous checkpoint at seq 8/);
  });

  it('a final checkpoint that leaves frames uncovered fails at the first of them', async () => {
    const bytes = withRecords(recording, (records) => {
      records[records.length - 1] = {
        type: 'checkpoint',
        seq: 11,
        bytes: recording.checkpointRecord({ seq: 11, final: true }),
      };
    });
    expectFailedAt(await verify(bytes), 12, /final checkpoint covers frames up to 11/);
  });

  it('an altered event kind byte makes frame 10 unreadable: fails at 10', async () => {
    const bytes = recording.bytes();
    bytes[recording.offsetOf(frameIndex(10)) + 5 + 1] = 0x7a; // 'z' is no kind
    expectFailedAt(
      await verify(bytes),
      10,
      /record after frame 9 is malformed .*unknown event kind/,
    );
  });

  it('the wrong expected session fails the whole recording (seq 0)', async () => {
    const report = await verify(recording.bytes(), { expectedSessionId: 'ses_wanted' });
    expectFailedAt(report, 0, /^this recording is of session ses_main, not ses_wanted$/);
    expect(report.sessionId).toBe('ses_main');
  });

  it('the wrong key fails the whole recording (seq 0) and names both keys', async () => {
    const report = await verifyRecording(recording.bytes(), {
      publicKeyPem: otherKey.publicKeyPem,
    });
    expectFailedAt(
      report,
      0,
      new RegExp(`signed by key ${key.keyId}, but the key given is ${otherKey.keyId}`),
    );
  });

  it('rejects what is not a recording', async () => {
    expectFailedAt(await verify(new Uint8Array()), 0, /empty/);
    expectFailedAt(
      await verify(Buffer.from('PK\x03\x04 a zip file, not a recording')),
      0,
      /bad magic/,
    );
    expectFailedAt(await verify(Buffer.from('WTNS')), 0, /cut off inside its header/);
  });

  it('refuses a key that is not Ed25519', async () => {
    await expect(verifyRecording(recording.bytes(), { publicKeyPem: 'nope' })).rejects.toThrow(
      /not a PEM public key/,
    );
  });
});

describe('verifyRecording: limits', () => {
  it('computes key ids exactly like the gateway (ed25519: + 16 hex of SHA-256 of the raw key)', () => {
    expect(recordingKeyId(key.publicKeyPem)).toBe(key.keyId);
    expect(key.keyId).toMatch(/^ed25519:[0-9a-f]{16}$/);
  });

  it('streams 512 MiB in bounded memory', async () => {
    const data = Buffer.alloc(1024 * 1024, 0x41);
    const builder = new RecordingBuilder('ses_big', key);
    const header = builder.bytes();
    async function* stream(): AsyncGenerator<Uint8Array> {
      yield header;
      for (let i = 0; i < 512; i++) {
        builder.records.length = 0;
        builder.frame('o', 0, data, 1);
        if (builder.frames % 8 === 0) builder.checkpoint({ final: builder.frames === 512 });
        // Delivered the way a socket or file stream would: 64 KiB at a time.
        const bytes = builder.bytes();
        for (let at = 0; at < bytes.length; at += 65536) yield bytes.subarray(at, at + 65536);
      }
    }
    let peak = 0;
    const report = await verifyRecording(stream(), {
      publicKeyPem,
      onEvent: (event) => {
        if (event.seq % 16 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      },
    });
    expect(report).toMatchObject({ status: 'verified', frames: 512 });
    // Buffering the stream would need 512 MiB; garbage not yet collected stays well below.
    expect(peak).toBeLessThan(192 * 1024 * 1024);
  });

  it('keeps the chain hashes a lagging checkpoint needs while its window grows', async () => {
    const recording = new RecordingBuilder('ses_window', key);
    for (let i = 0; i < 5000; i++) recording.frame('o', 0, 'x', 0);
    recording.checkpoint({ seq: 3 }); // 4997 frames behind: the window grew from 1024 slots
    recording.checkpoint({ seq: 4000 });
    recording.checkpoint({ final: true });
    expect((await verify(recording.bytes())).status).toBe('verified');

    const wrong = new RecordingBuilder('ses_window', key);
    for (let i = 0; i < 5000; i++) wrong.frame('o', 0, 'x', 0);
    wrong.checkpoint({ seq: 3000, hash: wrong.hashAt(2999) });
    expect((await verify(wrong.bytes())).firstBadSeq).toBe(3000);
    expect(MAX_FRAMES_BETWEEN_CHECKPOINTS).toBeGreaterThan(5000);
  });
});

describe('the test vector in shared/recording/FORMAT.md', () => {
  const spec = readFileSync(path.resolve(import.meta.dirname, './FORMAT.md'), 'utf8');
  const block = /```test-vector-stream\n([0-9a-f\n]+)```/.exec(spec);
  const stream = Buffer.from((block?.[1] ?? '').replace(/\s/g, ''), 'hex');
  const field = (name: string) =>
    new RegExp(`^${name} {2,}(\\S+)`, 'm').exec(spec)?.[1] ?? `(no ${name} in FORMAT.md)`;
  const pem = [
    '-----BEGIN PUBLIC KEY-----',
    'MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=',
    '-----END PUBLIC KEY-----',
    '',
  ].join('\n');

  it('verifies, and every value it lists is what this implementation computes', async () => {
    expect(stream.length).toBe(438);
    expect(spec).toContain(pem.split('\n')[1]);
    const report = await verifyRecording(stream, { publicKeyPem: pem });
    expect(report).toMatchObject({ status: 'verified', frames: 2, sessionId: 'ses_example' });
    expect(recordingKeyId(pem)).toBe(field('key id'));
    expect(initialHash('ses_example', field('key id'), 1).toString('hex')).toBe(field('h0'));

    const records = new RecordingReader().push(stream);
    const frames = records.flatMap((r) => (r.type === 'frame' ? [r] : []));
    expect(frames.map((f) => f.frame.toString('hex'))).toEqual([
      field('frame 1'),
      field('frame 2'),
    ]);
    expect(frames.map((f) => f.storedHash.toString('hex'))).toEqual([field('h1'), field('h2')]);
    const checkpoint = records.find((r) => r.type === 'checkpoint');
    if (checkpoint?.type !== 'checkpoint') throw new Error('no checkpoint in the test vector');
    const signed = /^signed bytes +([0-9a-f]+(?:\n +[0-9a-f]+)*)/m.exec(spec)?.[1] ?? '';
    expect(checkpointSigningBytes(checkpoint.checkpoint).toString('hex')).toBe(
      signed.replace(/\s/g, ''),
    );
  });

  it('the version-2 vector verifies too, with every value it lists', async () => {
    const v2block = /```test-vector-stream-v2\n([0-9a-f\n]+)```/.exec(spec);
    const v2 = Buffer.from((v2block?.[1] ?? '').replace(/\s/g, ''), 'hex');
    expect(v2.subarray(0, 8).toString('latin1')).toBe('WTNSREC2');
    const report = await verifyRecording(v2, { publicKeyPem: pem });
    expect(report).toMatchObject({ status: 'verified', frames: 2, sessionId: 'ses_example' });
    expect(initialHash('ses_example', field('key id'), 2).toString('hex')).toBe(field('v2 h0'));
    const records = new RecordingReader().push(v2);
    const frames = records.flatMap((r) => (r.type === 'frame' ? [r] : []));
    expect(frames.map((f) => f.frame.toString('hex'))).toEqual([
      field('v2 frame 1'),
      field('v2 frame 2'),
    ]);
    expect(frames.map((f) => f.storedHash.toString('hex'))).toEqual([
      field('v2 h1'),
      field('v2 h2'),
    ]);
    const checkpoint = records.find((r) => r.type === 'checkpoint');
    if (checkpoint?.type !== 'checkpoint') throw new Error('no checkpoint in the v2 vector');
    const signed = /^v2 signed bytes +([0-9a-f]+(?:\n +[0-9a-f]+)*)/m.exec(spec)?.[1] ?? '';
    expect(checkpointSigningBytes(checkpoint.checkpoint).toString('hex')).toBe(
      signed.replace(/\s/g, ''),
    );
    // A version-1 reader's rules do not apply to it: a v1 checkpoint tag would not verify.
    expect(checkpointSigningBytes({ ...checkpoint.checkpoint, formatVersion: 1 })).not.toEqual(
      checkpointSigningBytes(checkpoint.checkpoint),
    );
  });
});
