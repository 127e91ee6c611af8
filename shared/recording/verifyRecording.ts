/**
 * Verifies a recording stream against the gateway's Ed25519 public key, following the rules of
 * shared/recording/FORMAT.md ("Verifying"). It needs nothing but the bytes and the key, so the
 * CLI and the desktop can check a recording offline.
 *
 * Streaming: chunks are checked as they arrive and dropped; what stays in memory is the record
 * being read (≤ 1 MiB + a few bytes) and the chain hashes since the last checkpoint (32 bytes a
 * frame, capped by MAX_FRAMES_BETWEEN_CHECKPOINTS), so a multi-GB recording verifies in constant
 * memory.
 */
import { createHash, createPublicKey, type KeyObject, verify } from 'node:crypto';
import {
  type Checkpoint,
  chainHash,
  checkpointSigningBytes,
  HASH_BYTES,
  initialHash,
  type RecordingEvent,
  RecordingFormatError,
  type RecordingHeader,
  RecordingReader,
  type RecordingRecord,
} from './recordingFormat.ts';

export type VerificationStatus = 'verified' | 'partial' | 'failed';

export interface VerificationReport {
  /** True for `verified`, and for `partial` when every frame up to the last checkpoint verified. */
  ok: boolean;
  status: VerificationStatus;
  /** From the header; null when the header could not be read. */
  sessionId: string | null;
  keyId: string | null;
  /** Frames read whose seq and chain hash checked out. */
  frames: number;
  /** Every frame up to this seq is covered by a valid signed checkpoint (0: none is). */
  verifiedThroughSeq: number;
  /** Seq of the last valid checkpoint (0 when there is none, or it covers no frame). */
  lastCheckpointSeq: number;
  /** A valid final checkpoint was read. */
  final: boolean;
  /** The stream ended without a final checkpoint (status `partial`). */
  interrupted: boolean;
  /**
   * When status is `failed`: the first seq that cannot be trusted. 0 means the recording as a
   * whole is rejected (not a recording, another session, another key).
   */
  firstBadSeq: number | null;
  /** One sentence a person can act on. */
  message: string;
}

export interface VerifyRecordingOptions {
  /** SPKI PEM of the gateway's recording key: the one key whose signatures are trusted. */
  publicKeyPem: string;
  /**
   * The same gateway's earlier recording keys, after a rotation (issue #17): a recording whose
   * header names one of them is verified with it. Every checkpoint must still name the key
   * the header names.
   */
  alsoTrustedKeys?: readonly string[];
  /** When given, a recording of any other session fails. */
  expectedSessionId?: string;
  /**
   * Receives each frame whose seq and chain hash check out, in order, as it is read. Whether
   * a signed checkpoint covers it is known only at the end: see `verifiedThroughSeq`.
   * `recordOffset` is where the frame's record starts in the stream (so a caller can index the
   * recording in the same pass, and read an event's bytes back later).
   */
  onEvent?: (event: RecordingEvent, recordOffset: number) => void;
  /** Receives the header once it is read and accepted (right session, right key). */
  onHeader?: (header: RecordingHeader) => void;
  /** Receives each checkpoint once its signature and its place in the chain check out. */
  onCheckpoint?: (checkpoint: Checkpoint) => void;
  /**
   * Verify a stretch cut out of the stream rather than the stream from its start (issue #16):
   * the bytes pushed start at `offset`, right after frame `seq`, whose chain hash is assumed to
   * be `hash` (from a seek table: not trusted). Nothing counts as verified until a checkpoint
   * signed by the key matches the chain computed from it — a checkpoint at `seq` itself proves
   * the assumed hash, a later one proves it and every frame up to it (SHA-256 being collision
   * resistant). `header` is the stream's, read and verified elsewhere.
   */
  resumeFrom?: StretchStart;
}

/** Where a stretch starts: after frame `seq` (chain hash `hash`), at byte `offset`. */
export interface StretchStart {
  header: RecordingHeader;
  seq: number;
  hash: Uint8Array;
  offset: number;
}

/**
 * How many frames may follow the last checkpoint (FORMAT.md, "Limits"): the verifier keeps the
 * chain hashes since the last checkpoint, for a checkpoint that lags behind the frames written
 * before it, and this bounds them to 32 MiB.
 */
export const MAX_FRAMES_BETWEEN_CHECKPOINTS = 1 << 20;

