/**
 * The PostgreSQL wire codec: bytes in, frames out, typed messages on demand, and back.
 * Pure — no sockets, timers or recorder (CONVENTIONS: "Protocol code does no I/O"); the
 * session feeds it what a socket delivered and decides what to do with each frame.
 *
 * `MessageReader` only *frames*: it cuts the stream into whole messages and checks their
 * type byte and length. Decoding a frame into a typed message is a separate, lazy step
 * (`decode`), so the proxy pays only for the messages it inspects and forwards the rest as
 * the exact bytes received. A message that arrives inside one chunk is a subarray of that
 * chunk (no copy); only a message split across chunks is assembled into a new buffer.
 *
 * @see https://www.postgresql.org/docs/current/protocol-overview.html
 */
import { formatByteSize, ProtocolError } from './codecError.ts';
import {
  BACKEND_MESSAGE_TYPES,
  type BackendMessage,
  FRONTEND_MESSAGE_TYPES,
  type Frame,
  type FrontendMessage,
} from './messages.ts';
import { decodeBackend, decodeFrontend } from './messagesDecode.ts';

export { ProtocolError, type ProtocolErrorCode } from './codecError.ts';
export * from './messages.ts';
export {
  decodeBackend,
  decodeDataRow,
  decodeFrontend,
  noticeFieldsOf,
  parsePasswordMessage,
  parseSASLInitialResponse,
  parseSASLResponse,
} from './messagesDecode.ts';
export {
  encodeBackend,
  encodeDataRow,
  encodeErrorResponse,
  encodeFrontend,
  encodeNoticeResponse,
  encodePasswordMessage,
  encodeSASLInitialResponse,
  encodeSASLResponse,
  noticeFieldMap,
} from './messagesEncode.ts';

/** Who sends the bytes this reader reads: 'frontend' = the client, 'backend' = the server. */
export type Direction = 'frontend' | 'backend';

/** The messages a direction carries: `MessageFrom<'frontend'>` is `FrontendMessage`. */
export type MessageFrom<D extends Direction> = D extends 'frontend'
  ? FrontendMessage
  : D extends 'backend'
    ? BackendMessage
    : FrontendMessage | BackendMessage;

/** What the reader expects next (see `expectTyped`, `expectStartup`, `expectEncryptionResponse`). */
export type ReaderPhase = 'startup' | 'encryptionResponse' | 'typed';

/** A client's messages are queries and parameters; 64 MiB leaves room for large COPY rows and bytea parameters. */
export const DEFAULT_MAX_FRONTEND_MESSAGE_BYTES = 64 * 1024 * 1024;
/** A server's DataRow can legitimately hold a 1 GiB value (PostgreSQL's MaxAllocSize). */
export const DEFAULT_MAX_BACKEND_MESSAGE_BYTES = 1024 * 1024 * 1024;
/** PostgreSQL's own MAX_STARTUP_PACKET_LENGTH (pqcomm.h). */
export const DEFAULT_MAX_STARTUP_BYTES = 10_000;

export interface MessageReaderOptions {
  /**
   * Largest typed message accepted, type byte and length word included. A message declaring
   * more is refused as soon as its length word arrives, before any of it is buffered.
   * Default: 64 MiB for 'frontend', 1 GiB for 'backend'.
   */
  maxMessageBytes?: number;
  /** Largest startup packet accepted (frontend). Default 10000 bytes, as PostgreSQL. */
  maxStartupBytes?: number;
}

const TYPE_BYTES: Record<Direction, Uint8Array> = {
  frontend: typeTable(FRONTEND_MESSAGE_TYPES),
  backend: typeTable(BACKEND_MESSAGE_TYPES),
};

function typeTable(types: string): Uint8Array {
  const table = new Uint8Array(256);
  for (let i = 0; i < types.length; i++) table[types.charCodeAt(i)] = 1;
  return table;
}

/** One character per type byte, so `frame.type` costs no allocation. */
const TYPE_NAMES = Array.from({ length: 256 }, (_, byte) => String.fromCharCode(byte));

const MAX_INT32 = 0x7fffffff;

