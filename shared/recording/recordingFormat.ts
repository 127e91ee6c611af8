/**
 * The canonical binary encoding of a session recording (spec: shared/recording/FORMAT.md).
 *
 * It lives in gateway-client because both sides need it: the gateway writes recordings with
 * it, and the CLI / desktop verify them offline with nothing but the gateway's public key.
 * Pure functions over bytes — no I/O — so the encoder can be fuzzed and benchmarked alone.
 *
 * A recording stream is: one header record, then frame and checkpoint records in order.
 *   header:     "WTNSREC2" | u32 length | UTF-8 JSON RecordingHeader
 *   frame:      'F' | u32 length | frame bytes | 32-byte chain hash after this frame
 *   checkpoint: 'C' | u32 length | checkpoint body | u16 signature length | Ed25519 signature
 * Frame bytes (what the chain hashes):
 *   u8 format version (2) | u8 kind | u16 channel | u64 seq | u64 time (epoch ms) | data
 * Chain: h0 = SHA-256("witness-recording-v2\0" ‖ sessionId ‖ "\0" ‖ keyId),
 *        hn = SHA-256(h(n-1) ‖ frame n bytes).
 *
 * Version 2 adds the PostgreSQL wire kinds (`p`, `P`: the bytes each side was forwarded);
 * version 1 recordings (PostgreSQL as one structured event per message) are still read and
 * verified, each in its own version (FORMAT.md §12): the magic, the header's formatVersion,
 * every frame's version byte and the domain tags all name it.
 */
import { createHash, hash } from 'node:crypto';

/** The version this code writes; it reads 1 and 2. */
export const RECORDING_FORMAT_VERSION = 2;
export type RecordingFormatVersion = 1 | 2;
/** The magic of the version written (`WTNSREC2`); `recordingVersionOfMagic` reads both. */
export const RECORDING_MAGIC = Buffer.from('WTNSREC2', 'ascii');
const MAGICS: Record<RecordingFormatVersion, Buffer> = {
  1: Buffer.from('WTNSREC1', 'ascii'),
  2: RECORDING_MAGIC,
};
export const FRAME_FORMAT_VERSION = RECORDING_FORMAT_VERSION;

/** The format version named by a stream's first 8 bytes, or undefined if it is none we read. */
export function recordingVersionOfMagic(head: Uint8Array): RecordingFormatVersion | undefined {
  if (head.length < 8) return undefined;
  const bytes = Buffer.from(head.buffer, head.byteOffset, 8);
  if (bytes.equals(MAGICS[2])) return 2;
  if (bytes.equals(MAGICS[1])) return 1;
  return undefined;
}
export const HASH_BYTES = 32;
const FRAME_FIXED_BYTES = 1 + 1 + 2 + 8 + 8;
/** No single frame carries more than this; bigger chunks are split by the recorder. */
export const MAX_FRAME_DATA_BYTES = 1024 * 1024;
const MAX_RECORD_BYTES = MAX_FRAME_DATA_BYTES + FRAME_FIXED_BYTES + HASH_BYTES + 1024;

/**
 * Event kinds, one ASCII letter each (stable: they are part of the signed bytes).
 * Terminal: input, output, stderr, resize, exit. Structured events carry UTF-8 JSON.
 * Database kinds are reserved for the PostgreSQL proxy.
 */
export const eventKinds = {
  input: 'i',
  output: 'o',
  stderr: 'e',
  resize: 'r',
  exit: 'x',
  meta: 'm',
  query: 'q',
  rowDescription: 'd',
  dataRow: 'D',
  commandComplete: 'c',
  error: 'E',
  notice: 'N',
  blocked: 'b',
  copyData: 'y',
  /** Version 2: PostgreSQL frontend wire bytes, client → target, as forwarded. */
  postgresFrontend: 'p',
  /** Version 2: PostgreSQL backend wire bytes, target → client, as forwarded (masked). */
  postgresBackend: 'P',
} as const;
export type EventKindName = keyof typeof eventKinds;
export type EventKind = (typeof eventKinds)[EventKindName];
const KIND_CODES = new Set<string>(Object.values(eventKinds));
/** Version 1 had no wire kinds: a version-1 frame with one is malformed. */
const V1_KIND_CODES = new Set<string>(
  Object.values(eventKinds).filter((kind) => kind !== 'p' && kind !== 'P'),
);