/** Slices of an in-memory source, so it is hashed as it would be when streamed. */
const SLICE_BYTES = 1024 * 1024;

/** The given PEM is not an Ed25519 public key. */
export class InvalidRecordingKeyError extends Error {
  override readonly name = 'InvalidRecordingKeyError';
}

/** Parses the gateway's recording public key (SPKI PEM), refusing anything but Ed25519. */
export function parseRecordingPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new InvalidRecordingKeyError(
      'The recording key is not a PEM public key; use the gateway’s recording public key ' +
        '(`recordingKey.publicKeyPem` from GET /v1/keys)',
      { cause: error },
    );
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new InvalidRecordingKeyError(
      `The recording key is a ${key.asymmetricKeyType} key; Witness recordings are signed with Ed25519`,
    );
  }
  return key;
}

/** The raw 32-byte Ed25519 public key (RFC 8032), which key ids and fingerprints hash. */
export function rawEd25519PublicKey(key: KeyObject): Buffer {
  const x = key.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new InvalidRecordingKeyError('not an Ed25519 public key');
  return Buffer.from(x, 'base64url');
}

/**
 * `ed25519:` + the first 16 hex digits of SHA-256 over the raw public key — the id the gateway
 * writes into headers and checkpoints (computed as in gateway/config/dataDir.ts).
 */
export function recordingKeyId(key: KeyObject | string): string {
  const parsed = typeof key === 'string' ? parseRecordingPublicKey(key) : key;
  const digest = createHash('sha256').update(rawEd25519PublicKey(parsed)).digest('hex');
  return `ed25519:${digest.slice(0, 16)}`;
}

/** Verifies a whole recording; see `RecordingVerifier` for feeding it yourself. */
export async function verifyRecording(
  source: Uint8Array | AsyncIterable<Uint8Array>,
  options: VerifyRecordingOptions,
): Promise<VerificationReport> {
  const verifier = new RecordingVerifier(options);
  if (source instanceof Uint8Array) {
    for (let at = 0; at < source.length; at += SLICE_BYTES) {
      if (!verifier.push(source.subarray(at, at + SLICE_BYTES))) break;
    }
    return verifier.finish();
  }
  // Breaking out of `for await` closes the source (a file stream stops reading at once).
  for await (const chunk of source) {
    if (!verifier.push(chunk)) break;
  }
  return verifier.finish();
}

interface Failure {
  seq: number;
  message: string;
}

/**
 * Incremental verifier: `push` chunks in order (it returns false once the recording has failed,
 * after which more input changes nothing), then `finish` for the report.
 */
export class RecordingVerifier {
  private key: KeyObject;
  private readonly givenKeyId: string;
  /** Every trusted key by id: the given one and `alsoTrustedKeys`. */
  private readonly trusted: ReadonlyMap<string, KeyObject>;
  private readonly reader = new RecordingReader();
  private header: RecordingHeader | null = null;
  private history: ChainHistory | null = null;
  private frames = 0;
  private lastCheckpointSeq = 0;
  private checkpoints = 0;
  private finalSeq: number | null = null;
  private failure: Failure | null = null;
  private finished: VerificationReport | null = null;
  private bytesSeen = 0;
  /** Resuming a stretch: the frame it starts after (null: the stream from its header). */
  private resumedFromSeq: number | null = null;

  constructor(private readonly options: VerifyRecordingOptions) {
    this.key = parseRecordingPublicKey(options.publicKeyPem);
    this.givenKeyId = recordingKeyId(this.key);
    const trusted = new Map<string, KeyObject>();
    for (const pem of options.alsoTrustedKeys ?? []) {
      const key = parseRecordingPublicKey(pem);
      trusted.set(recordingKeyId(key), key);
    }
    trusted.set(this.givenKeyId, this.key);
    this.trusted = trusted;
    const start = options.resumeFrom;
    if (start) {
      this.reader.resumeAt(start.header.formatVersion, start.offset);
      this.onHeader(start.header);
      if (!this.failure) {
        // The chain goes on from the assumed hash; a checkpoint before `seq` is out of order.
        this.history = new ChainHistory(start.hash, start.seq);
        this.frames = start.seq;
        this.lastCheckpointSeq = start.seq;
        this.resumedFromSeq = start.seq;
      }
    }
  }

