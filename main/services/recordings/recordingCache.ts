/**
 * Verified downloads kept in the app-data folder. A recording is downloaded once, written to
 * disk, verified and indexed for playback in the same pass (the verifier sees each chunk as it
 * is queued for disk, and hands each frame it accepts to the index), against
 * the recording key pinned when the gateway was first trusted. Only a fully verified recording
 * (final checkpoint) is kept for reuse: it can no longer change, so opening it again needs no
 * download and no second verification — the gateway is still asked (the stream is opened and
 * dropped at once) so access is checked and audited on every view. Anything else (partial,
 * failed) is downloaded again each time it is opened.
 *
 * Layout: `<app data>/recordings-cache/<gateway+key+user>/<session>/stream.wrec` with
 * `verdict.json` beside it (and `keyframes.json`, written by keyframes.ts).
 */
import { createHash } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path';
import type { Download } from '../../../gateway-client/gatewayClient.ts';
import type { VerificationReport } from '../../../gateway-client/recording/verifyRecording.ts';
import { VerifierWorkerLostError } from './backgroundVerifier.ts';
import { BatchedFileWriter } from './batchedFileWriter.ts';
import { type ChunkOutcome, pumpChunks, STOP_READING } from './chunkPump.ts';
import type { RecordingIndex } from './recordingIndex.ts';
import {
  type VerificationJob,
  type VerificationOutcome,
  verifyInThread,
} from './verificationJob.ts';

export const RECORDINGS_CACHE_DIR = 'recordings-cache';
const VERDICT_VERSION = 1;
const PROGRESS_EVERY_MS = 100;

export interface PinnedKey {
  url: string;
  recordingPublicKeyPem: string;
  recordingKeyFingerprint: string;
}

export interface VerifiedRecording {
  file: string;
  /** Directory for derived data (keyframes) — null when it must not be kept. */
  cacheDir: string | null;
  report: VerificationReport;
  /** Bytes of the recording stream. */
  bytes: number;
  fromCache: boolean;
  /**
   * The playback index, built in the download pass from the frames the verifier accepted —
   * only when the verdict is `verified` (then every frame is covered by the final signed
   * checkpoint); otherwise null and the playback indexes the file itself, up to where trust
   * ends. Null from the cache too (the playback has index.json).
   */
  index: RecordingIndex | null;
}

export type ProgressListener = (
  phase: 'download' | 'verify',
  bytes: number,
  total: number | null,
) => void;

/** What the cache needs of the gateway: the recording stream. */
export interface RecordingDownloader {
  downloadRecording(sessionId: string): Promise<Download>;
}

/** Starts verifying one download (a BackgroundVerifier in the app; in-thread by default). */
export interface VerifierFactory {
  start(publicKeyPem: string, sessionId: string): VerificationJob;
}

export class RecordingCache {
  constructor(
    private readonly root: string,
    private readonly verifiers: VerifierFactory = { start: verifyInThread },
  ) {}