export interface RecordingHeader {
  formatVersion: RecordingFormatVersion;
  sessionId: string;
  /** Id of the Ed25519 key that signs this recording's checkpoints. */
  keyId: string;
  /** Epoch ms. */
  startedAt: number;
  /** Informational (user, resource, protocol); not part of the chain. */
  meta?: Record<string, unknown>;
}

export interface RecordingEvent {
  seq: number;
  /** Epoch ms. */
  time: number;
  /** Channel within the session (SSH channel number, 0 for the PostgreSQL stream). */
  channel: number;
  kind: EventKind;
  data: Uint8Array;
}

export interface CheckpointBody {
  sessionId: string;
  /** Last frame covered; 0 when no frame has been written yet. */
  seq: number;
  /** Chain hash after frame `seq`. */
  hash: Uint8Array;
  /** Epoch ms. */
  time: number;
  /** True for the checkpoint written when the session closed normally. */
  final: boolean;
  keyId: string;
  /** The recording's format version, which names the domain tag; default: the current one. */
  formatVersion?: RecordingFormatVersion;
}

export interface Checkpoint extends CheckpointBody {
  signature: Uint8Array;
}

export function initialHash(
  sessionId: string,
  keyId: string,
  version: RecordingFormatVersion = RECORDING_FORMAT_VERSION,
): Buffer {
  return createHash('sha256')
    .update(`witness-recording-v${version}\0`)
    .update(sessionId)
    .update('\0')
    .update(keyId)
    .digest();
}

export function chainHash(previous: Uint8Array, frame: Uint8Array): Buffer {
  const total = previous.length + frame.length;
  if (total > HASH_SCRATCH.length) {
    return createHash('sha256').update(previous).update(frame).digest();
  }
  // As in chainHashParts: one call instead of a Hash object per frame (a verifier hashes
  // every frame of a download).
  HASH_SCRATCH.set(previous, 0);
  HASH_SCRATCH.set(frame, previous.length);
  return hash('sha256', HASH_SCRATCH.subarray(0, total), 'buffer');
}

/**
 * The chain hash of a frame given as its 20-byte fixed header and its data apart: the same
 * value as `chainHash(previous, header ‖ data)`, without joining them (SHA-256 of a message
 * does not depend on how it is fed in).
 */
export function chainHashParts(
  previous: Uint8Array,
  frameHeader: Uint8Array,
  data: Uint8Array,
): Buffer {
  const total = previous.length + frameHeader.length + data.length;
  if (total > HASH_SCRATCH.length) {
    return createHash('sha256').update(previous).update(frameHeader).update(data).digest();
  }
  // Most frames are small (a query, a row, a keystroke). Copying them next to each other and
  // hashing in one call costs a third of a Hash object per frame, which is a native object
  // with a weak handle for the garbage collector to track (measured: 4.1 µs → 1.4 µs).
  HASH_SCRATCH.set(previous, 0);
  HASH_SCRATCH.set(frameHeader, previous.length);
  HASH_SCRATCH.set(data, previous.length + frameHeader.length);
  return hash('sha256', HASH_SCRATCH.subarray(0, total), 'buffer');
}

/**
 * Where chainHash and chainHashParts join a frame up to 64 KiB (terminal output arrives in
 * frames of a few KiB); used synchronously, so one is enough.
 */
const HASH_SCRATCH = Buffer.allocUnsafe(64 * 1024 + 64);

/** Bytes before a frame record's data: 'F' | u32 length | the frame's 20-byte fixed header. */
export const FRAME_RECORD_HEAD_BYTES = 5 + FRAME_FIXED_BYTES;