  push(chunk: Uint8Array): boolean {
    if (this.failure || this.finished) return !this.failure;
    this.bytesSeen += chunk.length;
    let records: RecordingRecord[];
    try {
      records = this.reader.push(chunk);
    } catch (error) {
      if (!(error instanceof RecordingFormatError)) throw error;
      // The records before the malformed one are checked first: one of them may be the
      // first bad seq; otherwise the malformed record is, right after the last good frame.
      if (this.accept(error.records)) this.failMalformed(error);
      return false;
    }
    return this.accept(records);
  }

  /**
   * Keeps no reference to the chunks pushed so far (see RecordingReader.releaseInput): their
   * memory may be reused. Frames already checked were handed to `onEvent` during `push`.
   */
  releaseInput(): void {
    this.reader.releaseInput();
  }

  /** Checks records in order; false once one fails. */
  private accept(records: readonly RecordingRecord[]): boolean {
    for (const record of records) {
      switch (record.type) {
        case 'header':
          this.onHeader(record.header);
          break;
        case 'frame':
          this.onFrame(record.event, record.frame, record.storedHash, record.offset);
          break;
        case 'checkpoint':
          this.onCheckpoint(record.checkpoint);
          break;
      }
      if (this.failure) return false;
    }
    return true;
  }

  finish(): VerificationReport {
    if (this.finished) return this.finished;
    if (!this.failure) this.checkEnd();
    this.finished = this.report();
    return this.finished;
  }

  // --- records -------------------------------------------------------------------------------

  private onHeader(header: RecordingHeader): void {
    this.header = header;
    const expected = this.options.expectedSessionId;
    if (expected !== undefined && header.sessionId !== expected) {
      this.fail(0, `this recording is of session ${header.sessionId}, not ${expected}`);
      return;
    }
    const signer = this.trusted.get(header.keyId);
    if (!signer) {
      this.fail(
        0,
        `this recording is signed by key ${header.keyId}, but the key given is ` +
          `${this.givenKeyId}: pass the public key of the gateway that recorded it`,
      );
      return;
    }
    this.key = signer;
    this.history = new ChainHistory(
      initialHash(header.sessionId, header.keyId, header.formatVersion),
    );
    this.options.onHeader?.(header);
  }

  private onFrame(
    event: RecordingEvent,
    frame: Buffer,
    storedHash: Buffer,
    recordOffset: number,
  ): void {
    const history = this.history!;
    const expected = this.frames + 1;
    if (this.finalSeq !== null) {
      this.fail(
        expected,
        `frame ${expected} comes after the final checkpoint (seq ${this.finalSeq}): ` +
          'something was appended after the session closed',
      );
      return;
    }
    if (event.seq !== expected) {
      this.fail(
        expected,
        event.seq > expected
          ? `frame ${expected} is missing: the next frame in the stream is ${event.seq} ` +
              '(frames were dropped or reordered)'
          : `frame ${expected} is missing: frame ${event.seq} appears where ${expected} ` +
              'was expected (frames were reordered or repeated)',
      );
      return;
    }
    const hash = chainHash(history.latest(), frame);
    if (!hash.equals(storedHash)) {
      this.fail(expected, `frame ${expected} was altered: its hash does not match the chain`);
      return;
    }
    if (!history.push(hash)) {
      this.fail(
        this.lastCheckpointSeq + 1,
        `no checkpoint in ${MAX_FRAMES_BETWEEN_CHECKPOINTS} frames after seq ${this.lastCheckpointSeq}: ` +
          'the gateway checkpoints at least every second, so this recording is not one it wrote',
      );
      return;
    }
    this.frames = expected;
    this.options.onEvent?.(event, recordOffset);
  }

