/**
 * Progressive playback against a real gateway (issue #16, the tamper "Done when"): a recording
 * signed with the gateway's own key is in its storage; its data directory is edited behind its
 * back; the desktop's ProgressiveRecording and PlaybackService read it over HTTPS through the
 * GatewayClient, with the whole-stream download held after its first stretches so "not
 * downloaded yet" is a fact of the test. A flipped byte in a later stretch is refused by the
 * seek that reaches it (naming the seq), by the download's own verification and by the
 * gateway's background verification; a recording cut short shows what verifies and where it
 * stops.
 */
import { createPrivateKey } from 'node:crypto';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SegmentFileStorage } from '../../gateway/recorder/recordingStorage.ts';
import { type Download, GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { PlaybackService } from '../../main/services/recordings/playbackService.ts';
import {
  ProgressiveRecording,
  type ProgressiveSource,
} from '../../main/services/recordings/progressiveRecording.ts';
import { RecordingBuilder } from '../../shared/recording/fixtures/recordingFixture.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';

const STRETCHES = 30;
const LINES = 20;
/** Seq of line `i` of stretch `s` (the pty-req is frame 1); its time is seq·100 ms after start. */
const seqOf = (s: number, i: number) => 2 + s * LINES + i;

/** The gateway's whole-stream download, passed on up to `firstBytes` until `release()`. */
class HeldDownloads implements ProgressiveSource {
  private released!: () => void;
  private readonly releasedNow = new Promise<void>((resolve) => {
    this.released = resolve;
  });
  ranges = 0;

  constructor(
    private readonly client: GatewayClient,
    private readonly firstBytes: number,
  ) {}

  release(): void {
    this.released();
  }

  async downloadRecording(sessionId: string): Promise<Download> {
    const real = await this.client.downloadRecording(sessionId);
    const body = new PassThrough();
    void (async () => {
      let sent = 0;
      for await (const chunk of real.body as AsyncIterable<Buffer>) {
        let rest = chunk;
        if (sent < this.firstBytes) {
          const now = rest.subarray(0, this.firstBytes - sent);
          body.write(now);
          sent += now.length;
          rest = rest.subarray(now.length);
        }
        if (rest.length === 0) continue;
        await this.releasedNow;
        body.write(rest);
        sent += rest.length;
      }
      body.end();
    })().catch((error: unknown) => body.destroy(error as Error));
    return { ...real, body };
  }

  downloadRecordingRange(sessionId: string, from: number, to: number): Promise<Download> {
    this.ranges += 1;
    return this.client.downloadRecordingRange(sessionId, from, to);
  }

  getRecordingSeekTable(sessionId: string) {
    return this.client.getRecordingSeekTable(sessionId);
  }
}

describe('progressive playback of a tampered recording from a real gateway', () => {
  let gw: TestGateway;
  let client: GatewayClient;
  let userId: string;
  const work = mkdtempSync(path.join(os.tmpdir(), 'witness-prog-tamper-'));
  const closing: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    gw = await startTestGateway();
    userId = await gw.createUser('alice', 'auditor', 'alice-password-1');
    const accessToken = await gw.login('alice', 'alice-password-1');
    client = new GatewayClient(
      { baseUrl: gw.gateway.apiUrl, caPem: gw.gateway.services.keys.caPem },
      { tokens: () => ({ accessToken, refreshToken: 'unused' }), tokensRefreshed: () => {} },
    );
  }, 60_000);

  afterEach(async () => {
    for (const close of closing.splice(0)) await close();
  });

  afterAll(async () => {
    client?.close();
    await gw?.close();
    rmSync(work, { recursive: true, force: true });
  });

  /** Stores a recording signed with the gateway's key, as its recorder would have written it. */
  async function storeRecording(sessionId: string): Promise<RecordingBuilder> {
    const startedAt = gw.clock.now();
    const r = new RecordingBuilder(sessionId, gatewayKey(), {
      startedAt,
      meta: { protocol: 'ssh' },
    });
    r.json('m', 1, { type: 'pty-req', term: 'xterm', cols: 100, rows: 30, width: 0, height: 0 });
    for (let s = 0; s < STRETCHES; s++) {
      for (let i = 0; i < LINES; i++) r.frame('o', 1, `stretch ${s} line ${i}\r\n`, 100);
      r.checkpoint({ final: s === STRETCHES - 1 });
    }
    const storage = new SegmentFileStorage(path.join(gw.dataDir, 'recordings'));
    const [header, ...rest] = r.records;
    const sink = await storage.create(sessionId, header!.bytes);
    await sink.write(r.bytes(rest));
    await sink.close();
    const { store } = gw.gateway.services;
    await store.createRecording({
      sessionId,
      userId,
      resourceId: 'res_gone',
      protocol: 'ssh',
      owner: 'gwi_elsewhere',
      storage: 'segments',
      startedAt,
    });
    await store.finishRecording(sessionId, {
      status: 'complete',
      endedAt: startedAt + seqOf(STRETCHES, 0) * 100,
      progress: {
        frames: r.frames,
        bytes: r.bytes().length,
        lastCheckpointSeq: r.frames,
        lastCheckpointAt: startedAt + r.frames * 100,
      },
    });
    return r;
  }

  /** The gateway's own recording key, from its data directory. */
  const gatewayKey = () => {
    const privateKey = createPrivateKey(
      readFileSync(path.join(gw.dataDir, 'recording-ed25519.pem')),
    );
    const { keyId, publicKeyPem } = gw.gateway.services.keys.recordingKey;
    return { keyId, publicKeyPem, privateKey };
  };

  const segmentOf = (sessionId: string) =>
    path.join(gw.dataDir, 'recordings', sessionId, '000000.seg');

  async function open(sessionId: string, r: RecordingBuilder) {
    // The first three stretches arrive; the rest waits for release().
    const source = new HeldDownloads(client, r.offsetOf(r.indexOf('checkpoint', seqOf(2, 19))));
    const file = path.join(work, `${sessionId}.part`);
    const recording = await ProgressiveRecording.start(
      source,
      gw.gateway.services.keys.recordingKey.publicKeyPem,
      sessionId,
      file,
    );
    const playbacks = new PlaybackService(() => {});
    const info = await playbacks.openProgressive('c1', recording, {
      keyFingerprint: gw.gateway.services.keys.recordingKey.keyId,
      username: 'alice',
      resourceName: null,
      onUpdate: () => {},
      waitBelowBytes: 0,
      finalize: async (report) => ({ report, cacheDir: null, file }),
    });
    closing.push(async () => {
      source.release();
      await playbacks.dispose();
    });
    return { source, recording, playbacks, info };
  }

  it('a flipped byte in a stretch not downloaded yet: refused by the seek at its seq, by the download and by the gateway', async () => {
    const sessionId = 'ses_progflip';
    const r = await storeRecording(sessionId);
    const badSeq = seqOf(20, 7);
    const at = r.offsetOf(r.indexOf('frame', badSeq)) + 30;
    const fd = openSync(segmentOf(sessionId), 'r+');
    const byte = Buffer.alloc(1);
    readSync(fd, byte, 0, 1, at);
    byte[0] = (byte[0] as number) ^ 0x20;
    writeSync(fd, byte, 0, 1, at);
    closeSync(fd);

    const { source, recording, playbacks, info } = await open(sessionId, r);
    expect(recording.verifiedThroughSeq).toBeLessThan(seqOf(3, 0));
    const seek = playbacks.seek('c1', { playbackId: info.playbackId, atMs: seqOf(20, 15) * 100 });
    await expect(seek).rejects.toMatchObject({
      code: 'verification_failed',
      message: expect.stringContaining(`seq ${badSeq}`),
    });
    expect(source.ranges).toBeGreaterThan(0);
    // The download had not reached it: the seek fetched and judged the stretch on its own.
    expect(recording.verifiedThroughSeq).toBeLessThan(seqOf(3, 0));
    // A stretch before it still shows, verified.
    const before = await playbacks.seek('c1', {
      playbackId: info.playbackId,
      atMs: seqOf(12, 3) * 100,
    });
    expect(before.snapshot).toContain('stretch 12 line 3');

    source.release();
    expect(await recording.done).toMatchObject({ status: 'failed', firstBadSeq: badSeq });
    expect(recording.verifiedThroughSeq).toBe(seqOf(19, LINES - 1));
    // The gateway's background verification (queued by the stream) says the same.
    await expect
      .poll(
        async () =>
          (await gw.gateway.services.store.getRecording(sessionId))?.lastVerification?.firstBadSeq,
        { timeout: 20_000, interval: 100 },
      )
      .toBe(badSeq);
  });

  it('a recording cut short shows what verifies and says where it stops', async () => {
    const sessionId = 'ses_progcut';
    const r = await storeRecording(sessionId);
    // Cut in the middle of a frame of stretch 15, far past what the open downloads first.
    truncateSync(segmentOf(sessionId), r.offsetOf(r.indexOf('frame', seqOf(15, 5))) + 9);
    const { source, recording, playbacks, info } = await open(sessionId, r);
    // A seek past the cut shows the end of what a signature covers, nothing after it.
    const past = await playbacks.seek('c1', {
      playbackId: info.playbackId,
      atMs: seqOf(25, 0) * 100,
    });
    expect(past.snapshot).toContain(`stretch 14 line ${LINES - 1}`);
    expect(past.snapshot).not.toContain('stretch 15');
    expect(source.ranges).toBeGreaterThan(0);
    source.release();
    const report = await recording.done;
    // Verified through the last checkpoint before the cut; the torn frame after it is named.
    expect(report).toMatchObject({
      status: 'failed',
      verifiedThroughSeq: seqOf(14, LINES - 1),
      firstBadSeq: seqOf(15, 5),
      message: expect.stringContaining('cut off in the middle of a record after frame'),
    });
    const page = await playbacks.frames('c1', {
      playbackId: info.playbackId,
      fromMs: seqOf(14, 0) * 100,
      toMs: 10 ** 9,
    });
    expect(page.events.at(-1)?.data).toBe(`stretch 14 line ${LINES - 1}\r\n`);
  });
});