  async fetch(
    client: RecordingDownloader,
    pinned: PinnedKey,
    username: string,
    sessionId: string,
    onProgress?: ProgressListener,
  ): Promise<VerifiedRecording> {
    const dir = path.join(
      this.root,
      shortHash(`${pinned.url}\n${pinned.recordingKeyFingerprint}\n${username}`),
      safeName(sessionId),
    );
    const file = path.join(dir, 'stream.wrec');
    const verdictFile = path.join(dir, 'verdict.json');
    const cached = await readVerdict(verdictFile, file, sessionId);
    const download = await client.downloadRecording(sessionId);
    if (cached) {
      // Access is checked (and the view audited) by opening the stream; the bytes are known.
      download.body.destroy();
      return {
        file,
        cacheDir: dir,
        report: cached.report,
        bytes: cached.bytes,
        fromCache: true,
        index: null,
      };
    }
    await fs.mkdir(dir, { recursive: true });
    await fs.rm(verdictFile, { force: true });
    const temp = `${file}.${process.pid}.${Date.now()}.part`;
    const handle = await fs.open(temp, 'w');
    const writer = new BatchedFileWriter(handle);
    // One pass: each chunk is queued for disk and handed to the verifier (which indexes the
    // frames it accepts) as it arrives; the file is read back only for the frames shown.
    const job = this.verifiers.start(pinned.recordingPublicKeyPem, sessionId);
    const sink = new DownloadSink(writer, job, download.contentLength, onProgress);
    let outcome: VerificationOutcome;
    try {
      try {
        await pumpChunks(download.body, sink.accept);
        await writer.flush();
      } finally {
        download.body.destroy();
        await writer.idle();
        await handle.close();
      }
      outcome = await job.finish().catch(async (error: unknown) => {
        if (!(error instanceof VerifierWorkerLostError)) throw error;
        // Every byte is on disk: verify them again here.
        return verifyFileInThread(temp, pinned.recordingPublicKeyPem, sessionId);
      });
    } catch (error) {
      job.cancel();
      await fs.rm(temp, { force: true });
      throw error;
    }
    const { report } = outcome;
    const bytes = sink.bytes;
    onProgress?.('verify', bytes, bytes);
    await fs.rename(temp, file);
    if (report.status === 'verified') {
      await fs.writeFile(
        verdictFile,
        JSON.stringify({ version: VERDICT_VERSION, sessionId, bytes, report }),
      );
      return { file, cacheDir: dir, report, bytes, fromCache: false, index: outcome.index };
    }
    // Not final: derived data would go stale with the next download.
    await fs.rm(path.join(dir, 'keyframes.json'), { force: true });
    return { file, cacheDir: null, report, bytes, fromCache: false, index: null };
  }
}

/**
 * Where each chunk of a download goes: queued for disk, handed to the verifier, counted for
 * progress. Kept apart from `fetch` so the per-chunk code is small (see chunkPump.ts).
 */
class DownloadSink {
  bytes = 0;
  private lastProgress = 0;

  constructor(
    private readonly writer: BatchedFileWriter,
    private readonly job: VerificationJob,
    private readonly total: number | null,
    private readonly onProgress: ProgressListener | undefined,
  ) {}

  readonly accept = (chunk: Buffer): ChunkOutcome => {
    const writing = this.writer.write(chunk);
    this.bytes += chunk.length;
    if (!this.job.push(chunk)) {
      // Past the first bad frame nothing more can be trusted or shown: stop downloading. A
      // write error still surfaces, from the writer's flush.
      writing?.catch(() => {});
      return STOP_READING;
    }
    if (this.onProgress !== undefined) {
      const now = Date.now();
      if (now - this.lastProgress >= PROGRESS_EVERY_MS) {
        this.lastProgress = now;
        this.onProgress('download', this.bytes, this.total);
      }
    }
    const verifierBehind = this.job.ready();
    if (writing === undefined) return verifierBehind;
    return verifierBehind === undefined ? writing : Promise.all([writing, verifierBehind]);
  };
}

async function verifyFileInThread(
  file: string,
  publicKeyPem: string,
  sessionId: string,
): Promise<VerificationOutcome> {
  const job = verifyInThread(publicKeyPem, sessionId);
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) {
    if (!job.push(chunk as Buffer)) break;
  }
  return job.finish();
}

async function readVerdict(
  verdictFile: string,
  file: string,
  sessionId: string,
): Promise<{ report: VerificationReport; bytes: number } | null> {
  try {
    const saved = JSON.parse(await fs.readFile(verdictFile, 'utf8')) as {
      version: number;
      sessionId: string;
      bytes: number;
      report: VerificationReport;
    };
    if (saved.version !== VERDICT_VERSION || saved.sessionId !== sessionId) return null;
    if (saved.report.status !== 'verified') return null;
    const stat = await fs.stat(file);
    if (stat.size !== saved.bytes) return null;
    return { report: saved.report, bytes: saved.bytes };
  } catch {
    return null;
  }
}

export function shortHash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 20);
}

/** A session id as a directory name: kept when plainly safe, hashed otherwise. */
export function safeName(id: string): string {
  return /^[A-Za-z0-9_-]{1,100}$/.test(id) ? id : `h-${shortHash(id)}`;
}
