/**
 * PostgreSQL frontend/backend protocol 3.0 messages as tagged unions, one per direction.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 *
 * Conventions of the decoded form:
 * - Strings are decoded as UTF-8 (the gateway's sessions use client_encoding UTF8). A string
 *   that is not valid UTF-8 decodes lossily, which is one reason the proxy forwards a frame's
 *   `raw` bytes rather than re-encoding a message it did not change.
 * - `Buffer` fields (column values, parameters, COPY data, SASL data, cancel keys) are
 *   subarrays of the frame they came from — no copy. Copy them if the frame's memory may be
 *   reused while you still hold them.
 * - `null` is SQL NULL (length -1 on the wire).
 * - Integers: OIDs are unsigned 32-bit; everything else is signed as in the spec (Int16/Int32).
 */

/** Protocol version codes sent in place of a version in untyped startup packets. */
export const PROTOCOL_VERSION_3_0 = 196608; // 3 << 16
export const SSL_REQUEST_CODE = 80877103; // 1234 << 16 | 5679
export const GSSENC_REQUEST_CODE = 80877104; // 1234 << 16 | 5680
export const CANCEL_REQUEST_CODE = 80877102; // 1234 << 16 | 5678

/**
 * One message's bytes, as cut from the stream by `MessageReader`. `type` is the message's type
 * byte as a one-character string ('Q', 'D', …); 'startup' for an untyped frontend packet
 * (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest); 'encryptionResponse' for the
 * single byte a server answers SSLRequest/GSSENCRequest with.
 */
export interface Frame {
  readonly type: string;
  /** The whole message exactly as received, type byte and length word included. */
  readonly raw: Buffer;
  /** What follows the length word (for 'startup': from the request code on). */
  readonly body: Buffer;
}

/** Type bytes each direction may send (protocol 3.0–3.2). */
export const FRONTEND_MESSAGE_TYPES = 'QPBDESHCXpdcfF';
export const BACKEND_MESSAGE_TYPES = 'RSKZTDCIEN123ntsGHWdcAvV';

export interface ProtocolVersion {
  major: number;
  /** 0 for 3.0; 2 for 3.2 (PostgreSQL 18). Newer minors are answered by NegotiateProtocolVersion. */
  minor: number;
}

/** Format code of a parameter or column: 0 text, 1 binary. Other values are kept as sent. */
export type FormatCode = number;

/** 'S' a prepared statement, 'P' a portal (Describe and Close). */
export type DescribeTarget = 'statement' | 'portal';

// ---------------------------------------------------------------- frontend (client → server)

/** Untyped first message of a connection. Parameter order is kept; names are unique. */
export interface StartupMessage {
  type: 'StartupMessage';
  protocolVersion: ProtocolVersion;
  parameters: Map<string, string>;
}
export interface SSLRequest {
  type: 'SSLRequest';
}
export interface GSSENCRequest {
  type: 'GSSENCRequest';
}
/** Sent on a new connection. The key is 4 bytes in 3.0, up to 256 bytes in 3.2. */
export interface CancelRequest {
  type: 'CancelRequest';
  processId: number;
  secretKey: Buffer;
}
export interface Query {
  type: 'Query';
  sql: string;
}
export interface Parse {
  type: 'Parse';
  /** '' is the unnamed statement. */
  statement: string;
  sql: string;
  /** 0 leaves a parameter's type to the server. */
  parameterTypes: number[];
}
export interface Bind {
  type: 'Bind';
  portal: string;
  statement: string;
  /** Empty (all text), one code for all parameters, or one code per parameter. */
  parameterFormats: FormatCode[];
  parameters: Array<Buffer | null>;
  /** Empty (all text), one code for all columns, or one code per result column. */
  resultFormats: FormatCode[];
}
export interface Describe {
  type: 'Describe';
  target: DescribeTarget;
  name: string;
}
export interface Execute {
  type: 'Execute';
  portal: string;
  /** 0 means no limit. */
  maxRows: number;
}
export interface Sync {
  type: 'Sync';
}
export interface Flush {
  type: 'Flush';
}
export interface Close {
  type: 'Close';
  target: DescribeTarget;
  name: string;
}
export interface Terminate {
  type: 'Terminate';
}
/**
 * 'p': PasswordMessage, SASLInitialResponse, SASLResponse or GSSResponse — which one only the
 * authentication exchange in progress can tell, so the body is kept raw. Read it with
 * `parsePasswordMessage`, `parseSASLInitialResponse` or `parseSASLResponse`.
 */
