/**
 * The few PostgreSQL protocol 3.0 messages the local tunnel reads and writes itself: startup
 * packets from the client, the gateway's authentication messages, and the ErrorResponses the
 * tunnel sends when it cannot connect someone. Everything after the login passes through the
 * tunnel as bytes, so this is deliberately not a codec (shared/postgres/codec.ts is one,
 * and gateway-client may not import the gateway). Pure: no sockets.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** PostgreSQL's own limit for a startup packet (MAX_STARTUP_PACKET_LENGTH in pqcomm.h). */
export const MAX_STARTUP_PACKET_BYTES = 10_000;
/** Larger than any authentication or error message the gateway sends while logging in. */
export const MAX_LOGIN_MESSAGE_BYTES = 1024 * 1024;

const PROTOCOL_3_0 = 196608;
const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;
const CANCEL_REQUEST_CODE = 80877102;

/** SQLSTATEs the tunnel answers with (PostgreSQL Appendix A). */
export const TUNNEL_SQLSTATE = {
  /** A malformed startup from the client. */
  protocolViolation: '08P01',
  /** The gateway or its API cannot be reached, or its certificate is not the pinned one. */
  connectionFailure: '08006',
  /** No grant, ticket refused, not signed in. */
  invalidAuthorization: '28000',
  featureNotSupported: '0A000',
} as const;

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: Buffer }
  | { kind: 'startup'; major: number; minor: number; parameters: Map<string, string> };

/** A malformed message: the peer gets an ErrorResponse with this SQLSTATE. */
export class TunnelWireError extends Error {
  override readonly name = 'TunnelWireError';
  constructor(
    message: string,
    readonly sqlState: string = TUNNEL_SQLSTATE.protocolViolation,
  ) {
    super(message);
  }
}

/**
 * The first complete startup packet in `buffer` and the bytes after it, or undefined when more
 * bytes are needed. Startup packets have no type byte: int32 length (itself included), int32 code.
 */
export function readStartupPacket(
  buffer: Buffer,
): { packet: StartupPacket; rest: Buffer } | undefined {
  if (buffer.length < 4) return undefined;
  const length = buffer.readInt32BE(0);
  if (length < 8 || length > MAX_STARTUP_PACKET_BYTES) {
    throw new TunnelWireError(
      `Invalid startup packet length ${length}: this is a PostgreSQL port (protocol 3.0)`,
    );
  }
  if (buffer.length < length) return undefined;
  const code = buffer.readInt32BE(4);
  const body = buffer.subarray(8, length);
  const rest = buffer.subarray(length);
  switch (code) {
    case SSL_REQUEST_CODE:
      return { packet: { kind: 'ssl' }, rest };
    case GSSENC_REQUEST_CODE:
      return { packet: { kind: 'gssenc' }, rest };
    case CANCEL_REQUEST_CODE:
      if (length !== 16) throw new TunnelWireError('Malformed CancelRequest');
      return {
        packet: {
          kind: 'cancel',
          processId: body.readInt32BE(0),
          secretKey: Buffer.from(body.subarray(4, 8)),
        },
        rest,
      };
    default: {
      const major = code >>> 16;
      const minor = code & 0xffff;
      if (major !== 3) {
        throw new TunnelWireError(
          `Protocol version ${major}.${minor} is not supported; the tunnel speaks 3.0`,
          TUNNEL_SQLSTATE.featureNotSupported,
        );
      }
      return { packet: { kind: 'startup', major, minor, parameters: parameterList(body) }, rest };
    }
  }
}

/** `name\0value\0…\0` → Map. */
function parameterList(body: Buffer): Map<string, string> {
  const parameters = new Map<string, string>();
  let at = 0;
  for (;;) {
    const nameEnd = body.indexOf(0, at);
    if (nameEnd < 0) throw new TunnelWireError('Malformed StartupMessage: unterminated name');
    if (nameEnd === at) {
      if (nameEnd !== body.length - 1) {
        throw new TunnelWireError('Malformed StartupMessage: data after the parameter list');
      }
      return parameters;
    }
    const valueEnd = body.indexOf(0, nameEnd + 1);
    if (valueEnd < 0) throw new TunnelWireError('Malformed StartupMessage: unterminated value');
    parameters.set(
      body.toString('utf8', at, nameEnd),
      body.toString('utf8', nameEnd + 1, valueEnd),
    );
    at = valueEnd + 1;
  }
}

export function encodeStartupMessage(parameters: Map<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of parameters) parts.push(cString(name), cString(value));
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  const out = Buffer.allocUnsafe(8 + body.length);
  out.writeInt32BE(out.length, 0);
  out.writeInt32BE(PROTOCOL_3_0, 4);
  body.copy(out, 8);
  return out;
}

export function encodeSslRequest(): Buffer {
  const out = Buffer.allocUnsafe(8);
  out.writeInt32BE(8, 0);
  out.writeInt32BE(SSL_REQUEST_CODE, 4);
  return out;
}