  private onCheckpoint(checkpoint: Checkpoint): void {
    const header = this.header!;
    const history = this.history!;
    const { seq } = checkpoint;
    if (!this.signatureValid(checkpoint)) {
      const names = checkpoint.keyId !== header.keyId ? ` (it names key ${checkpoint.keyId})` : '';
      this.fail(
        seq,
        `checkpoint at seq ${seq} is not signed by the key you trust (${this.givenKeyId})${names}: ` +
          'it was forged, altered, or signed by another key',
      );
      return;
    }
    if (checkpoint.sessionId !== header.sessionId) {
      this.fail(
        seq,
        `checkpoint at seq ${seq} belongs to session ${checkpoint.sessionId}, not ${header.sessionId}`,
      );
      return;
    }
    if (checkpoint.keyId !== header.keyId) {
      this.fail(
        seq,
        `checkpoint at seq ${seq} names key ${checkpoint.keyId}, not this recording's ${header.keyId}`,
      );
      return;
    }
    if (this.finalSeq !== null) {
      this.fail(
        seq,
        `checkpoint at seq ${seq} comes after the final checkpoint (seq ${this.finalSeq}): ` +
          'something was appended after the session closed',
      );
      return;
    }
    if (seq > this.frames) {
      // What is missing starts right after the frames that are there.
      this.fail(
        this.frames + 1,
        `checkpoint at seq ${seq} covers frames that are not there: only ${this.frames} ` +
          `precede it, so frame ${this.frames + 1} onwards was removed`,
      );
      return;
    }
    if (seq < this.lastCheckpointSeq) {
      this.fail(
        seq,
        `checkpoint at seq ${seq} goes back before the previous checkpoint at seq ` +
          `${this.lastCheckpointSeq}: checkpoints were reordered or replayed`,
      );
      return;
    }
    const chained = history.at(seq);
    if (!chained) {
      this.fail(
        seq,
        `checkpoint at seq ${seq} points ${this.frames - seq} frames back, past the chain ` +
          `hashes a verifier keeps (${MAX_FRAMES_BETWEEN_CHECKPOINTS} frames)`,
      );
      return;
    }
    if (!chained.equals(checkpoint.hash) && seq === this.resumedFromSeq) {
      // The hash a stretch started from is not the one this checkpoint signs: nothing of the
      // stretch can be trusted from it (issue #16).
      this.fail(
        seq + 1,
        `the hash this stretch started from does not match the checkpoint at seq ${seq} that ` +
          'signs it: the seek table is wrong, or the checkpoint was altered',
      );
      return;
    }
    if (!chained.equals(checkpoint.hash)) {
      const first = this.lastCheckpointSeq + 1;
      const range = first === seq ? `frame ${seq}` : `frames ${first}–${seq}`;
      this.fail(
        seq,
        `the chain does not match the checkpoint at seq ${seq}: ${range} ` +
          'were altered after they were signed (and their stored hashes rewritten)',
      );
      return;
    }
    if (checkpoint.final && seq !== this.frames) {
      this.fail(
        seq + 1,
        `the final checkpoint covers frames up to ${seq}, but frames ${seq + 1}–${this.frames} ` +
          'precede it: they were inserted',
      );
      return;
    }
    this.checkpoints += 1;
    this.lastCheckpointSeq = seq;
    if (checkpoint.final) this.finalSeq = seq;
    history.forgetBefore(seq);
    this.options.onCheckpoint?.(checkpoint);
  }

  private signatureValid(checkpoint: Checkpoint): boolean {
    // Ed25519 signatures are 64 bytes (RFC 8032 §5.1.6). The signed bytes are re-encoded from
    // the parsed fields, so what was signed is exactly what is checked below.
    if (checkpoint.signature.length !== 64) return false;
    try {
      return verify(null, checkpointSigningBytes(checkpoint), this.key, checkpoint.signature);
    } catch {
      return false;
    }
  }

  // --- the end -------------------------------------------------------------------------------

  private failMalformed(error: RecordingFormatError): void {
    if (!this.header) {
      this.fail(0, `this is not a Witness recording: ${error.message}`);
      return;
    }
    const seq = this.frames + 1;
    this.fail(
      seq,
      `the record after frame ${this.frames} is malformed (${error.message}): frame ${seq} or ` +
        'the checkpoint after it was altered',
    );
  }

  private checkEnd(): void {
    if (!this.header) {
      this.fail(
        0,
        this.bytesSeen === 0
          ? 'the recording is empty'
          : 'this is not a Witness recording, or it is cut off inside its header',
      );
      return;
    }
    const pending = this.reader.pendingBytes;
    if (pending > 0) {
      const seq = this.frames + 1;
      this.fail(
        seq,
        `the recording is cut off in the middle of a record after frame ${this.frames} ` +
          `(${pending} bytes of it remain): frame ${seq} or a checkpoint was truncated`,
      );
    }
  }

  private fail(seq: number, message: string): void {
    this.failure ??= { seq, message };
  }