/**
 * Cuts one direction of a connection into frames. One reader per direction; feed it every
 * chunk in order with `push`.
 *
 * Phases: a 'frontend' reader starts in the startup phase (untyped packets: StartupMessage,
 * SSLRequest, GSSENCRequest, CancelRequest); a 'backend' reader starts typed. After an
 * untyped packet (or an encryption response byte) the reader *holds* whatever follows,
 * unparsed, until the caller says what comes next — only the caller knows whether it answered
 * an SSLRequest with 'N' (another startup packet follows) or accepted a StartupMessage (typed
 * messages follow):
 *
 *     SSLRequest → write 'S', TLS handshake → expectStartup()
 *     GSSENCRequest → write 'N' → expectStartup()
 *     StartupMessage → authenticate → expectTyped()
 *
 * While held, `bufferedBytes` tells whether the peer sent more than it may have: bytes after
 * an SSLRequest arrived *unencrypted* and must not be read as if they came over TLS
 * (CVE-2021-23214; the same on the client side after 'S' is CVE-2021-23222).
 *
 * After a `ProtocolError` the stream position is lost: every later call throws the same error.
 */
export class MessageReader<D extends Direction = Direction> {
  readonly direction: D;
  readonly maxMessageBytes: number;
  readonly maxStartupBytes: number;
  private currentPhase: ReaderPhase;
  /** Set after a startup packet or encryption response until the caller names the next phase. */
  private held = false;
  /** Received, not yet framed; the first `headOffset` bytes of chunks[0] are already framed. */
  private chunks: Buffer[] = [];
  private headOffset = 0;
  private buffered = 0;
  /** Total size of the message at the head once its length word has been read, else -1. */
  private expected = -1;
  private failure: ProtocolError | null = null;
  private readonly typeBytes: Uint8Array;

  constructor(direction: D, options: MessageReaderOptions = {}) {
    this.direction = direction;
    this.maxMessageBytes =
      options.maxMessageBytes ??
      (direction === 'frontend'
        ? DEFAULT_MAX_FRONTEND_MESSAGE_BYTES
        : DEFAULT_MAX_BACKEND_MESSAGE_BYTES);
    this.maxStartupBytes = options.maxStartupBytes ?? DEFAULT_MAX_STARTUP_BYTES;
    // 5 bytes is the smallest typed message; 1 + Int32 max the largest the length word allows.
    checkLimit('maxMessageBytes', this.maxMessageBytes, 5, MAX_INT32 + 1);
    checkLimit('maxStartupBytes', this.maxStartupBytes, 8, MAX_INT32);
    this.currentPhase = direction === 'frontend' ? 'startup' : 'typed';
    this.typeBytes = TYPE_BYTES[direction];
  }

  get phase(): ReaderPhase {
    return this.currentPhase;
  }

  /** True after a startup packet or encryption response, until an `expect…` call. */
  get isHeld(): boolean {
    return this.held;
  }