export interface AuthenticationResponse {
  type: 'AuthenticationResponse';
  data: Buffer;
}
export interface CopyData {
  type: 'CopyData';
  data: Buffer;
}
export interface CopyDone {
  type: 'CopyDone';
}
export interface CopyFail {
  type: 'CopyFail';
  message: string;
}
/** The fast-path function call (libpq's lo_* large-object API uses it). */
export interface FunctionCall {
  type: 'FunctionCall';
  functionOid: number;
  argumentFormats: FormatCode[];
  arguments: Array<Buffer | null>;
  resultFormat: FormatCode;
}

export type StartupPacket = StartupMessage | SSLRequest | GSSENCRequest | CancelRequest;

export type FrontendMessage =
  | StartupPacket
  | Query
  | Parse
  | Bind
  | Describe
  | Execute
  | Sync
  | Flush
  | Close
  | Terminate
  | AuthenticationResponse
  | CopyData
  | CopyDone
  | CopyFail
  | FunctionCall;

// ---------------------------------------------------------------- backend (server → client)

/**
 * The one-byte answer to SSLRequest ('S' yes, 'N' no) or GSSENCRequest ('G' yes, 'N' no).
 * Not a typed message: no length follows.
 */
export interface EncryptionResponse {
  type: 'EncryptionResponse';
  answer: 'S' | 'G' | 'N';
}
export interface AuthenticationOk {
  type: 'AuthenticationOk';
}
export interface AuthenticationKerberosV5 {
  type: 'AuthenticationKerberosV5';
}
export interface AuthenticationCleartextPassword {
  type: 'AuthenticationCleartextPassword';
}
export interface AuthenticationMD5Password {
  type: 'AuthenticationMD5Password';
  /** 4 bytes. */
  salt: Buffer;
}
export interface AuthenticationGSS {
  type: 'AuthenticationGSS';
}
export interface AuthenticationGSSContinue {
  type: 'AuthenticationGSSContinue';
  data: Buffer;
}
export interface AuthenticationSSPI {
  type: 'AuthenticationSSPI';
}
export interface AuthenticationSASL {
  type: 'AuthenticationSASL';
  /** In the server's order of preference, e.g. ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']. */
  mechanisms: string[];
}
export interface AuthenticationSASLContinue {
  type: 'AuthenticationSASLContinue';
  data: Buffer;
}
export interface AuthenticationSASLFinal {
  type: 'AuthenticationSASLFinal';
  data: Buffer;
}
export type Authentication =
  | AuthenticationOk
  | AuthenticationKerberosV5
  | AuthenticationCleartextPassword
  | AuthenticationMD5Password
  | AuthenticationGSS
  | AuthenticationGSSContinue
  | AuthenticationSSPI
  | AuthenticationSASL
  | AuthenticationSASLContinue
  | AuthenticationSASLFinal;