  private report(): VerificationReport {
    const base = {
      sessionId: this.header?.sessionId ?? null,
      keyId: this.header?.keyId ?? null,
      frames: this.frames,
      verifiedThroughSeq: this.lastCheckpointSeq,
      lastCheckpointSeq: this.lastCheckpointSeq,
      final: this.finalSeq !== null && !this.failure,
    };
    if (this.failure) {
      return {
        ...base,
        ok: false,
        status: 'failed',
        interrupted: false,
        firstBadSeq: this.failure.seq,
        message: this.failure.message,
      };
    }
    if (this.finalSeq !== null) {
      return {
        ...base,
        ok: true,
        status: 'verified',
        interrupted: false,
        firstBadSeq: null,
        message:
          this.frames === 0
            ? `verified: session ${base.sessionId} recorded no frames; its final checkpoint is signed by ${base.keyId}`
            : `verified: all ${this.frames} frames of session ${base.sessionId} are covered by ` +
              `the final checkpoint, signed by ${base.keyId}`,
      };
    }
    return { ...base, ...this.partialOutcome() };
  }

  private partialOutcome(): Pick<
    VerificationReport,
    'ok' | 'status' | 'interrupted' | 'firstBadSeq' | 'message'
  > {
    const partial = { status: 'partial' as const, interrupted: true, firstBadSeq: null };
    const last = this.lastCheckpointSeq;
    const tail =
      this.frames > last
        ? `frames ${last + 1}–${this.frames} come after the last checkpoint and are unverified ` +
          `(first unverified seq ${last + 1})`
        : 'no frame follows it';
    // No checkpoint at all means no signature at all: anyone could have written these bytes,
    // so there is nothing to call ok.
    if (this.checkpoints === 0) {
      return {
        ...partial,
        ok: false,
        message:
          `nothing can be verified: the recording has no signed checkpoint` +
          (this.frames > 0
            ? ` (${this.frames} frames, first unverified seq 1)`
            : ' and no frames') +
          '; the gateway stopped before its first checkpoint',
      };
    }
    const first = (this.resumedFromSeq ?? 0) + 1;
    const covered = last < first ? 'no frame is covered' : `frames ${first}–${last} are verified`;
    return {
      ...partial,
      ok: true,
      message:
        `interrupted (no final checkpoint): ${covered} by the signed checkpoint at seq ${last}; ` +
        tail,
    };
  }
}

/**
 * The chain hashes from the last checkpoint's seq to the newest frame, in one growable ring of
 * 32-byte slots (a Buffer each would cost ~100 bytes of overhead per frame).
 */
class ChainHistory {
  private ring: Uint8Array;
  private capacity = 1024;
  private oldest = 0;
  private newest = 0;

  /** `initial`: the chain hash after frame `startSeq` (h0 when starting at the header). */
  constructor(initial: Uint8Array, startSeq = 0) {
    this.ring = new Uint8Array(this.capacity * HASH_BYTES);
    this.ring.set(initial, (startSeq % this.capacity) * HASH_BYTES);
    this.oldest = startSeq;
    this.newest = startSeq;
  }

  latest(): Buffer {
    return this.slot(this.newest);
  }

  /** Appends the hash of frame newest+1; false when the window is full. */
  push(hash: Uint8Array): boolean {
    const seq = this.newest + 1;
    if (seq - this.oldest + 1 > this.capacity) {
      if (this.capacity >= MAX_FRAMES_BETWEEN_CHECKPOINTS + 1) return false;
      this.grow(Math.min(this.capacity * 2, MAX_FRAMES_BETWEEN_CHECKPOINTS + 1));
    }
    this.ring.set(hash, (seq % this.capacity) * HASH_BYTES);
    this.newest = seq;
    return true;
  }

  at(seq: number): Buffer | undefined {
    if (seq < this.oldest || seq > this.newest) return undefined;
    return this.slot(seq);
  }

  forgetBefore(seq: number): void {
    this.oldest = Math.max(this.oldest, Math.min(seq, this.newest));
  }

  private slot(seq: number): Buffer {
    const start = (seq % this.capacity) * HASH_BYTES;
    return Buffer.from(this.ring.buffer, this.ring.byteOffset + start, HASH_BYTES);
  }

  private grow(capacity: number): void {
    const ring = new Uint8Array(capacity * HASH_BYTES);
    for (let seq = this.oldest; seq <= this.newest; seq++) {
      const from = (seq % this.capacity) * HASH_BYTES;
      ring.set(this.ring.subarray(from, from + HASH_BYTES), (seq % capacity) * HASH_BYTES);
    }
    this.ring = ring;
    this.capacity = capacity;
  }
}
