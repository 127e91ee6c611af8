/**
 * Typed messages → bytes, for what the gateway sends itself (its own ErrorResponses, the
 * authentication exchange with each side, masked DataRows) and for tests. Every message the
 * decoders accept can be encoded back to the same bytes (see messages.test.ts).
 *
 * Encoders refuse what the wire cannot carry — a NUL inside a string, a number out of its
 * field's range — with `ProtocolError('unencodable')`. A NUL would otherwise end the string
 * early and let the rest of it be read as further fields (an error message built from user
 * input must not be able to inject fields or messages).
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import { ProtocolError } from './codecError.ts';
import {
  type BackendMessage,
  CANCEL_REQUEST_CODE,
  type FrontendMessage,
  GSSENC_REQUEST_CODE,
  NOTICE_FIELD_CODES,
  type NoticeFieldMap,
  type NoticeFields,
  SSL_REQUEST_CODE,
} from './messages.ts';

const MAX_MESSAGE_LENGTH = 0x7fffffff; // the Int32 length word

function unencodable(problem: string): never {
  throw new ProtocolError('unencodable', `Cannot encode ${problem}`);
}

/** Builds one message in a growing buffer, then fills in the length word. */
class MessageWriter {
  private buffer: Buffer;
  private offset = 0;
  private readonly lengthOffset: number;

  constructor(
    /** One type character, or null for an untyped startup packet. */
    type: string | null,
    private readonly message: string,
    sizeHint = 64,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.max(sizeHint, 16));
    if (type !== null) this.buffer[this.offset++] = type.charCodeAt(0);
    this.lengthOffset = this.offset;
    this.offset += 4;
  }

  private reserve(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    if (this.offset + bytes - this.lengthOffset > MAX_MESSAGE_LENGTH) {
      unencodable(`${this.message}: the message would exceed the protocol's 2 GiB limit`);
    }
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.offset + bytes));
    this.buffer.copy(grown, 0, 0, this.offset);
    this.buffer = grown;
  }

  private integer(value: number, min: number, max: number, what: string): void {
    if (!Number.isInteger(value) || value < min || value > max) {
      unencodable(
        `${this.message}: ${what} is ${value}; it must be an integer from ${min} to ${max}`,
      );
    }
  }

  uint8(value: number, what: string): this {
    this.integer(value, 0, 0xff, what);
    this.reserve(1);
    this.buffer[this.offset++] = value;
    return this;
  }

  int16(value: number, what: string): this {
    this.integer(value, -0x8000, 0x7fff, what);
    this.reserve(2);
    this.offset = this.buffer.writeInt16BE(value, this.offset);
    return this;
  }

  /** Counts: Int16 on the wire, read unsigned by PostgreSQL (up to 65535 parameters). */
  count(value: number, what: string): this {
    this.integer(value, 0, 0xffff, what);
    this.reserve(2);
    this.offset = this.buffer.writeUInt16BE(value, this.offset);
    return this;
  }

  int32(value: number, what: string): this {
    this.integer(value, -0x80000000, 0x7fffffff, what);
    this.reserve(4);
    this.offset = this.buffer.writeInt32BE(value, this.offset);
    return this;
  }

  uint32(value: number, what: string): this {
    this.integer(value, 0, 0xffffffff, what);
    this.reserve(4);
    this.offset = this.buffer.writeUInt32BE(value, this.offset);
    return this;
  }

  cstring(value: string, what: string): this {
    if (value.includes('\0')) {
      unencodable(
        `${this.message}: ${what} contains a NUL byte, which a protocol string cannot carry`,
      );
    }
    const length = Buffer.byteLength(value, 'utf8');
    this.reserve(length + 1);
    this.offset += this.buffer.write(value, this.offset, 'utf8');
    this.buffer[this.offset++] = 0;
    return this;
  }

  bytes(value: Buffer): this {
    this.reserve(value.length);
    this.offset += value.copy(this.buffer, this.offset);
    return this;
  }

  nullableBytes(value: Buffer | null, what: string): this {
    if (value === null) return this.int32(-1, what);
    this.int32(value.length, `the length of ${what}`);
    return this.bytes(value);
  }

  int16List(values: readonly number[], what: string): this {
    this.count(values.length, `the number of ${what}`);
    for (const value of values) this.int16(value, what);
    return this;
  }

  finish(): Buffer {
    this.buffer.writeInt32BE(this.offset - this.lengthOffset, this.lengthOffset);
    return this.buffer.subarray(0, this.offset);
  }
}