/**
 * The start of a frame record, for writers that keep the data apart (no copy of it):
 * the record is `head ‖ data ‖ hash`, and the frame bytes the chain hashes are
 * `head.subarray(5) ‖ data` (see `chainHashParts`). Byte for byte what `encodeFrameRecord`
 * writes before the data.
 */
export function encodeFrameRecordHead(
  event: Omit<RecordingEvent, 'data'>,
  dataLength: number,
): Buffer {
  if (!KIND_CODES.has(event.kind)) throw new Error(`unknown event kind '${event.kind}'`);
  if (dataLength > MAX_FRAME_DATA_BYTES) throw new Error('frame data too large; split it');
  const head = Buffer.allocUnsafe(FRAME_RECORD_HEAD_BYTES);
  head[0] = 0x46; // 'F'
  head.writeUInt32BE(FRAME_FIXED_BYTES + dataLength + HASH_BYTES, 1);
  writeFrameHeader(head, 5, event);
  return head;
}

function writeFrameHeader(target: Buffer, at: number, event: Omit<RecordingEvent, 'data'>): void {
  target[at] = FRAME_FORMAT_VERSION;
  target[at + 1] = event.kind.charCodeAt(0);
  target.writeUInt16BE(event.channel, at + 2);
  writeU64(target, event.seq, at + 4);
  writeU64(target, event.time, at + 12);
}

/**
 * A u64 as a number, without a BigInt per call: the same value as Number(readBigUInt64BE)
 * (hi·2³² is exact; adding lo rounds once, to nearest, as the BigInt conversion does).
 */
function readU64(source: Buffer, at: number): number {
  const high = source.readUInt32BE(at);
  const low = source.readUInt32BE(at + 4);
  // A seq or channel-sized value stays a small integer: `0 * 2^32 + low` is a boxed double in
  // V8's unoptimized code, and a mix of boxed and small numbers in the same fields made the
  // verifier's and the index's optimized code deoptimize on every download (--trace-deopt).
  return high === 0 ? low : high * 0x1_0000_0000 + low;
}

