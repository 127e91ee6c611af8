/**
 * The one error the PostgreSQL codec throws. Anything a peer can send — truncated, oversized,
 * unknown or garbage bytes — ends in a `ProtocolError`, never a `RangeError` from a buffer read
 * or a hang, so the session can answer with an ErrorResponse and close only this connection.
 */
export type ProtocolErrorCode =
  /** A declared length is over the configured limit; nothing of the message was buffered. */
  | 'message_too_large'
  /** Bytes that do not form a valid message: bad length, truncated field, bad terminator. */
  | 'malformed'
  /** A type byte (or authentication/startup code) this protocol version does not define. */
  | 'unknown_message'
  /** A startup packet for a protocol other than 3.x, or TLS where a startup packet belongs. */
  | 'unsupported_protocol'
  /** An encoder was given a value the wire format cannot carry (NUL in a string, int range). */
  | 'unencodable';

/** SQLSTATEs PostgreSQL itself uses for the same faults (errcodes.txt). */
const SQLSTATE: Record<ProtocolErrorCode, string> = {
  message_too_large: '08P01', // protocol_violation ("invalid message length")
  malformed: '08P01',
  unknown_message: '08P01',
  unsupported_protocol: '0A000', // feature_not_supported ("unsupported frontend protocol")
  unencodable: 'XX000', // internal_error: the gateway built a bad message, not the peer
};

export class ProtocolError extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ProtocolError';
  }

  /** The SQLSTATE to put in the ErrorResponse that reports this error to a client. */
  get sqlState(): string {
    return SQLSTATE[this.code];
  }
}

/** "64 MiB", "1 GiB", "10000 bytes": limits as an operator would write them in a config. */
export function formatByteSize(bytes: number): string {
  const units: Array<[number, string]> = [
    [1024 ** 3, 'GiB'],
    [1024 ** 2, 'MiB'],
    [1024, 'KiB'],
  ];
  for (const [size, unit] of units) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`;
  }
  return `${bytes} bytes`;
}
