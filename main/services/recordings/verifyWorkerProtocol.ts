/** Messages between backgroundVerifier.ts (main thread) and verifyWorker.ts (its worker). */
import type { VerificationReport } from '../../../shared/recording/verifyRecording.ts';
import type { RecordingIndex } from './recordingIndex.ts';

export type ToVerifyWorker =
  /** A download begins: verify it and write it to `file` (created or truncated). */
  | { type: 'start'; job: number; publicKeyPem: string; sessionId: string; file: string }
  /**
   * The next `bytes` bytes of the stream, at the start of `chunk`; the ArrayBuffer is
   * transferred, not copied.
   */
  | { type: 'chunk'; job: number; chunk: ArrayBuffer; bytes: number }
  | { type: 'finish'; job: number }
  | { type: 'cancel'; job: number };

export type FromVerifyWorker =
  /**
   * A chunk was written and verified (flow control: the sender keeps a bounded amount unverified). Its
   * ArrayBuffer comes back, transferred, for the sender to fill again: a fresh 512 KiB buffer
   * per batch had cost page faults and garbage collections on both threads.
   */
  | { type: 'verified'; job: number; bytes: number; chunk: ArrayBuffer }
  /** A chunk failed verification: nothing after it can be trusted, stop sending. */
  | { type: 'failed'; job: number }
  | { type: 'done'; job: number; report: VerificationReport; index: RecordingIndex | null }
  /** The job could not go on (its file could not be opened or written, or the pass threw). */
  | { type: 'error'; job: number; message: string };