export interface ParameterStatus {
  type: 'ParameterStatus';
  name: string;
  value: string;
}
/** The key is 4 bytes in 3.0, 4 to 256 bytes in 3.2. */
export interface BackendKeyData {
  type: 'BackendKeyData';
  processId: number;
  secretKey: Buffer;
}
/** 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
export type TransactionStatus = 'I' | 'T' | 'E';
export interface ReadyForQuery {
  type: 'ReadyForQuery';
  status: TransactionStatus;
}
export interface FieldDescription {
  name: string;
  /** 0 when the column is not a simple reference to a table column. */
  tableOid: number;
  /** The column's attribute number in that table, else 0. */
  columnAttnum: number;
  typeOid: number;
  /** pg_type.typlen: negative for variable-width types. */
  typeSize: number;
  /** pg_attribute.atttypmod, type-specific (-1 when none). */
  typeModifier: number;
  format: FormatCode;
}
export interface RowDescription {
  type: 'RowDescription';
  fields: FieldDescription[];
}
export interface DataRow {
  type: 'DataRow';
  values: Array<Buffer | null>;
}
export interface CommandComplete {
  type: 'CommandComplete';
  /** e.g. 'SELECT 3', 'INSERT 0 1'. */
  tag: string;
}
export interface EmptyQueryResponse {
  type: 'EmptyQueryResponse';
}
/**
 * Fields of ErrorResponse/NoticeResponse keyed by their one-letter code ('S', 'V', 'C', 'M',
 * …) in wire order. `noticeFieldsOf` gives them names.
 * @see https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
export type NoticeFieldMap = Map<string, string>;
export interface ErrorResponse {
  type: 'ErrorResponse';
  fields: NoticeFieldMap;
}
export interface NoticeResponse {
  type: 'NoticeResponse';
  fields: NoticeFieldMap;
}
export interface ParseComplete {
  type: 'ParseComplete';
}
export interface BindComplete {
  type: 'BindComplete';
}
export interface CloseComplete {
  type: 'CloseComplete';
}
export interface NoData {
  type: 'NoData';
}
export interface ParameterDescription {
  type: 'ParameterDescription';
  parameterTypes: number[];
}
export interface PortalSuspended {
  type: 'PortalSuspended';
}
export interface CopyResponseBody {
  /** 0 textual COPY, 1 binary. */
  format: FormatCode;
  columnFormats: FormatCode[];
}
export interface CopyInResponse extends CopyResponseBody {
  type: 'CopyInResponse';
}
export interface CopyOutResponse extends CopyResponseBody {
  type: 'CopyOutResponse';
}
export interface CopyBothResponse extends CopyResponseBody {
  type: 'CopyBothResponse';
}
export interface NotificationResponse {
  type: 'NotificationResponse';
  processId: number;
  channel: string;
  payload: string;
}
/** The server's answer to a newer minor version or unknown `_pq_.` startup options. */
export interface NegotiateProtocolVersion {
  type: 'NegotiateProtocolVersion';
  newestMinorVersion: number;
  unrecognizedOptions: string[];
}
export interface FunctionCallResponse {
  type: 'FunctionCallResponse';
  result: Buffer | null;
}

export type BackendMessage =
  | EncryptionResponse
  | Authentication
  | ParameterStatus
  | BackendKeyData
  | ReadyForQuery
  | RowDescription
  | DataRow
  | CommandComplete
  | EmptyQueryResponse
  | ErrorResponse
  | NoticeResponse
  | ParseComplete
  | BindComplete
  | CloseComplete
  | NoData
  | ParameterDescription
  | PortalSuspended
  | CopyInResponse
  | CopyOutResponse
  | CopyBothResponse
  | CopyData
  | CopyDone
  | NotificationResponse
  | NegotiateProtocolVersion
  | FunctionCallResponse;

// ---------------------------------------------------------------- error and notice fields

/**
 * ErrorResponse/NoticeResponse fields by name. `noticeFieldMap` writes them in the order
 * PostgreSQL does; codes without a name here are kept in `other`.
 */
export interface NoticeFields {
  /** 'ERROR', 'FATAL', 'PANIC', 'WARNING', 'NOTICE', 'DEBUG', 'INFO', 'LOG' (maybe localized). */
  severity: string;
  /** Never localized (PostgreSQL 9.6+); defaults to `severity` when encoding. */
  severityNonLocalized?: string;
  /** SQLSTATE, e.g. '42501'. */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** 1-based character index into the query string, as decimal text. */
  position?: string;
  internalPosition?: string;
  internalQuery?: string;
  where?: string;
  schema?: string;
  table?: string;
  column?: string;
  dataType?: string;
  constraint?: string;
  file?: string;
  line?: string;
  routine?: string;
  /** Fields with codes not named above, by code. */
  other?: Map<string, string>;
}

/** Field codes by name, in the order PostgreSQL's elog.c sends them. */
export const NOTICE_FIELD_CODES = {
  severity: 'S',
  severityNonLocalized: 'V',
  code: 'C',
  message: 'M',
  detail: 'D',
  hint: 'H',
  position: 'P',
  internalPosition: 'p',
  internalQuery: 'q',
  where: 'W',
  schema: 's',
  table: 't',
  column: 'c',
  dataType: 'd',
  constraint: 'n',
  file: 'F',
  line: 'L',
  routine: 'R',
} as const satisfies Record<Exclude<keyof NoticeFields, 'other'>, string>;
