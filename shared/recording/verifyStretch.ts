/**
 * Verifies one stretch of a recording on its own (issue #16): the bytes between two signed
 * checkpoints, fetched by byte range with the seek table's help (seekTable.ts). The first
 * stretch is verified from the header's h0 like any stream; a later one from the chain hash
 * its first checkpoint signs. The same RecordingVerifier does the work, so a stretch passes by
 * exactly the rules a whole stream does (FORMAT.md §4, §9).
 *
 * What counts as verified is never more than a signature covers: the frames after the
 * stretch's start up to the last checkpoint in it that is signed by the trusted key and
 * matches the chain. Frames after that checkpoint (bytes of the next stretch that precede a
 * lagging checkpoint) are not reported as verified here; the next stretch covers them.
 */
import type { Checkpoint, RecordingEvent, RecordingHeader } from './recordingFormat.ts';
import type { StretchRange } from './seekTable.ts';
import { RecordingVerifier } from './verifyRecording.ts';

export interface StretchVerdict {
  /** verified: a signed checkpoint covers the stretch's frames through `throughSeq`. */
  status: 'verified' | 'failed' | 'unverified';
  /** The stretch starts after this frame (0 for the first stretch). */
  afterSeq: number;
  /** The last frame a signed checkpoint in the stretch covers (= afterSeq: none is). */
  throughSeq: number;
  /** Epoch ms of that checkpoint (null when none verified). */
  checkpointTime: number | null;
  /** The stretch ends with the recording's final checkpoint. */
  final: boolean;
  firstBadSeq: number | null;
  message: string;
}

export interface StretchVerifierOptions {
  publicKeyPem: string;
  sessionId: string;
  range: StretchRange;
  /** The stream's header, verified already (needed for any stretch but the first). */
  header: RecordingHeader | null;
  onHeader?: (header: RecordingHeader) => void;
  /** Each frame whose chain checks out, with its record's offset in the stream. */
  onEvent?: (event: RecordingEvent, recordOffset: number) => void;
}

/** Feed the stretch's bytes (from `range.from`, in order) with `push`, then `finish`. */
export class StretchVerifier {
  private readonly verifier: RecordingVerifier;
  private readonly afterSeq: number;
  private lastSigned: Checkpoint | null = null;

  constructor(options: StretchVerifierOptions) {
    const { range } = options;
    this.afterSeq = range.after?.seq ?? 0;
    if (range.after && !options.header) {
      throw new Error('a stretch after the first needs the header of its recording');
    }
    this.verifier = new RecordingVerifier({
      publicKeyPem: options.publicKeyPem,
      expectedSessionId: options.sessionId,
      onCheckpoint: (checkpoint) => {
        if (checkpoint.seq >= this.afterSeq) this.lastSigned = checkpoint;
      },
      ...(options.onHeader ? { onHeader: options.onHeader } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      ...(range.after && options.header
        ? {
            resumeFrom: {
              header: options.header,
              seq: range.after.seq,
              hash: Buffer.from(range.after.hash, 'hex'),
              offset: range.from,
            },
          }
        : {}),
    });
  }

  /** False once verification failed (nothing more counts). */
  push(chunk: Uint8Array): boolean {
    return this.verifier.push(chunk);
  }

  finish(): StretchVerdict {
    const report = this.verifier.finish();
    const signed = this.lastSigned;
    const base = {
      afterSeq: this.afterSeq,
      checkpointTime: signed?.time ?? null,
      final: signed?.final === true && report.status !== 'failed',
    };
    if (report.status === 'failed') {
      return {
        ...base,
        status: 'failed',
        // Frames before the bad one are covered only if a checkpoint before it was signed.
        throughSeq: Math.max(
          this.afterSeq,
          Math.min(report.lastCheckpointSeq, (report.firstBadSeq ?? 1) - 1),
        ),
        firstBadSeq: report.firstBadSeq,
        message: report.message,
      };
    }
    if (!signed || (signed.seq === this.afterSeq && report.frames > this.afterSeq)) {
      return {
        ...base,
        status: 'unverified',
        throughSeq: this.afterSeq,
        firstBadSeq: null,
        message:
          `no checkpoint signed by the trusted key covers the frames after seq ${this.afterSeq} ` +
          'in this stretch: the recording may be cut short there',
      };
    }
    return {
      ...base,
      status: 'verified',
      throughSeq: signed.seq,
      firstBadSeq: null,
      message:
        signed.seq === this.afterSeq
          ? `verified: the checkpoint at seq ${signed.seq} is signed`
          : `verified: frames ${this.afterSeq + 1}–${signed.seq} are covered by the checkpoint ` +
            `at seq ${signed.seq}, signed by ${report.keyId}`,
    };
  }
}
