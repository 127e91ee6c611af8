/**
 * Verified downloads kept in the app-data folder. A recording is downloaded once, written to
 * disk, verified and indexed for playback in the same pass (a VerificationJob writes each chunk
 * and verifies it, handing each frame it accepts to the index — on the verify worker in the
 * app), against the recording key pinned when the gateway was first trusted. Only a fully
 * verified recording (final checkpoint) is kept for reuse: it can no longer change, so opening
 * it again needs no download and no second verification — the gateway is still asked (the
 * stream is opened and dropped at once) so access is checked and audited on every view.
 * Anything else (partial, failed) is downloaded again each time it is opened.
 *
 * Layout: `<app data>/recordings-cache/<gateway+key+user>/<session>/stream.wrec` with
 * `verdict.json` beside it (and `keyframes.json`, written by keyframes.ts).
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Download } from '../../../gateway-client/gatewayClient.ts';
import type { VerificationReport } from '../../../shared/recording/verifyRecording.ts';
import { VerifierWorkerLostError } from './backgroundVerifier.ts';
import { type ChunkOutcome, pumpChunks, STOP_READING } from './chunkPump.ts';
import type { RecordingIndex } from './recordingIndex.ts';
import {
  type StartVerification,
  type VerificationJob,
  type VerificationOutcome,
  verifyToFileInThread,
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
  start: StartVerification;
}

export class RecordingCache {
  constructor(
    private readonly root: string,
    private readonly verifiers: VerifierFactory = { start: verifyToFileInThread },
  ) {}

  /** The cache directory of one recording for one gateway, key and user. */
  dirOf(pinned: PinnedKey, username: string, sessionId: string): string {
    return path.join(
      this.root,
      shortHash(`${pinned.url}\n${pinned.recordingKeyFingerprint}\n${username}`),
      safeName(sessionId),
    );
  }

  /** A verified copy is kept: a re-open needs no download (issue #6). */
  async hasVerified(pinned: PinnedKey, username: string, sessionId: string): Promise<boolean> {
    const dir = this.dirOf(pinned, username, sessionId);
    const cached = await readVerdict(
      path.join(dir, 'verdict.json'),
      path.join(dir, 'stream.wrec'),
      sessionId,
    );
    return cached !== null;
  }

  /**
   * Takes a stream downloaded elsewhere (a progressive open, issue #16, which verified it as it
   * arrived) into the cache as `fetch` would have left it: kept for reuse when verified.
   */
  async adopt(
    dir: string,
    downloaded: string,
    sessionId: string,
    report: VerificationReport,
  ): Promise<{ file: string; cacheDir: string | null }> {
    const file = path.join(dir, 'stream.wrec');
    const verdictFile = path.join(dir, 'verdict.json');
    await fs.rm(verdictFile, { force: true });
    const bytes = (await fs.stat(downloaded)).size;
    await fs.rename(downloaded, file);
    if (report.status === 'verified') {
      await fs.writeFile(
        verdictFile,
        JSON.stringify({ version: VERDICT_VERSION, sessionId, bytes, report }),
      );
      return { file, cacheDir: dir };
    }
    await fs.rm(path.join(dir, 'keyframes.json'), { force: true });
    return { file, cacheDir: null };
  }

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
    const receive = (from: Download, start: StartVerification) =>
      receiveVerified(from, start(pinned.recordingPublicKeyPem, sessionId, temp), onProgress);
    let received: { outcome: VerificationOutcome; bytes: number };
    try {
      const inApp: StartVerification = (key, id, to) => this.verifiers.start(key, id, to);
      received = await receive(download, inApp).catch(async (error: unknown) => {
        if (!(error instanceof VerifierWorkerLostError)) throw error;
        // The worker went away with bytes it had not written yet: the gateway still has them
        // all. Downloaded again, verified and written on this thread.
        return receive(await client.downloadRecording(sessionId), verifyToFileInThread);
      });
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
    const { outcome, bytes } = received;
    const { report } = outcome;
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
 * One pass over a download: each chunk goes to the job (written to the file, verified, and the
 * frames it accepts indexed) as it arrives; the file is read back only for the frames shown.
 */
async function receiveVerified(
  download: Download,
  starting: Promise<VerificationJob>,
  onProgress: ProgressListener | undefined,
): Promise<{ outcome: VerificationOutcome; bytes: number }> {
  let job: VerificationJob;
  try {
    job = await starting;
  } catch (error) {
    download.body.destroy();
    throw error;
  }
  const sink = new DownloadSink(job, download.contentLength, onProgress);
  try {
    await pumpChunks(download.body, sink.accept);
  } catch (error) {
    job.cancel();
    throw error;
  } finally {
    download.body.destroy();
  }
  return { outcome: await job.finish(), bytes: sink.bytes };
}

/**
 * Where each chunk of a download goes: to the job, counted for progress. Kept apart from
 * `fetch` so the per-chunk code is small (see chunkPump.ts).
 */
class DownloadSink {
  bytes = 0;
  private lastProgress = 0;

  constructor(
    private readonly job: VerificationJob,
    private readonly total: number | null,
    private readonly onProgress: ProgressListener | undefined,
  ) {}

  readonly accept = (chunk: Buffer): ChunkOutcome => {
    this.bytes += chunk.length;
    // Verification failed (past the first bad frame nothing more can be trusted or shown) or
    // the job cannot go on (`finish` says which): stop downloading.
    if (!this.job.push(chunk)) return STOP_READING;
    if (this.onProgress !== undefined) {
      const now = Date.now();
      if (now - this.lastProgress >= PROGRESS_EVERY_MS) {
        this.lastProgress = now;
        this.onProgress('download', this.bytes, this.total);
      }
    }
    return this.job.ready();
  };
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
