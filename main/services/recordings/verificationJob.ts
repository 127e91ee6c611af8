/**
 * A recording download verified, indexed and written to disk in one pass.
 *
 * - `verifyInThread` is the pass itself: RecordingVerifier hands each frame it accepts, with
 *   its record offset, to an IndexBuilder. It runs here or on the verify worker
 *   (verifyWorker.ts), which is fed the same bytes.
 * - A `VerificationJob` is what the download (recordingCache.ts) feeds: the pass plus the file
 *   every byte goes to. `verifyToFileInThread` runs both on the calling thread; the
 *   BackgroundVerifier (backgroundVerifier.ts) runs both on the worker, which writes each
 *   batch it verifies — the main thread then only receives.
 */
import { promises as fs } from 'node:fs';
import {
  RecordingVerifier,
  type VerificationReport,
} from '../../../shared/recording/verifyRecording.ts';
import { BatchedFileWriter } from './batchedFileWriter.ts';
import { IndexBuilder, type RecordingIndex } from './recordingIndex.ts';

export interface VerificationOutcome {
  report: VerificationReport;
  /** The playback index built in the same pass; only for a `verified` report. */
  index: RecordingIndex | null;
}

/** The verify-and-index pass over one stream, fed in order. */
export interface VerificationPass {
  /** The next bytes. False once verification has failed: nothing more counts. */
  push(chunk: Uint8Array): boolean;
  /** After `push`: the memory of the chunks pushed so far may be reused. */
  releaseInput(): void;
  finish(): VerificationOutcome;
}

/** A download being verified, indexed and written to its file, fed in order. */
export interface VerificationJob {
  /**
   * The next bytes, written to the file and verified. False: stop reading — verification
   * failed (nothing more can be trusted) or the job cannot go on; `finish` tells which.
   */
  push(chunk: Uint8Array): boolean;
  /**
   * Undefined while the disk and the verifier keep up; otherwise a promise to await before
   * pushing more (a download faster than either must not pile up in memory).
   */
  ready(): Promise<void> | undefined;
  /** After the last push: resolves once every byte is verified and in the file (closed). */
  finish(): Promise<VerificationOutcome>;
  /** The download is abandoned (an error elsewhere): close the file, forget the rest. */
  cancel(): void;
}

/** Starts a job that writes the download to `file` (created or truncated). */
export type StartVerification = (
  publicKeyPem: string,
  sessionId: string,
  file: string,
) => Promise<VerificationJob>;

/** The pass on the calling thread. */
export function verifyInThread(publicKeyPem: string, sessionId: string): VerificationPass {
  const indexer = new IndexBuilder(0, Number.MAX_SAFE_INTEGER);
  const verifier = new RecordingVerifier({
    publicKeyPem,
    expectedSessionId: sessionId,
    onHeader: (header) => {
      indexer.header = header;
    },
    onEvent: (event, recordOffset) => {
      indexer.frame(event, recordOffset);
    },
  });
  return {
    push: (chunk) => verifier.push(chunk),
    releaseInput: () => verifier.releaseInput(),
    finish: () => {
      const report = verifier.finish();
      return { report, index: report.status === 'verified' ? indexer.finish() : null };
    },
  };
}

/** The whole job on the calling thread: the file written in large batches as chunks arrive. */
export const verifyToFileInThread: StartVerification = async (publicKeyPem, sessionId, file) => {
  // The pass first: a key it refuses must not leave the file open.
  const pass = verifyInThread(publicKeyPem, sessionId);
  const handle = await fs.open(file, 'w');
  const writer = new BatchedFileWriter(handle);
  let diskBehind: Promise<void> | undefined;
  let closing: Promise<void> | null = null;
  const close = () => {
    closing ??= writer.idle().then(() => handle.close());
    return closing;
  };
  return {
    push(chunk) {
      // Queued for disk first: a failed recording is kept as far as it was received.
      const writing = writer.write(chunk);
      if (writing !== undefined) {
        const waited: Promise<void> = writing.then(() => {
          if (diskBehind === waited) diskBehind = undefined;
        });
        // A write error also surfaces from `finish` (the writer's flush) if nobody waits here.
        waited.catch(() => {});
        diskBehind = waited;
      }
      return pass.push(chunk);
    },
    ready: () => diskBehind,
    async finish() {
      try {
        await writer.flush();
      } finally {
        await close();
      }
      return pass.finish();
    },
    cancel() {
      close().catch(() => {});
    },
  };
};