  /** Bytes received but not yet returned in a frame. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  /**
   * Adds a chunk (none: just re-examine what is buffered) and returns the frames completed by
   * it, in order. Throws `ProtocolError` when the stream cannot be valid protocol.
   */
  push(chunk?: Buffer): Frame[] {
    if (this.failure) throw this.failure;
    if (chunk !== undefined && chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    return this.drain();
  }

  /**
   * Typed messages follow (frontend: the StartupMessage was accepted; backend: after the
   * encryption answer). Returns the frames already buffered behind the held packet — normally
   * none, as a peer waits for the answer before sending more.
   */
  expectTyped(): Frame[] {
    return this.enter('typed');
  }

  /**
   * Another startup packet follows (after answering SSLRequest/GSSENCRequest). Frontend only.
   * Returns the frames already buffered, like `expectTyped` — so check `bufferedBytes` is 0
   * *before* answering an SSLRequest with 'S' (see the class comment).
   */
  expectStartup(): Frame[] {
    if (this.direction !== 'frontend') {
      throw new Error(
        'expectStartup() is for a frontend reader: only clients send startup packets',
      );
    }
    return this.enter('startup');
  }

  /**
   * The one-byte answer to an SSLRequest/GSSENCRequest the caller sent follows. Backend only.
   * The reader holds after that byte; check `bufferedBytes` is 0 before the TLS handshake.
   */
  expectEncryptionResponse(): Frame[] {
    if (this.direction !== 'backend') {
      throw new Error(
        'expectEncryptionResponse() is for a backend reader: only servers answer SSLRequest',
      );
    }
    return this.enter('encryptionResponse');
  }

  /** The typed message in a frame of this reader's direction. */
  decode(frame: Frame): MessageFrom<D> {
    return (
      this.direction === 'frontend' ? decodeFrontend(frame) : decodeBackend(frame)
    ) as MessageFrom<D>;
  }

  private enter(phase: ReaderPhase): Frame[] {
    if (this.failure) throw this.failure;
    if (this.expected >= 0) {
      // Only reachable mid-message in the typed phase: a caller bug, not a peer's.
      throw new Error(
        `Cannot switch a ${this.direction} reader to ${phase} in the middle of a message`,
      );
    }
    this.currentPhase = phase;
    this.held = false;
    return this.drain();
  }

  private drain(): Frame[] {
    const frames: Frame[] = [];
    try {
      while (!this.held && this.buffered > 0) {
        const frame = this.nextFrame();
        if (frame === undefined) break;
        frames.push(frame);
      }
      if (this.held && this.buffered > this.maxMessageBytes) {
        this.fail(
          'message_too_large',
          `The ${this.peer} sent ${this.buffered} bytes before its ${this.direction === 'frontend' ? 'startup packet' : 'encryption response'} was handled; at most ${formatByteSize(this.maxMessageBytes)} may wait`,
        );
      }
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.failure = error;
        this.chunks = [];
        this.buffered = 0;
        this.headOffset = 0;
      }
      throw error;
    }
    return frames;
  }

  private nextFrame(): Frame | undefined {
    switch (this.currentPhase) {
      case 'typed':
        return this.nextTypedFrame();
      case 'startup':
        return this.nextStartupFrame();
      case 'encryptionResponse':
        return this.nextEncryptionResponse();
    }
  }

  private nextTypedFrame(): Frame | undefined {
    if (this.expected < 0) {
      const typeByte = this.byteAt(0);
      // Checked on the first byte: garbage is refused at once, not after 4 more bytes arrive.
      if (this.typeBytes[typeByte] !== 1) this.unknownType(typeByte);
      if (this.buffered < 5) return undefined;
      const length = this.int32At(1);
      const name = TYPE_NAMES[typeByte]!;
      if (length < 4) {
        this.fail(
          'malformed',
          `Message '${name}' from the ${this.peer} declares length ${length}; the length counts itself, so it is at least 4`,
        );
      }
      if (length + 1 > this.maxMessageBytes) {
        this.fail(
          'message_too_large',
          `Message '${name}' of ${length + 1} bytes from the ${this.peer} exceeds the ${formatByteSize(this.maxMessageBytes)} limit`,
        );
      }
      this.expected = length + 1;
    }
    if (this.buffered < this.expected) return undefined;
    const raw = this.take(this.expected);
    this.expected = -1;
    return { type: TYPE_NAMES[raw[0]!]!, raw, body: raw.subarray(5) };
  }

  /** @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP */
  private nextStartupFrame(): Frame | undefined {
    if (this.expected < 0) {
      this.refuseNonPostgres();
      if (this.buffered < 4) return undefined;
      const length = this.int32At(0);
      if (length < 8) {
        this.fail(
          'malformed',
          `Startup packet declares length ${length}; it must be at least 8 (length and protocol code)`,
        );
      }
      if (length > this.maxStartupBytes) {
        this.fail(
          'message_too_large',
          `Startup packet of ${length} bytes exceeds the ${formatByteSize(this.maxStartupBytes)} limit`,
        );
      }
      this.expected = length;
    }
    if (this.buffered < this.expected) return undefined;
    const raw = this.take(this.expected);
    this.expected = -1;
    this.held = true;
    return { type: 'startup', raw, body: raw.subarray(4) };
  }