function emptyMessage(type: string): Buffer {
  const buffer = Buffer.allocUnsafe(5);
  buffer[0] = type.charCodeAt(0);
  buffer.writeInt32BE(4, 1);
  return buffer;
}

function checkCancelKey(key: Buffer, message: string): void {
  if (key.length < 4 || key.length > 256) {
    unencodable(`${message}: the secret key is ${key.length} bytes; it must be 4 to 256`);
  }
}

// ---------------------------------------------------------------- frontend

export function encodeFrontend(message: FrontendMessage): Buffer {
  switch (message.type) {
    case 'StartupMessage': {
      const { major, minor } = message.protocolVersion;
      const w = new MessageWriter(null, 'StartupMessage', 128)
        .count(major, 'the major protocol version')
        .count(minor, 'the minor protocol version');
      for (const [name, value] of message.parameters) {
        if (name === '') unencodable('StartupMessage: a parameter name is empty');
        w.cstring(name, 'a parameter name').cstring(value, `the value of "${name}"`);
      }
      return w.uint8(0, 'the terminator').finish();
    }
    case 'SSLRequest':
      return new MessageWriter(null, 'SSLRequest', 8).uint32(SSL_REQUEST_CODE, 'code').finish();
    case 'GSSENCRequest':
      return new MessageWriter(null, 'GSSENCRequest', 8)
        .uint32(GSSENC_REQUEST_CODE, 'code')
        .finish();
    case 'CancelRequest':
      checkCancelKey(message.secretKey, 'CancelRequest');
      return new MessageWriter(null, 'CancelRequest', 12 + message.secretKey.length)
        .uint32(CANCEL_REQUEST_CODE, 'code')
        .int32(message.processId, 'the process id')
        .bytes(message.secretKey)
        .finish();
    case 'Query':
      return new MessageWriter('Q', 'Query', message.sql.length + 6)
        .cstring(message.sql, 'the query string')
        .finish();
    case 'Parse': {
      const w = new MessageWriter('P', 'Parse', message.sql.length + 32)
        .cstring(message.statement, 'the statement name')
        .cstring(message.sql, 'the query string')
        .count(message.parameterTypes.length, 'the number of parameter types');
      for (const oid of message.parameterTypes) w.uint32(oid, 'a parameter type OID');
      return w.finish();
    }
    case 'Bind': {
      const w = new MessageWriter('B', 'Bind')
        .cstring(message.portal, 'the portal name')
        .cstring(message.statement, 'the statement name')
        .int16List(message.parameterFormats, 'parameter format codes')
        .count(message.parameters.length, 'the number of parameters');
      message.parameters.forEach((value, i) => {
        w.nullableBytes(value, `parameter ${i + 1}`);
      });
      return w.int16List(message.resultFormats, 'result format codes').finish();
    }
    case 'Describe':
    case 'Close':
      return new MessageWriter(message.type === 'Describe' ? 'D' : 'C', message.type)
        .uint8(message.target === 'statement' ? 0x53 : 0x50, 'the target kind')
        .cstring(message.name, `the ${message.target} name`)
        .finish();
    case 'Execute':
      return new MessageWriter('E', 'Execute')
        .cstring(message.portal, 'the portal name')
        .int32(message.maxRows, 'the row limit')
        .finish();
    case 'Sync':
      return emptyMessage('S');
    case 'Flush':
      return emptyMessage('H');
    case 'Terminate':
      return emptyMessage('X');
    case 'CopyDone':
      return emptyMessage('c');
    case 'AuthenticationResponse':
      return new MessageWriter('p', 'AuthenticationResponse', message.data.length + 5)
        .bytes(message.data)
        .finish();
    case 'CopyData':
      return new MessageWriter('d', 'CopyData', message.data.length + 5)
        .bytes(message.data)
        .finish();
    case 'CopyFail':
      return new MessageWriter('f', 'CopyFail')
        .cstring(message.message, 'the error message')
        .finish();
    case 'FunctionCall': {
      const w = new MessageWriter('F', 'FunctionCall')
        .uint32(message.functionOid, 'the function OID')
        .int16List(message.argumentFormats, 'argument format codes')
        .count(message.arguments.length, 'the number of arguments');
      message.arguments.forEach((value, i) => {
        w.nullableBytes(value, `argument ${i + 1}`);
      });
      return w.int16(message.resultFormat, 'the result format').finish();
    }
  }
}

/** A 'p' message carrying a password (cleartext, or "md5" + hex digest). */
export function encodePasswordMessage(password: string): Buffer {
  return new MessageWriter('p', 'PasswordMessage').cstring(password, 'the password').finish();
}

