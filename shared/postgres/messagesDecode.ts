/**
 * Frames → typed messages. Decoding is strict, as PostgreSQL's own `pq_getmsg*` is: every field
 * must be present, every count must match what follows, and no byte may be left over at the
 * end (the server reports "invalid message format" for the same faults). Every read is
 * bounds-checked, so a lying length or count is a `ProtocolError('malformed')`, never an
 * out-of-bounds read.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import { ProtocolError } from './codecError.ts';
import {
  type AuthenticationResponse,
  type BackendMessage,
  CANCEL_REQUEST_CODE,
  type DataRow,
  type DescribeTarget,
  type FieldDescription,
  type Frame,
  type FrontendMessage,
  GSSENC_REQUEST_CODE,
  NOTICE_FIELD_CODES,
  type NoticeFieldMap,
  type NoticeFields,
  SSL_REQUEST_CODE,
  type StartupPacket,
} from './messages.ts';

/** Cancel keys: exactly 4 bytes in protocol 3.0; 4 to 256 bytes since 3.2 (PostgreSQL 18). */
const MIN_CANCEL_KEY_BYTES = 4;
const MAX_CANCEL_KEY_BYTES = 256;

/** A bounds-checked read position in one message body. */
class BodyCursor {
  offset = 0;

  constructor(
    readonly body: Buffer,
    /** The message's name, for error messages. */
    readonly message: string,
  ) {}

  get remaining(): number {
    return this.body.length - this.offset;
  }

  fail(problem: string): never {
    throw new ProtocolError('malformed', `Malformed ${this.message} message: ${problem}`);
  }

  private need(bytes: number, what: string): void {
    if (this.remaining < bytes) {
      this.fail(`${what} needs ${bytes} bytes but only ${this.remaining} remain`);
    }
  }

  uint8(what: string): number {
    this.need(1, what);
    return this.body[this.offset++]!;
  }