  /**
   * Not a PostgreSQL client at all? Any valid startup packet starts 00 00 (its length is at
   * most 10000), so these checks only ever fire on bytes that would be refused anyway; they
   * only make the error say what was seen.
   */
  private refuseNonPostgres(): void {
    const first = this.byteAt(0);
    if (first === 0) return;
    if (first === 0x16 && (this.buffered < 2 || this.byteAt(1) === 0x03)) {
      this.fail(
        'unsupported_protocol',
        'The client began a TLS handshake without an SSLRequest (direct SSL negotiation, ' +
          'PostgreSQL 17+); connect with sslnegotiation=postgres',
      );
    }
    if (this.buffered < 4) return;
    const head = this.peek(4);
    if (head.every((byte) => byte >= 0x20 && byte < 0x7f)) {
      this.fail(
        'malformed',
        `The client sent text (${JSON.stringify(head.toString('latin1'))}…) where a PostgreSQL ` +
          'startup packet belongs — is an HTTP or other non-PostgreSQL client pointed at this port?',
      );
    }
  }

  private nextEncryptionResponse(): Frame | undefined {
    const answer = this.byteAt(0);
    if (answer === 0x45) {
      // 'E': a server that rejects the request outright sends an ErrorResponse (protocol docs,
      // "SSL Session Encryption"); it is an ordinary typed message.
      this.currentPhase = 'typed';
      return this.nextTypedFrame();
    }
    if (answer !== 0x53 && answer !== 0x47 && answer !== 0x4e) {
      this.fail(
        'malformed',
        `The server answered an encryption request with byte 0x${answer.toString(16).padStart(2, '0')}; expected 'S', 'G' or 'N'`,
      );
    }
    const raw = this.take(1);
    this.currentPhase = 'typed';
    this.held = true;
    return { type: 'encryptionResponse', raw, body: raw.subarray(1) };
  }

  private get peer(): string {
    return this.direction === 'frontend' ? 'client' : 'server';
  }

  private unknownType(typeByte: number): never {
    const hex = `0x${typeByte.toString(16).padStart(2, '0')}`;
    const shown = typeByte >= 0x20 && typeByte < 0x7f ? `'${TYPE_NAMES[typeByte]}' (${hex})` : hex;
    return this.fail(
      'unknown_message',
      `Unknown ${this.direction} message type ${shown}: the ${this.peer} is not speaking PostgreSQL protocol 3.0, or the stream is out of step`,
    );
  }

  private fail(code: ProtocolError['code'], message: string): never {
    throw new ProtocolError(code, message);
  }

  // ---------------------------------------------------------------- buffered bytes

  /** Byte `index` of the buffered data; callers ensure index < buffered. */
  private byteAt(index: number): number {
    let i = this.headOffset + index;
    for (const chunk of this.chunks) {
      if (i < chunk.length) return chunk[i]!;
      i -= chunk.length;
    }
    throw new Error('MessageReader: read past the buffered data');
  }

  private peek(length: number): Buffer {
    const head = this.chunks[0]!;
    if (head.length - this.headOffset >= length) {
      return head.subarray(this.headOffset, this.headOffset + length);
    }
    const out = Buffer.allocUnsafe(length);
    for (let i = 0; i < length; i++) out[i] = this.byteAt(i);
    return out;
  }

  private int32At(index: number): number {
    const head = this.chunks[0]!;
    if (head.length - this.headOffset >= index + 4) {
      return head.readInt32BE(this.headOffset + index);
    }
    return this.peek(index + 4).readInt32BE(index);
  }

  /** Removes `length` buffered bytes: a subarray if they lie in one chunk, else a copy. */
  private take(length: number): Buffer {
    const head = this.chunks[0]!;
    const start = this.headOffset;
    this.buffered -= length;
    if (head.length - start >= length) {
      this.headOffset += length;
      if (this.headOffset === head.length) {
        this.chunks.shift();
        this.headOffset = 0;
      }
      return head.subarray(start, start + length);
    }
    // Split across chunks: the one copy that cannot be avoided.
    const out = Buffer.allocUnsafe(length);
    let written = 0;
    let offset = start;
    let used = 0;
    for (const chunk of this.chunks) {
      const n = Math.min(chunk.length - offset, length - written);
      chunk.copy(out, written, offset, offset + n);
      written += n;
      if (written === length) {
        const rest = offset + n;
        if (rest === chunk.length) {
          used += 1;
          this.headOffset = 0;
        } else {
          this.headOffset = rest;
        }
        break;
      }
      used += 1;
      offset = 0;
    }
    this.chunks.splice(0, used);
    return out;
  }
}

function checkLimit(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, not ${value}`);
  }
}