/** The first 'p' message of a SASL exchange; `data` is e.g. SCRAM's client-first-message. */
export function encodeSASLInitialResponse(mechanism: string, data: Buffer | null): Buffer {
  return new MessageWriter('p', 'SASLInitialResponse', 32 + (data?.length ?? 0))
    .cstring(mechanism, 'the mechanism name')
    .nullableBytes(data, 'the initial response')
    .finish();
}

/** A later 'p' message of a SASL exchange; `data` is e.g. SCRAM's client-final-message. */
export function encodeSASLResponse(data: Buffer): Buffer {
  return encodeFrontend({ type: 'AuthenticationResponse', data });
}

// ---------------------------------------------------------------- backend

export function encodeBackend(message: BackendMessage): Buffer {
  switch (message.type) {
    case 'EncryptionResponse':
      return Buffer.from(message.answer, 'latin1');
    case 'AuthenticationOk':
      return authentication(0).finish();
    case 'AuthenticationKerberosV5':
      return authentication(2).finish();
    case 'AuthenticationCleartextPassword':
      return authentication(3).finish();
    case 'AuthenticationMD5Password':
      if (message.salt.length !== 4) {
        unencodable(`AuthenticationMD5Password: the salt is ${message.salt.length} bytes, not 4`);
      }
      return authentication(5).bytes(message.salt).finish();
    case 'AuthenticationGSS':
      return authentication(7).finish();
    case 'AuthenticationGSSContinue':
      return authentication(8, message.data.length).bytes(message.data).finish();
    case 'AuthenticationSSPI':
      return authentication(9).finish();
    case 'AuthenticationSASL': {
      const w = authentication(10);
      for (const mechanism of message.mechanisms) {
        if (mechanism === '') unencodable('AuthenticationSASL: a mechanism name is empty');
        w.cstring(mechanism, 'a mechanism name');
      }
      return w.uint8(0, 'the terminator').finish();
    }
    case 'AuthenticationSASLContinue':
      return authentication(11, message.data.length).bytes(message.data).finish();
    case 'AuthenticationSASLFinal':
      return authentication(12, message.data.length).bytes(message.data).finish();
    case 'ParameterStatus':
      return new MessageWriter('S', 'ParameterStatus')
        .cstring(message.name, 'the parameter name')
        .cstring(message.value, 'the parameter value')
        .finish();
    case 'BackendKeyData':
      checkCancelKey(message.secretKey, 'BackendKeyData');
      return new MessageWriter('K', 'BackendKeyData', 9 + message.secretKey.length)
        .int32(message.processId, 'the process id')
        .bytes(message.secretKey)
        .finish();
    case 'ReadyForQuery':
      return new MessageWriter('Z', 'ReadyForQuery', 6)
        .uint8(message.status.charCodeAt(0), 'the transaction status')
        .finish();
    case 'RowDescription': {
      const w = new MessageWriter('T', 'RowDescription', 7 + message.fields.length * 32).count(
        message.fields.length,
        'the number of fields',
      );
      for (const field of message.fields) {
        w.cstring(field.name, 'a field name')
          .uint32(field.tableOid, 'a table OID')
          .int16(field.columnAttnum, 'a column number')
          .uint32(field.typeOid, 'a type OID')
          .int16(field.typeSize, 'a type size')
          .int32(field.typeModifier, 'a type modifier')
          .int16(field.format, 'a format code');
      }
      return w.finish();
    }
    case 'DataRow':
      return encodeDataRow(message.values);
    case 'CommandComplete':
      return new MessageWriter('C', 'CommandComplete')
        .cstring(message.tag, 'the command tag')
        .finish();
    case 'EmptyQueryResponse':
      return emptyMessage('I');
    case 'ErrorResponse':
      return noticeMessage('E', 'ErrorResponse', message.fields);
    case 'NoticeResponse':
      return noticeMessage('N', 'NoticeResponse', message.fields);
    case 'ParseComplete':
      return emptyMessage('1');
    case 'BindComplete':
      return emptyMessage('2');
    case 'CloseComplete':
      return emptyMessage('3');
    case 'NoData':
      return emptyMessage('n');
    case 'PortalSuspended':
      return emptyMessage('s');
    case 'CopyDone':
      return emptyMessage('c');
    case 'ParameterDescription': {
      const w = new MessageWriter('t', 'ParameterDescription').count(
        message.parameterTypes.length,
        'the number of parameters',
      );
      for (const oid of message.parameterTypes) w.uint32(oid, 'a parameter type OID');
      return w.finish();
    }
    case 'CopyInResponse':
    case 'CopyOutResponse':
    case 'CopyBothResponse': {
      const type =
        message.type === 'CopyInResponse' ? 'G' : message.type === 'CopyOutResponse' ? 'H' : 'W';
      return new MessageWriter(type, message.type)
        .uint8(message.format, 'the overall format')
        .int16List(message.columnFormats, 'column format codes')
        .finish();
    }
    case 'CopyData':
      return new MessageWriter('d', 'CopyData', message.data.length + 5)
        .bytes(message.data)
        .finish();
    case 'NotificationResponse':
      return new MessageWriter('A', 'NotificationResponse')
        .int32(message.processId, 'the process id')
        .cstring(message.channel, 'the channel name')
        .cstring(message.payload, 'the payload')
        .finish();
    case 'NegotiateProtocolVersion': {
      const w = new MessageWriter('v', 'NegotiateProtocolVersion')
        .int32(message.newestMinorVersion, 'the newest minor version')
        .int32(message.unrecognizedOptions.length, 'the number of unrecognized options');
      for (const option of message.unrecognizedOptions) w.cstring(option, 'an option name');
      return w.finish();
    }
    case 'FunctionCallResponse':
      return new MessageWriter('V', 'FunctionCallResponse', 9 + (message.result?.length ?? 0))
        .nullableBytes(message.result, 'the result')
        .finish();
  }
}