/** A u64 from a non-negative safe integer, without a BigInt per call. */
function writeU64(target: Buffer, value: number, at: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${value} is not a u64`);
  target.writeUInt32BE(Math.floor(value / 0x1_0000_0000), at);
  target.writeUInt32BE(value >>> 0, at + 4);
}

/** A frame's bytes; `version` 1 only to make recordings as old gateways wrote them (tests). */
export function encodeFrame(
  event: RecordingEvent,
  version: RecordingFormatVersion = RECORDING_FORMAT_VERSION,
): Buffer {
  if (!(version === 2 ? KIND_CODES : V1_KIND_CODES).has(event.kind)) {
    throw new Error(`unknown event kind '${event.kind}'`);
  }
  if (event.data.length > MAX_FRAME_DATA_BYTES) throw new Error('frame data too large; split it');
  const frame = Buffer.allocUnsafe(FRAME_FIXED_BYTES + event.data.length);
  writeFrameHeader(frame, 0, event);
  frame[0] = version;
  frame.set(event.data, FRAME_FIXED_BYTES);
  return frame;
}

export function decodeFrame(frame: Uint8Array): RecordingEvent {
  if (frame.length < FRAME_FIXED_BYTES) throw new Error('frame shorter than its fixed header');
  const view = Buffer.isBuffer(frame)
    ? frame
    : Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength);
  const version = view.readUInt8(0);
  if (version !== 2 && version !== 1) throw new Error(`unsupported frame version ${version}`);
  const kind = String.fromCharCode(view.readUInt8(1));
  if (!(version === 2 ? KIND_CODES : V1_KIND_CODES).has(kind)) {
    throw new Error(`unknown event kind '${kind}'`);
  }
  return {
    kind: kind as EventKind,
    channel: view.readUInt16BE(2),
    seq: readU64(view, 4),
    time: readU64(view, 12),
    data: view.subarray(FRAME_FIXED_BYTES),
  };
}

export function encodeHeaderRecord(header: RecordingHeader): Buffer {
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const length = Buffer.allocUnsafe(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([MAGICS[header.formatVersion] ?? RECORDING_MAGIC, length, json]);
}

export function encodeFrameRecord(frame: Uint8Array, hash: Uint8Array): Buffer {
  const prefix = Buffer.allocUnsafe(5);
  prefix.write('F', 0, 'ascii');
  prefix.writeUInt32BE(frame.length + hash.length, 1);
  return Buffer.concat([prefix, frame, hash]);
}

/** The exact bytes an Ed25519 checkpoint signature covers. */
export function checkpointSigningBytes(body: CheckpointBody): Buffer {
  const session = Buffer.from(body.sessionId, 'utf8');
  const key = Buffer.from(body.keyId, 'utf8');
  if (body.hash.length !== HASH_BYTES) throw new Error('checkpoint hash must be 32 bytes');
  const fixed = Buffer.allocUnsafe(8 + HASH_BYTES + 8 + 1);
  fixed.writeBigUInt64BE(BigInt(body.seq), 0);
  fixed.set(body.hash, 8);
  fixed.writeBigUInt64BE(BigInt(body.time), 8 + HASH_BYTES);
  fixed.writeUInt8(body.final ? 1 : 0, 16 + HASH_BYTES);
  return Buffer.concat([
    Buffer.from(`witness-checkpoint-v${body.formatVersion ?? RECORDING_FORMAT_VERSION}\0`, 'ascii'),
    lengthPrefixed(session),
    lengthPrefixed(key),
    fixed,
  ]);
}

export function encodeCheckpointRecord(checkpoint: Checkpoint): Buffer {
  const body = checkpointSigningBytes(checkpoint);
  const signatureLength = Buffer.allocUnsafe(2);
  signatureLength.writeUInt16BE(checkpoint.signature.length);
  const prefix = Buffer.allocUnsafe(5);
  prefix.write('C', 0, 'ascii');
  prefix.writeUInt32BE(body.length + 2 + checkpoint.signature.length, 1);
  return Buffer.concat([prefix, body, signatureLength, checkpoint.signature]);
}

/** A checkpoint record's payload (FORMAT.md §2.4), decoded; its signature is not checked. */
export function decodeCheckpointRecord(
  payload: Buffer,
  formatVersion: RecordingFormatVersion,
): Checkpoint {
  const tag = `witness-checkpoint-v${formatVersion}\0`;
  if (payload.subarray(0, tag.length).toString('ascii') !== tag)
    throw new Error('checkpoint has a wrong domain tag');
  let offset = tag.length;
  const readPrefixed = () => {
    const length = payload.readUInt16BE(offset);
    const value = payload.subarray(offset + 2, offset + 2 + length).toString('utf8');
    offset += 2 + length;
    return value;
  };
  const sessionId = readPrefixed();
  const keyId = readPrefixed();
  const seq = Number(payload.readBigUInt64BE(offset));
  const hash = payload.subarray(offset + 8, offset + 8 + HASH_BYTES);
  const time = Number(payload.readBigUInt64BE(offset + 8 + HASH_BYTES));
  const finalByte = payload.readUInt8(offset + 16 + HASH_BYTES);
  if (finalByte > 1) throw new Error('checkpoint final flag is not 0 or 1');
  offset += 17 + HASH_BYTES;
  const signatureLength = payload.readUInt16BE(offset);
  const signature = payload.subarray(offset + 2, offset + 2 + signatureLength);
  if (signature.length !== signatureLength || offset + 2 + signatureLength !== payload.length) {
    throw new Error('checkpoint record length does not match its contents');
  }
  return { sessionId, keyId, seq, hash, time, final: finalByte === 1, signature, formatVersion };
}

function lengthPrefixed(value: Buffer): Buffer {
  if (value.length > 0xffff) throw new Error('identifier too long');
  const length = Buffer.allocUnsafe(2);
  length.writeUInt16BE(value.length);
  return Buffer.concat([length, value]);
}

export type RecordingRecord =
  | { type: 'header'; header: RecordingHeader; offset: number }
  /** `frame` is the exact hashed bytes; `storedHash` is what the writer recorded after it. */
  | { type: 'frame'; event: RecordingEvent; frame: Buffer; storedHash: Buffer; offset: number }
  | { type: 'checkpoint'; checkpoint: Checkpoint; offset: number };

/**
 * Incremental reader: feed it chunks in order, take the records that are complete. Throws
 * `RecordingFormatError` (with the byte offset) on malformed input; `pendingBytes` > 0 after
 * the last chunk means the stream was cut mid-record.
 */
export class RecordingReader {
  private buffer: Buffer = Buffer.alloc(0);
  /**
   * Chunks not yet parsed. Joining waits until the next record can be complete:
   * re-concatenating on every chunk made a 1 MiB frame arriving in 16 KiB chunks cost ~32 MiB
   * of copying, which dominated verifying a multi-GB recording.
   */
  private pending: Uint8Array[] = [];
  private pendingLength = 0;
  /** Bytes `buffer` must hold before the next record can be complete (a lower bound). */
  private needed = RECORDING_MAGIC.length + 4;
  private consumed = 0;
  private sawHeader = false;
  private version: RecordingFormatVersion = RECORDING_FORMAT_VERSION;

  /**
   * Returns the records `chunk` completes. The reader keeps a reference to `chunk` until it is
   * parsed: do not reuse its memory before `releaseInput`. A malformed record throws
   * `RecordingFormatError`, whose `records` are the complete records before it in this chunk,
   * so a verifier can check them and name the exact record that is bad.
   */
  push(chunk: Uint8Array): RecordingRecord[] {
    if (chunk.length === 0) return [];
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
    if (this.buffer.length + this.pendingLength < this.needed) return [];
    const records: RecordingRecord[] = [];
    try {
      while (this.pending.length > 0) {
        this.fill();
        for (;;) {
          const record = this.next();
          if (!record) break;
          records.push(record);
        }
        if (this.buffer.length + this.pendingLength < this.needed) break;
      }
    } catch (error) {
      if (error instanceof RecordingFormatError) error.records = records;
      throw error;
    }
    return records;
  }

  /**
   * Makes `buffer` hold at least the next record. Records are parsed in place in the chunks
   * they arrived in: only the few bytes of a record that straddles two chunks are joined,
   * not the whole next chunk (copying every chunk once more had been a tenth of verifying a
   * 100 MiB download, in 16 KiB TLS records).
   */
  private fill(): void {
    if (this.buffer.length === 0) {
      this.buffer = asBuffer(this.pending.shift()!);
      this.pendingLength -= this.buffer.length;
      return;
    }
    let want = Math.max(1, this.needed - this.buffer.length);
    const parts: Uint8Array[] = [this.buffer];
    while (want > 0 && this.pending.length > 0) {
      const next = this.pending[0]!;
      if (next.length <= want) {
        parts.push(next);
        this.pending.shift();
        this.pendingLength -= next.length;
        want -= next.length;
      } else {
        parts.push(next.subarray(0, want));
        this.pending[0] = next.subarray(want);
        this.pendingLength -= want;
        want = 0;
      }
    }
    this.buffer = Buffer.concat(parts);
  }

  /**
   * Copies the bytes it still holds (the start of a record that the chunks so far did not
   * complete) into memory of its own, so the caller may reuse the memory of every chunk pushed
   * so far. The download's batch buffers go back to the thread that fills them.
   */
  releaseInput(): void {
    const held = this.buffer.length + this.pendingLength;
    const own = Buffer.allocUnsafe(held);
    this.buffer.copy(own, 0);
    let at = this.buffer.length;
    for (const chunk of this.pending) {
      own.set(chunk, at);
      at += chunk.length;
    }
    this.buffer = own;
    this.pending.length = 0;
    this.pendingLength = 0;
  }

  /** Bytes received but not yet forming a complete record (non-zero means truncated). */
  get pendingBytes(): number {
    return this.buffer.length + this.pendingLength;
  }

  get offset(): number {
    return this.consumed;
  }

  /**
   * Reads a stretch cut out of a stream whose header was read elsewhere: the next bytes pushed
   * are the record at `offset` of a stream of `version` (issue #16: a seek fetches the records
   * between two checkpoints, not the whole stream). Call before the first push.
   */
  resumeAt(version: RecordingFormatVersion, offset: number): void {
    this.version = version;
    this.sawHeader = true;
    this.consumed = offset;
    this.needed = 5;
  }

  private next(): RecordingRecord | undefined {
    // Once per stream, and apart: a branch that runs once is one V8 has no feedback for when
    // it optimizes the per-record path, so inlined here it cost a deoptimization per download.
    if (!this.sawHeader) return this.nextHeader();
    const offset = this.consumed;
    if (this.buffer.length < 5) {
      this.needed = 5;
      return undefined;
    }
    const type = String.fromCharCode(this.buffer[0]!);
    const length = this.buffer.readUInt32BE(1);
    if (length > MAX_RECORD_BYTES)
      throw new RecordingFormatError(`record of ${length} bytes is too large`, offset);
    if (this.buffer.length < 5 + length) {
      this.needed = 5 + length;
      return undefined;
    }
    const payload = this.buffer.subarray(5, 5 + length);
    this.advance(5 + length);
    try {
      if (type === 'F') {
        if (length < FRAME_FIXED_BYTES + HASH_BYTES) throw new Error('frame record too short');
        const frame = payload.subarray(0, length - HASH_BYTES);
        if (frame[0] !== this.version) {
          throw new Error(`frame version ${frame[0]} in a version ${this.version} recording`);
        }
        return {
          type: 'frame',
          event: decodeFrame(frame),
          frame,
          storedHash: payload.subarray(length - HASH_BYTES),
          offset,
        };
      }
      if (type === 'C')
        return {
          type: 'checkpoint',
          checkpoint: decodeCheckpointRecord(payload, this.version),
          offset,
        };
    } catch (error) {
      throw new RecordingFormatError((error as Error).message, offset);
    }
    throw new RecordingFormatError(
      `unknown record type 0x${type.charCodeAt(0).toString(16)}`,
      offset,
    );
  }

  private nextHeader(): RecordingRecord | undefined {
    const offset = this.consumed;
    if (this.buffer.length < RECORDING_MAGIC.length + 4) {
      this.needed = RECORDING_MAGIC.length + 4;
      return undefined;
    }
    const version = recordingVersionOfMagic(this.buffer);
    if (version === undefined) {
      throw new RecordingFormatError(
        this.buffer.subarray(0, 7).toString('latin1') === 'WTNSREC'
          ? 'a Witness recording of a format version this reader does not know; update witness'
          : 'not a Witness recording (bad magic)',
        offset,
      );
    }
    const length = this.buffer.readUInt32BE(RECORDING_MAGIC.length);
    if (length > 1024 * 1024) throw new RecordingFormatError('header too large', offset);
    const total = RECORDING_MAGIC.length + 4 + length;
    if (this.buffer.length < total) {
      this.needed = total;
      return undefined;
    }
    let header: RecordingHeader;
    try {
      header = JSON.parse(
        this.buffer.subarray(RECORDING_MAGIC.length + 4, total).toString('utf8'),
      ) as RecordingHeader;
    } catch {
      throw new RecordingFormatError('header is not valid JSON', offset);
    }
    if (
      typeof header !== 'object' ||
      header === null ||
      header.formatVersion !== version ||
      typeof header.sessionId !== 'string' ||
      typeof header.keyId !== 'string'
    ) {
      throw new RecordingFormatError(
        `header lacks formatVersion ${version}, sessionId or keyId`,
        offset,
      );
    }
    this.version = version;
    this.advance(total);
    this.sawHeader = true;
    return { type: 'header', header, offset };
  }

  private advance(bytes: number): void {
    this.buffer = this.buffer.subarray(bytes);
    this.consumed += bytes;
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class RecordingFormatError extends Error {
  /** Complete records that came before the malformed one in the same `push`. */
  records: RecordingRecord[] = [];

  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} (at byte ${offset})`);
    this.name = 'RecordingFormatError';
  }
}
