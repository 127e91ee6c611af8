/**
 * One recording stream verified and indexed in a single pass: RecordingVerifier hands each
 * frame it accepts, with its record offset, to an IndexBuilder. The contract the download
 * (recordingCache.ts) feeds, whether the pass runs here (`verifyInThread`) or on the worker
 * thread (backgroundVerifier.ts, which runs this same pass in verifyWorker.ts).
 */
import {
  RecordingVerifier,
  type VerificationReport,
} from '../../../gateway-client/recording/verifyRecording.ts';
import { IndexBuilder, type RecordingIndex } from './recordingIndex.ts';

export interface VerificationOutcome {
  report: VerificationReport;
  /** The playback index built in the same pass; only for a `verified` report. */
  index: RecordingIndex | null;
}

/** One recording stream being verified, fed in order. */
export interface VerificationJob {
  /** The next bytes. False once verification has failed: stop reading, nothing more counts. */
  push(chunk: Uint8Array): boolean;
  /**
   * Undefined while the verifier keeps up; otherwise a promise to await before pushing more
   * (a download faster than verification must not pile up in memory).
   */
  ready(): Promise<void> | undefined;
  /** After the last push. */
  finish(): Promise<VerificationOutcome>;
  /** The stream is abandoned (an error elsewhere): forget it. */
  cancel(): void;
}

/** A job on this thread, which can also let go of the chunks it was given. */
export interface InThreadVerificationJob extends VerificationJob {
  /** After `push`: the memory of the chunks pushed so far may be reused. */
  releaseInput(): void;
}

/** The same verification on the calling thread. */
export function verifyInThread(publicKeyPem: string, sessionId: string): InThreadVerificationJob {
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
    ready: () => undefined,
    finish: async () => {
      const report = verifier.finish();
      return { report, index: report.status === 'verified' ? indexer.finish() : null };
    },
    cancel: () => {},
  };
}