function authentication(code: number, extraBytes = 0): MessageWriter {
  return new MessageWriter('R', 'Authentication', 9 + extraBytes).int32(
    code,
    'the authentication code',
  );
}

/**
 * A DataRow sized exactly up front: the masking path re-encodes rows, one call per row.
 */
export function encodeDataRow(values: ReadonlyArray<Buffer | null>): Buffer {
  if (values.length > 0xffff) {
    unencodable(`DataRow: ${values.length} columns; at most 65535 fit the column count`);
  }
  let size = 7; // type, length, column count
  for (const value of values) size += 4 + (value === null ? 0 : value.length);
  if (size - 1 > MAX_MESSAGE_LENGTH) {
    unencodable(`DataRow: ${size} bytes would exceed the protocol's 2 GiB limit`);
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = 0x44; // 'D'
  out.writeInt32BE(size - 1, 1);
  out.writeUInt16BE(values.length, 5);
  let offset = 7;
  for (const value of values) {
    if (value === null) {
      offset = out.writeInt32BE(-1, offset);
    } else {
      offset = out.writeInt32BE(value.length, offset);
      offset += value.copy(out, offset);
    }
  }
  return out;
}

function noticeMessage(type: string, name: string, fields: NoticeFieldMap): Buffer {
  const w = new MessageWriter(type, name, 128);
  for (const [code, value] of fields) {
    const byte = code.charCodeAt(0);
    // Codes are single bytes; decoding maps each byte to one Latin-1 character.
    if (code.length !== 1 || byte === 0 || byte > 0xff) {
      unencodable(`${name}: field code ${JSON.stringify(code)} is not one non-NUL byte`);
    }
    w.uint8(byte, 'a field code').cstring(value, `field '${code}'`);
  }
  return w.uint8(0, 'the terminator').finish();
}

/** Named fields → wire fields, in PostgreSQL's order; 'V' defaults to the severity. */
export function noticeFieldMap(fields: NoticeFields): NoticeFieldMap {
  const map: NoticeFieldMap = new Map();
  const withDefaults: NoticeFields = {
    ...fields,
    severityNonLocalized: fields.severityNonLocalized ?? fields.severity,
  };
  for (const [name, code] of Object.entries(NOTICE_FIELD_CODES)) {
    const value = withDefaults[name as keyof typeof NOTICE_FIELD_CODES];
    if (value !== undefined) map.set(code, value);
  }
  for (const [code, value] of fields.other ?? []) {
    if (!map.has(code)) map.set(code, value);
  }
  return map;
}

/**
 * An ErrorResponse as the gateway sends it: e.g. `{severity: 'ERROR', code: '42501', message:
 * 'Blocked by guardrail "no-drop"', hint: 'Ask an admin …'}`. Use severity 'FATAL' when the
 * connection is closed after it.
 */
export function encodeErrorResponse(fields: NoticeFields): Buffer {
  return noticeMessage('E', 'ErrorResponse', noticeFieldMap(fields));
}

export function encodeNoticeResponse(fields: NoticeFields): Buffer {
  return noticeMessage('N', 'NoticeResponse', noticeFieldMap(fields));
}