  int16(what: string): number {
    this.need(2, what);
    const value = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  /** Counts are Int16 on the wire but read unsigned, as the server does (pq_getmsgint). */
  count(what: string): number {
    this.need(2, what);
    const value = this.body.readUInt16BE(this.offset);
    this.offset += 2;
    return value;
  }

  int32(what: string): number {
    this.need(4, what);
    const value = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  uint32(what: string): number {
    this.need(4, what);
    const value = this.body.readUInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  cstring(what: string): string {
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) this.fail(`${what} has no terminating NUL byte`);
    const value = this.body.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return value;
  }

  bytes(length: number, what: string): Buffer {
    this.need(length, what);
    const value = this.body.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  /** Int32 length (-1 for NULL) followed by that many bytes. */
  nullableBytes(what: string): Buffer | null {
    const length = this.int32(`the length of ${what}`);
    if (length === -1) return null;
    if (length < 0) this.fail(`${what} has length ${length}; only -1 (NULL) may be negative`);
    return this.bytes(length, what);
  }

  rest(): Buffer {
    const value = this.body.subarray(this.offset);
    this.offset = this.body.length;
    return value;
  }

  int16List(count: number, what: string): number[] {
    this.need(count * 2, `${count} ${what}`);
    const values = new Array<number>(count);
    for (let i = 0; i < count; i++) values[i] = this.body.readInt16BE(this.offset + i * 2);
    this.offset += count * 2;
    return values;
  }

  uint32List(count: number, what: string): number[] {
    this.need(count * 4, `${count} ${what}`);
    const values = new Array<number>(count);
    for (let i = 0; i < count; i++) values[i] = this.body.readUInt32BE(this.offset + i * 4);
    this.offset += count * 4;
    return values;
  }

  end(): void {
    if (this.remaining !== 0) {
      this.fail(`${this.remaining} unexpected bytes after the last field`);
    }
  }
}

function unknownType(frame: Frame, direction: 'frontend' | 'backend'): never {
  const code = frame.type.charCodeAt(0);
  const shown =
    code >= 0x20 && code < 0x7f ? `'${frame.type}' (0x${hex2(code)})` : `0x${hex2(code)}`;
  throw new ProtocolError(
    'unknown_message',
    `Unknown ${direction} message type ${shown}: the ${direction === 'frontend' ? 'client' : 'server'} is not speaking PostgreSQL protocol 3.0`,
  );
}

function hex2(code: number): string {
  return code.toString(16).padStart(2, '0');
}

// ---------------------------------------------------------------- frontend

export function decodeFrontend(frame: Frame): FrontendMessage {
  if (frame.type === 'startup') return decodeStartupPacket(frame.body);
  switch (frame.type) {
    case 'Q': {
      const c = new BodyCursor(frame.body, 'Query');
      const sql = c.cstring('the query string');
      c.end();
      return { type: 'Query', sql };
    }
    case 'P': {
      const c = new BodyCursor(frame.body, 'Parse');
      const statement = c.cstring('the statement name');
      const sql = c.cstring('the query string');
      const parameterTypes = c.uint32List(c.count('the parameter type count'), 'parameter types');
      c.end();
      return { type: 'Parse', statement, sql, parameterTypes };
    }
    case 'B':
      return decodeBind(frame.body);
    case 'D':
    case 'C': {
      const name = frame.type === 'D' ? 'Describe' : 'Close';
      const c = new BodyCursor(frame.body, name);
      const target = describeTarget(c);
      const targetName = c.cstring(`the ${target} name`);
      c.end();
      return { type: name, target, name: targetName };
    }
    case 'E': {
      const c = new BodyCursor(frame.body, 'Execute');
      const portal = c.cstring('the portal name');
      const maxRows = c.int32('the row limit');
      c.end();
      return { type: 'Execute', portal, maxRows };
    }
    case 'S':
      return empty(frame, 'Sync');
    case 'H':
      return empty(frame, 'Flush');
    case 'X':
      return empty(frame, 'Terminate');
    case 'c':
      return empty(frame, 'CopyDone');
    case 'p':
      return { type: 'AuthenticationResponse', data: frame.body };
    case 'd':
      return { type: 'CopyData', data: frame.body };
    case 'f': {
      const c = new BodyCursor(frame.body, 'CopyFail');
      const message = c.cstring('the error message');
      c.end();
      return { type: 'CopyFail', message };
    }
    case 'F':
      return decodeFunctionCall(frame.body);
    default:
      return unknownType(frame, 'frontend');
  }
}

/**
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 * Mirrors ProcessStartupPacket in PostgreSQL's backend_startup.c.
 */
function decodeStartupPacket(body: Buffer): StartupPacket {
  const c = new BodyCursor(body, 'startup');
  const code = c.uint32('the protocol version');
  switch (code) {
    case SSL_REQUEST_CODE:
      c.end();
      return { type: 'SSLRequest' };
    case GSSENC_REQUEST_CODE:
      c.end();
      return { type: 'GSSENCRequest' };
    case CANCEL_REQUEST_CODE: {
      const cancel = new BodyCursor(body.subarray(4), 'CancelRequest');
      const processId = cancel.int32('the process id');
      const secretKey = cancel.rest();
      if (secretKey.length < MIN_CANCEL_KEY_BYTES || secretKey.length > MAX_CANCEL_KEY_BYTES) {
        cancel.fail(
          `the secret key is ${secretKey.length} bytes; it must be ${MIN_CANCEL_KEY_BYTES} to ${MAX_CANCEL_KEY_BYTES}`,
        );
      }
      return { type: 'CancelRequest', processId, secretKey };
    }
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) {
    throw new ProtocolError(
      'unsupported_protocol',
      `The client asked for PostgreSQL protocol ${major}.${minor}; only protocol 3 is supported ` +
        '(PostgreSQL 7.4 and later clients speak it) — upgrade the client or its driver',
    );
  }
  const startup = new BodyCursor(body.subarray(4), 'StartupMessage');
  const parameters = new Map<string, string>();
  for (;;) {
    const name = startup.cstring('a parameter name (or the final NUL terminator)');
    if (name === '') break;
    const value = startup.cstring(`the value of parameter "${name}"`);
    // One name, one meaning: a repeated "user" could be read differently by each hop.
    if (parameters.has(name)) startup.fail(`parameter "${name}" appears twice`);
    parameters.set(name, value);
  }
  startup.end();
  return { type: 'StartupMessage', protocolVersion: { major, minor }, parameters };
}

function decodeBind(body: Buffer): FrontendMessage {
  const c = new BodyCursor(body, 'Bind');
  const portal = c.cstring('the portal name');
  const statement = c.cstring('the statement name');
  const parameterFormats = c.int16List(
    c.count('the parameter format count'),
    'parameter format codes',
  );
  const count = c.count('the parameter count');
  const parameters = new Array<Buffer | null>(count);
  for (let i = 0; i < count; i++) {
    parameters[i] = c.nullableBytes(`parameter ${i + 1} of ${count}`);
  }
  if (parameterFormats.length > 1 && parameterFormats.length !== count) {
    c.fail(`${parameterFormats.length} parameter format codes for ${count} parameters`);
  }
  const resultFormats = c.int16List(c.count('the result format count'), 'result format codes');
  c.end();
  return { type: 'Bind', portal, statement, parameterFormats, parameters, resultFormats };
}

function decodeFunctionCall(body: Buffer): FrontendMessage {
  const c = new BodyCursor(body, 'FunctionCall');
  const functionOid = c.uint32('the function OID');
  const argumentFormats = c.int16List(
    c.count('the argument format count'),
    'argument format codes',
  );
  const count = c.count('the argument count');
  const args = new Array<Buffer | null>(count);
  for (let i = 0; i < count; i++) args[i] = c.nullableBytes(`argument ${i + 1} of ${count}`);
  if (argumentFormats.length > 1 && argumentFormats.length !== count) {
    c.fail(`${argumentFormats.length} argument format codes for ${count} arguments`);
  }
  const resultFormat = c.int16('the result format');
  c.end();
  return { type: 'FunctionCall', functionOid, argumentFormats, arguments: args, resultFormat };
}

function describeTarget(c: BodyCursor): DescribeTarget {
  const code = c.uint8('the target kind');
  if (code === 0x53) return 'statement'; // 'S'
  if (code === 0x50) return 'portal'; // 'P'
  return c.fail(`target kind 0x${hex2(code)} is neither 'S' (statement) nor 'P' (portal)`);
}

function empty<T extends string>(frame: Frame, type: T): { type: T } {
  if (frame.body.length !== 0) new BodyCursor(frame.body, type).end();
  return { type };
}

// ---------------------------------------------------------------- 'p' (context-dependent)

/** Reads a 'p' message as a PasswordMessage (cleartext or "md5…" hashed password). */
export function parsePasswordMessage(message: AuthenticationResponse): string {
  const c = new BodyCursor(message.data, 'PasswordMessage');
  const password = c.cstring('the password');
  c.end();
  return password;
}

/** Reads a 'p' message as the first message of a SASL exchange (after AuthenticationSASL). */
export function parseSASLInitialResponse(message: AuthenticationResponse): {
  mechanism: string;
  /** The mechanism's initial client response (SCRAM's client-first-message); null if none. */
  data: Buffer | null;
} {
  const c = new BodyCursor(message.data, 'SASLInitialResponse');
  const mechanism = c.cstring('the mechanism name');
  const data = c.nullableBytes('the initial response');
  c.end();
  return { mechanism, data };
}

/** Reads a 'p' message as a later SASL message (SCRAM's client-final-message). */
export function parseSASLResponse(message: AuthenticationResponse): Buffer {
  return message.data;
}

// ---------------------------------------------------------------- backend

export function decodeBackend(frame: Frame): BackendMessage {
  switch (frame.type) {
    case 'encryptionResponse': {
      const answer = frame.raw.toString('latin1', 0, 1);
      if (answer !== 'S' && answer !== 'G' && answer !== 'N') {
        throw new ProtocolError(
          'malformed',
          `The server answered an encryption request with 0x${hex2(frame.raw[0] ?? 0)}; expected 'S', 'G' or 'N'`,
        );
      }
      return { type: 'EncryptionResponse', answer };
    }
    case 'R':
      return decodeAuthentication(frame.body);
    case 'S': {
      const c = new BodyCursor(frame.body, 'ParameterStatus');
      const name = c.cstring('the parameter name');
      const value = c.cstring('the parameter value');
      c.end();
      return { type: 'ParameterStatus', name, value };
    }
    case 'K': {
      const c = new BodyCursor(frame.body, 'BackendKeyData');
      const processId = c.int32('the process id');
      const secretKey = c.rest();
      if (secretKey.length < MIN_CANCEL_KEY_BYTES || secretKey.length > MAX_CANCEL_KEY_BYTES) {
        c.fail(
          `the secret key is ${secretKey.length} bytes; it must be ${MIN_CANCEL_KEY_BYTES} to ${MAX_CANCEL_KEY_BYTES}`,
        );
      }
      return { type: 'BackendKeyData', processId, secretKey };
    }
    case 'Z': {
      const c = new BodyCursor(frame.body, 'ReadyForQuery');
      const status = String.fromCharCode(c.uint8('the transaction status'));
      c.end();
      if (status === 'I' || status === 'T' || status === 'E') {
        return { type: 'ReadyForQuery', status };
      }
      return c.fail(`transaction status 0x${hex2(status.charCodeAt(0))} is not 'I', 'T' or 'E'`);
    }
    case 'T':
      return decodeRowDescription(frame.body);
    case 'D':
      return decodeDataRow(frame.body);
    case 'C': {
      const c = new BodyCursor(frame.body, 'CommandComplete');
      const tag = c.cstring('the command tag');
      c.end();
      return { type: 'CommandComplete', tag };
    }
    case 'E':
      return { type: 'ErrorResponse', fields: decodeNoticeFields(frame.body, 'ErrorResponse') };
    case 'N':
      return { type: 'NoticeResponse', fields: decodeNoticeFields(frame.body, 'NoticeResponse') };
    case 'I':
      return empty(frame, 'EmptyQueryResponse');
    case '1':
      return empty(frame, 'ParseComplete');
    case '2':
      return empty(frame, 'BindComplete');
    case '3':
      return empty(frame, 'CloseComplete');
    case 'n':
      return empty(frame, 'NoData');
    case 's':
      return empty(frame, 'PortalSuspended');
    case 'c':
      return empty(frame, 'CopyDone');
    case 't': {
      const c = new BodyCursor(frame.body, 'ParameterDescription');
      const parameterTypes = c.uint32List(c.count('the parameter count'), 'parameter types');
      c.end();
      return { type: 'ParameterDescription', parameterTypes };
    }
    case 'G':
    case 'H':
    case 'W': {
      const type =
        frame.type === 'G'
          ? 'CopyInResponse'
          : frame.type === 'H'
            ? 'CopyOutResponse'
            : 'CopyBothResponse';
      const c = new BodyCursor(frame.body, type);
      const format = c.uint8('the overall format');
      const columnFormats = c.int16List(c.count('the column count'), 'column format codes');
      c.end();
      return { type, format, columnFormats };
    }
    case 'd':
      return { type: 'CopyData', data: frame.body };
    case 'A': {
      const c = new BodyCursor(frame.body, 'NotificationResponse');
      const processId = c.int32('the process id');
      const channel = c.cstring('the channel name');
      const payload = c.cstring('the payload');
      c.end();
      return { type: 'NotificationResponse', processId, channel, payload };
    }
    case 'v': {
      const c = new BodyCursor(frame.body, 'NegotiateProtocolVersion');
      const newestMinorVersion = c.int32('the newest minor version');
      const count = c.int32('the unrecognized option count');
      if (count < 0) c.fail(`the unrecognized option count is ${count}`);
      const unrecognizedOptions: string[] = [];
      // Each option takes at least one byte, so a lying count cannot make this loop long.
      for (let i = 0; i < count; i++) {
        unrecognizedOptions.push(c.cstring(`unrecognized option ${i + 1} of ${count}`));
      }
      c.end();
      return { type: 'NegotiateProtocolVersion', newestMinorVersion, unrecognizedOptions };
    }
    case 'V': {
      const c = new BodyCursor(frame.body, 'FunctionCallResponse');
      const result = c.nullableBytes('the result');
      c.end();
      return { type: 'FunctionCallResponse', result };
    }
    default:
      return unknownType(frame, 'backend');
  }
}

function decodeAuthentication(body: Buffer): BackendMessage {
  const c = new BodyCursor(body, 'Authentication');
  const code = c.int32('the authentication code');
  switch (code) {
    case 0:
      c.end();
      return { type: 'AuthenticationOk' };
    case 2:
      c.end();
      return { type: 'AuthenticationKerberosV5' };
    case 3:
      c.end();
      return { type: 'AuthenticationCleartextPassword' };
    case 5: {
      const salt = c.bytes(4, 'the MD5 salt');
      c.end();
      return { type: 'AuthenticationMD5Password', salt };
    }
    case 7:
      c.end();
      return { type: 'AuthenticationGSS' };
    case 8:
      return { type: 'AuthenticationGSSContinue', data: c.rest() };
    case 9:
      c.end();
      return { type: 'AuthenticationSSPI' };
    case 10: {
      const mechanisms: string[] = [];
      for (;;) {
        const mechanism = c.cstring('a SASL mechanism name (or the final NUL terminator)');
        if (mechanism === '') break;
        mechanisms.push(mechanism);
      }
      c.end();
      return { type: 'AuthenticationSASL', mechanisms };
    }
    case 11:
      return { type: 'AuthenticationSASLContinue', data: c.rest() };
    case 12:
      return { type: 'AuthenticationSASLFinal', data: c.rest() };
    default:
      throw new ProtocolError(
        'unknown_message',
        `The server asked for authentication method ${code}, which this gateway does not know`,
      );
  }
}

function decodeRowDescription(body: Buffer): BackendMessage {
  const c = new BodyCursor(body, 'RowDescription');
  const count = c.count('the field count');
  const fields = new Array<FieldDescription>(count);
  for (let i = 0; i < count; i++) {
    const what = `field ${i + 1} of ${count}`;
    fields[i] = {
      name: c.cstring(`the name of ${what}`),
      tableOid: c.uint32(`the table OID of ${what}`),
      columnAttnum: c.int16(`the column number of ${what}`),
      typeOid: c.uint32(`the type OID of ${what}`),
      typeSize: c.int16(`the type size of ${what}`),
      typeModifier: c.int32(`the type modifier of ${what}`),
      format: c.int16(`the format code of ${what}`),
    };
  }
  c.end();
  return { type: 'RowDescription', fields };
}

/**
 * The hot path of a result set: one call per row, so it reads the body directly rather than
 * through BodyCursor. Values are subarrays of the body.
 */
export function decodeDataRow(body: Buffer): DataRow {
  const end = body.length;
  if (end < 2) truncatedDataRow('the column count needs 2 bytes', end);
  const count = (body[0]! << 8) | body[1]!;
  const values = new Array<Buffer | null>(count);
  let offset = 2;
  for (let i = 0; i < count; i++) {
    if (end - offset < 4) {
      truncatedDataRow(`the length of column ${i + 1} of ${count} needs 4 bytes`, end - offset);
    }
    const length =
      (body[offset]! << 24) |
      (body[offset + 1]! << 16) |
      (body[offset + 2]! << 8) |
      body[offset + 3]!;
    offset += 4;
    if (length === -1) {
      values[i] = null;
    } else if (length < 0) {
      throw new ProtocolError(
        'malformed',
        `Malformed DataRow message: column ${i + 1} has length ${length}; only -1 (NULL) may be negative`,
      );
    } else {
      if (end - offset < length) {
        truncatedDataRow(`column ${i + 1} of ${count} needs ${length} bytes`, end - offset);
      }
      values[i] = body.subarray(offset, offset + length);
      offset += length;
    }
  }
  if (offset !== end) {
    throw new ProtocolError(
      'malformed',
      `Malformed DataRow message: ${end - offset} unexpected bytes after the last field`,
    );
  }
  return { type: 'DataRow', values };
}

function truncatedDataRow(what: string, remaining: number): never {
  throw new ProtocolError(
    'malformed',
    `Malformed DataRow message: ${what} but only ${remaining} remain`,
  );
}

function decodeNoticeFields(body: Buffer, message: string): NoticeFieldMap {
  const c = new BodyCursor(body, message);
  const fields: NoticeFieldMap = new Map();
  for (;;) {
    const code = c.uint8('a field code (or the final NUL terminator)');
    if (code === 0) break;
    const key = String.fromCharCode(code);
    const value = c.cstring(`field '${key}'`);
    if (fields.has(key)) c.fail(`field '${key}' appears twice`);
    fields.set(key, value);
  }
  c.end();
  return fields;
}

const NAME_BY_CODE = new Map<string, Exclude<keyof NoticeFields, 'other'>>(
  Object.entries(NOTICE_FIELD_CODES).map(([name, code]) => [
    code,
    name as Exclude<keyof NoticeFields, 'other'>,
  ]),
);

/**
 * Names the fields of an ErrorResponse/NoticeResponse. Severity, SQLSTATE and message are
 * always sent by PostgreSQL; a misbehaving server that omits them gets '' here.
 */
export function noticeFieldsOf(fields: NoticeFieldMap): NoticeFields {
  const named: NoticeFields = { severity: '', code: '', message: '' };
  for (const [code, value] of fields) {
    const name = NAME_BY_CODE.get(code);
    if (name !== undefined) {
      named[name] = value;
    } else {
      named.other ??= new Map();
      named.other.set(code, value);
    }
  }
  return named;
}