export function encodeCancelRequest(processId: number, secretKey: Buffer): Buffer {
  const out = Buffer.allocUnsafe(16);
  out.writeInt32BE(16, 0);
  out.writeInt32BE(CANCEL_REQUEST_CODE, 4);
  out.writeInt32BE(processId, 8);
  secretKey.copy(out, 12, 0, 4);
  return out;
}

export function encodePasswordMessage(password: string): Buffer {
  return typed('p', cString(password));
}

export function encodeSaslInitialResponse(mechanism: string, data: Buffer): Buffer {
  const length = Buffer.allocUnsafe(4);
  length.writeInt32BE(data.length, 0);
  return typed('p', Buffer.concat([cString(mechanism), length, data]));
}

export function encodeSaslResponse(data: Buffer): Buffer {
  return typed('p', data);
}

/** A FATAL ErrorResponse (what PostgreSQL sends before closing a connection it refuses). */
export function encodeFatalError(sqlState: string, message: string, hint?: string): Buffer {
  const fields: Buffer[] = [
    Buffer.from('S'),
    cString('FATAL'),
    Buffer.from('V'),
    cString('FATAL'),
    Buffer.from('C'),
    cString(sqlState),
    Buffer.from('M'),
    cString(message),
  ];
  if (hint !== undefined) fields.push(Buffer.from('H'), cString(hint));
  fields.push(Buffer.from([0]));
  return typed('E', Buffer.concat(fields));
}

function cString(text: string): Buffer {
  // A NUL inside would end the string early and shift every later field.
  return Buffer.from(`${text.replaceAll('\0', '')}\0`, 'utf8');
}

function typed(type: string, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out.write(type, 0, 'latin1');
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

/** One backend message: its type byte, its body, and where it starts in the reader's buffer. */
export interface BackendFrame {
  type: string;
  body: Buffer;
}

/**
 * Splits the gateway's byte stream into messages during the login. `take()` returns the next
 * complete message or undefined; `rest()` hands over the unparsed bytes when the tunnel
 * switches to passing bytes through.
 */
export class BackendFrameReader {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessageBytes = MAX_LOGIN_MESSAGE_BYTES) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
  }

  take(): BackendFrame | undefined {
    if (this.buffer.length < 5) return undefined;
    const length = this.buffer.readInt32BE(1);
    if (length < 4 || length > this.maxMessageBytes) {
      throw new TunnelWireError(
        `The gateway sent a message of ${length} bytes during the login; this is not a Witness PostgreSQL listener`,
        TUNNEL_SQLSTATE.connectionFailure,
      );
    }
    if (this.buffer.length < 1 + length) return undefined;
    const frame = {
      type: String.fromCharCode(this.buffer[0]!),
      body: this.buffer.subarray(5, 1 + length),
    };
    this.buffer = this.buffer.subarray(1 + length);
    return frame;
  }

  /** The bytes not yet returned by take(), and the reader is emptied. */
  rest(): Buffer {
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }
}

/** A re-encoding of a frame taken from BackendFrameReader (to forward AuthenticationOk etc.). */
export function encodeBackendFrame(frame: BackendFrame): Buffer {
  return typed(frame.type, frame.body);
}

export type Authentication =
  | { code: 0; kind: 'ok' }
  | { code: 3; kind: 'cleartext' }
  | { code: 10; kind: 'sasl'; mechanisms: string[] }
  | { code: 11; kind: 'sasl-continue'; data: Buffer }
  | { code: 12; kind: 'sasl-final'; data: Buffer }
  | { code: number; kind: 'other' };

/** An 'R' message body. */
export function parseAuthentication(body: Buffer): Authentication {
  if (body.length < 4) throw new TunnelWireError('Malformed authentication message');
  const code = body.readInt32BE(0);
  switch (code) {
    case 0:
      return { code, kind: 'ok' };
    case 3:
      return { code, kind: 'cleartext' };
    case 10:
      return {
        code,
        kind: 'sasl',
        mechanisms: body.toString('utf8', 4).split('\0').filter(Boolean),
      };
    case 11:
      return { code, kind: 'sasl-continue', data: body.subarray(4) };
    case 12:
      return { code, kind: 'sasl-final', data: body.subarray(4) };
    default:
      return { code, kind: 'other' };
  }
}

/** An 'E' or 'N' body → field code → value (M = message, C = SQLSTATE). */
export function parseErrorFields(body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    fields.set(String.fromCharCode(body[at]!), body.toString('utf8', at + 1, end));
    at = end + 1;
  }
  return fields;
}

/** A 'K' body: the key a client presents in a CancelRequest. */
export function parseBackendKeyData(body: Buffer): { processId: number; secretKey: Buffer } {
  if (body.length !== 8) throw new TunnelWireError('Malformed BackendKeyData');
  return { processId: body.readInt32BE(0), secretKey: Buffer.from(body.subarray(4, 8)) };
}
