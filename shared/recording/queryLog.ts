/**
 * Recording of a PostgreSQL session → a query log in JSON lines (`.jsonl`, one JSON object a
 * line): what was asked, with which parameters, what came back, and how long it took. Like the
 * `.cast` export it is for reading and for tools (jq, a spreadsheet, a SIEM), not evidence: the
 * evidence is the signed recording it is derived from (FORMAT.md §9–11).
 *
 * One line per result: a `q` event (FORMAT.md §5.2) is followed by the `d` (RowDescription),
 * `D` (DataRow), `c` (CommandComplete / EmptyQueryResponse), `E` (ErrorResponse) and `N`
 * (NoticeResponse) events that answer it, and each `c` or `E` ends a line:
 *
 *   {"time":"…","protocol":"simple","sql":"select 1 as a","statementIndex":0,
 *    "columns":[{"name":"a","typeOid":23}],"rows":[["1"]],"rowCount":1,
 *    "status":"SELECT 1","notices":[],"durationMs":2}
 *
 * - `time` is when the query was recorded (the `q` frame's time), `durationMs` runs from the
 *   start of this result (the `q`, or the previous result's end for the later statements of a
 *   multi-statement query) to the `c` / `E` that ends it.
 * - A simple query with several statements (`select 1; select 2`) answers with several results:
 *   it becomes several lines with the same `sql` and `time`, numbered by `statementIndex`
 *   (0, 1, …). Extended-protocol lines (one per Execute) carry `statement` (the prepared
 *   statement's name) and `params` as recorded: text as strings, binary as `{base64}`, NULL
 *   as null; their `statementIndex` is 0.
 * - `status` is the command tag (`"SELECT 3"`, `"INSERT 0 1"`, `"COPY 5"`), `"empty"` for an
 *   empty query, `"error"` (with `error: {code, message, detail?, hint?, position?}`),
 *   `"blocked"` for a statement a guardrail stopped (`b` event; with `blocked: {rule, reason}`
 *   and the gateway's error), `"suspended"` for an Execute that stopped at its row limit and was
 *   continued by a later Execute of the same portal, and `"incomplete"` when the recording has
 *   no end for it (the session ended, or a pipelined query was skipped after an earlier error).
 *   What the server sent outside any query gets a line of its own with `sql: null`: a notice
 *   right after sign-in (status `"notice"`), a FATAL error as it shuts down (`"error"`).
 * - Values of text-format columns are strings (decoded as UTF-8, i.e. client_encoding UTF8),
 *   values of binary-format columns `{base64}`, NULL is null. When a result has no
 *   RowDescription in the recording (a client that described a named statement once and then
 *   only executes it), the statement's last known description is used; with none at all,
 *   each value is a string if it is valid UTF-8 and `{base64}` otherwise.
 * - COPY data (`y`) is shown like rows (issue #13: an auditor reading only `COPY 3` missed
 *   what the COPY carried): each line of it, as the client received or sent it, is a row of
 *   one string value (binary COPY data: one `{base64}` per message), counted in `rowCount`;
 *   COPY TO data are what the server sent after masking, COPY FROM data what the client sent.
 *
 * Memory is bounded: lines stream as soon as their result ends, and a line keeps at most
 * `maxRows` rows (default 10,000) and `maxRowBytes` bytes of row data (default 16 MiB). A
 * bigger result still counts every row in `rowCount` and says `rowsTruncated: true`, so a
 * 1,000,000-row result is one line of 10,000 rows, not a gigabyte string.
 *
 * Pipelining: a client may send several Executes before reading their results, so the results
 * in a recording can come after later `q`s. Extended-protocol queries are therefore answered in
 * order, first in first out, each by its first `c` or `E`; a simple query (which clients never
 * pipeline) ends at the next `q`. After an error, the queries already sent behind it are ended
 * as `"incomplete"`: the server skips them up to the client's next Sync, which the recording
 * does not hold (so a client that pipelines past a Sync and then meets an error may see the
 * results of its later batch written as lines with `sql: null`). A blocked message (`b`, after
 * its `q` or alone) keeps its place in line and is answered by the gateway's own error; if the
 * target's results come first, that error was not recorded and the block is written without it.
 * Rows are the rows the client received (after masking), because that is what is recorded.
 */
import { TextDecoder } from 'node:util';
import { parseEventJson } from './eventMeta.ts';
import { PostgresWireEvents } from './postgresWire.ts';
import { eventKinds, type RecordingEvent } from './recordingFormat.ts';

export interface QueryLogOptions {
  /** Rows kept per line; later rows are only counted. Default 10,000. */
  maxRows?: number;
  /** Bytes of row data (as received) kept per line; later rows are only counted. Default 16 MiB. */
  maxRowBytes?: number;
}

export const DEFAULT_MAX_ROWS = 10_000;
export const DEFAULT_MAX_ROW_BYTES = 16 * 1024 * 1024;

export type QueryLogValue = string | null | { base64: string };

export interface QueryLogColumn {
  name: string;
  typeOid: number;
}

export interface QueryLogError {
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: string;
}

export interface QueryLogNotice {
  severity: string;
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** One line of the log (see the module comment). */
export interface QueryLogLine {
  time: string;
  protocol: 'simple' | 'extended' | null;
  sql: string | null;
  statementIndex: number;
  statement?: string;
  params?: unknown[];
  columns: QueryLogColumn[];
  rows: QueryLogValue[][];
  rowCount: number;
  rowsTruncated?: true;
  status: string;
  error?: QueryLogError;
  blocked?: { rule: string; reason: string };
  notices: QueryLogNotice[];
  durationMs: number;
}

type Events = AsyncIterable<RecordingEvent> | Iterable<RecordingEvent>;

/** Yields the log line by line, each a JSON object ending in "\n". */
export async function* toQueryLog(
  events: Events,
  options: QueryLogOptions = {},
): AsyncGenerator<string> {
  for await (const line of queryLogLines(events, options)) yield `${JSON.stringify(line)}\n`;
}

/** The same log as objects, for callers that want to filter or render it themselves. */
export async function* queryLogLines(
  events: Events,
  options: QueryLogOptions = {},
): AsyncGenerator<QueryLogLine> {
  const assembler = new QueryLogAssembler({
    maxRows: options.maxRows ?? DEFAULT_MAX_ROWS,
    maxRowBytes: options.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES,
  });
  // Version-2 recordings hold the wire: the log is assembled from the events it carries.
  const wire = new PostgresWireEvents();
  for await (const recorded of events) {
    for (const event of wire.accept(recorded)) yield* assembler.accept(event);
  }
  yield* assembler.end();
}

interface Limits {
  maxRows: number;
  maxRowBytes: number;
}

interface RawColumn {
  name: string;
  typeOid: number;
  /** 0 text, 1 binary, undefined unknown. */
  format: number | undefined;
}

/** One query (a `q`, a `b`, or results that came with no query) and its current result. */
interface Entry {
  protocol: 'simple' | 'extended' | null;
  sql: string | null;
  time: number;
  statement?: string;
  portal?: string;
  params?: unknown[];
  /** Execute row limit, when the recording says (an optional `maxRows` in the `q`). */
  maxRows?: number;
  blocked?: { rule: string; reason: string };
  /** Results ended so far (lines written). */
  results: number;
  // The result being assembled:
  start: number;
  last: number;
  columns: RawColumn[] | null;
  rows: QueryLogValue[][];
  rowBytes: number;
  rowCount: number;
  truncated: boolean;
  notices: QueryLogNotice[];
}

/** Descriptions remembered for named prepared statements; a bound on a long session's map. */
const MAX_REMEMBERED_STATEMENTS = 1000;

/** The log assembled one event at a time (what `queryLogLines` runs; live watch feeds it). */
export class QueryLogAssembler {
  /** Queries waiting for (more of) their results, oldest first. */
  private open: Entry[] = [];
  private readonly described = new Map<string, RawColumn[]>();

  constructor(private readonly limits: Limits) {}

  *accept(event: RecordingEvent): Generator<QueryLogLine> {
    switch (event.kind) {
      case eventKinds.query:
        yield* this.query(event);
        return;
      case eventKinds.blocked:
        yield* this.blocked(event);
        return;
      case eventKinds.rowDescription: {
        yield* this.dropUnansweredBlocks();
        // A Describe with no Execute (a client preparing a statement) answers no query.
        const entry = this.open[0];
        const columns = parseColumns(parseEventJson(event.data));
        if (!entry || !columns) return;
        entry.columns = columns;
        entry.last = event.time;
        if (entry.protocol === 'extended' && entry.statement)
          this.remember(entry.statement, columns);
        return;
      }
      case eventKinds.dataRow: {
        yield* this.dropUnansweredBlocks();
        const entry = this.head(event);
        entry.last = event.time;
        this.addRow(
          entry,
          () => decodeDataRow(event.data, this.columnsOf(entry)),
          event.data.length,
        );
        return;
      }
      case eventKinds.copyData: {
        yield* this.dropUnansweredBlocks();
        const entry = this.head(event);
        entry.last = event.time;
        for (const { row, bytes } of copyRowsOf(event.data, event.channel !== 0)) {
          this.addRow(entry, row, bytes);
        }
        return;
      }
      case eventKinds.notice: {
        const entry = this.head(event);
        entry.last = event.time;
        entry.notices.push(noticeOf(parseEventJson(event.data)));
        return;
      }
      case eventKinds.commandComplete: {
        yield* this.dropUnansweredBlocks();
        const entry = this.head(event);
        const payload = parseEventJson(event.data) as
          | { tag?: unknown; empty?: unknown }
          | undefined;
        const status =
          typeof payload?.tag === 'string' ? payload.tag : payload?.empty ? 'empty' : 'complete';
        yield this.line(entry, status, event.time);
        // One Execute, one result; a simple query may have more statements to come.
        if (entry.protocol !== 'simple') this.open.shift();
        return;
      }
      case eventKinds.error: {
        const entry = this.head(event);
        const fields = fieldsOf(parseEventJson(event.data));
        const error: QueryLogError = {
          code: fields.C ?? '',
          message: fields.M ?? '',
          ...(fields.D !== undefined ? { detail: fields.D } : {}),
          ...(fields.H !== undefined ? { hint: fields.H } : {}),
          ...(fields.P !== undefined ? { position: fields.P } : {}),
        };
        yield this.line(entry, entry.blocked ? 'blocked' : 'error', event.time, error);
        this.open.shift();
        // The server skips what was pipelined behind the failed query up to the next Sync.
        yield* this.closeAll('incomplete');
        return;
      }
      default:
        return; // SSH kinds, meta, COPY data: not part of a query log
    }
  }

  /** Counts a row and keeps it while the line's bounds allow (`row` is decoded only then). */
  private addRow(
    entry: Entry,
    row: QueryLogValue[] | (() => QueryLogValue[]),
    bytes: number,
  ): void {
    entry.rowCount++;
    if (entry.truncated) return;
    if (
      entry.rows.length >= this.limits.maxRows ||
      entry.rowBytes + bytes > this.limits.maxRowBytes
    ) {
      entry.truncated = true;
      return;
    }
    entry.rows.push(typeof row === 'function' ? row() : row);
    entry.rowBytes += bytes;
  }

  *end(): Generator<QueryLogLine> {
    yield* this.closeAll('incomplete');
  }

  private *query(event: RecordingEvent): Generator<QueryLogLine> {
    const payload = (parseEventJson(event.data) ?? {}) as Record<string, unknown>;
    const extended = payload.protocol === 'extended';
    yield* this.closeAnswered();
    const portal = typeof payload.portal === 'string' ? payload.portal : '';
    if (extended) {
      // Executing a portal again while its previous Execute is still open and has rows: that
      // Execute stopped at its row limit (PortalSuspended, which is not recorded). The unnamed
      // portal is re-bound for every pipelined query, so it counts only with a known limit.
      const index = this.open.findIndex(
        (entry) =>
          entry.protocol === 'extended' &&
          entry.portal === portal &&
          entry.rowCount > 0 &&
          (portal !== '' || (entry.maxRows ?? 0) > 0),
      );
      if (index >= 0) {
        const ended = this.open.splice(0, index + 1);
        const suspended = ended.pop()!;
        // Anything before it had no answer (in order, it would have been answered first).
        for (const entry of ended) yield this.line(entry, 'incomplete', entry.last);
        yield this.line(suspended, 'suspended', suspended.last);
      }
    }
    const sql =
      typeof payload.sql === 'string'
        ? payload.sql
        : typeof payload.text === 'string'
          ? payload.text
          : '';
    const entry = newEntry(extended ? 'extended' : 'simple', sql, event.time);
    if (extended) {
      entry.statement = typeof payload.statement === 'string' ? payload.statement : '';
      entry.portal = portal;
      entry.params = Array.isArray(payload.params) ? payload.params : [];
      if (typeof payload.maxRows === 'number') entry.maxRows = payload.maxRows;
    }
    this.open.push(entry);
  }

  private *blocked(event: RecordingEvent): Generator<QueryLogLine> {
    const payload = (parseEventJson(event.data) ?? {}) as Record<string, unknown>;
    const sql = typeof payload.sql === 'string' ? payload.sql : '';
    const blocked = {
      rule: typeof payload.rule === 'string' ? payload.rule : '',
      reason: typeof payload.reason === 'string' ? payload.reason : '',
    };
    // The gateway may record the query and then its block, or the block alone.
    const newest = this.open.at(-1);
    if (
      newest &&
      newest.protocol !== null &&
      !newest.blocked &&
      newest.results === 0 &&
      newest.rowCount === 0 &&
      newest.columns === null &&
      (newest.sql ?? '').toLowerCase().includes(sql.trim().toLowerCase())
    ) {
      newest.blocked = blocked;
      return;
    }
    yield* this.closeAnswered();
    const entry = newEntry(null, sql, event.time);
    entry.blocked = blocked;
    this.open.push(entry);
  }

  /**
   * Before a new message: a simple query is answered in full before the client sends anything
   * else (clients do not pipeline simple queries), and results that came with no query have
   * all come; what is still open of either has all the results it will get.
   */
  private *closeAnswered(): Generator<QueryLogLine> {
    if (this.open.some((entry) => entry.protocol === 'simple' || entry.sql === null)) {
      yield* this.closeAll('incomplete');
    }
  }

  /**
   * A blocked message never reaches the target, so only the gateway's ErrorResponse answers
   * it; when the target's results arrive while it is still first in line, that error was not
   * recorded, and the block is written as it is.
   */
  private *dropUnansweredBlocks(): Generator<QueryLogLine> {
    while (this.open[0]?.blocked) {
      const entry = this.open.shift()!;
      yield this.line(entry, 'blocked', entry.last);
    }
  }

  /** The query a result belongs to: the oldest open one, or a placeholder for none. */
  private head(event: RecordingEvent): Entry {
    let entry = this.open[0];
    if (!entry) {
      entry = newEntry(null, null, event.time);
      this.open.push(entry);
    }
    return entry;
  }

  /** Ends every open query with `status` (lines only for those with something to say). */
  private *closeAll(status: 'incomplete'): Generator<QueryLogLine> {
    for (const entry of this.open.splice(0)) {
      const pending = entry.columns !== null || entry.rowCount > 0 || entry.notices.length > 0;
      if (entry.blocked) {
        yield this.line(entry, 'blocked', entry.last);
      } else if (entry.sql === null) {
        // Results with no query: notices between queries, or damage.
        if (pending) {
          const onlyNotices = entry.columns === null && entry.rowCount === 0;
          yield this.line(entry, onlyNotices ? 'notice' : status, entry.last);
        }
      } else if (entry.results === 0) {
        yield this.line(entry, status, entry.last);
      } else if (pending) {
        // Something after the last result of a query that had results.
        const onlyNotices = entry.columns === null && entry.rowCount === 0;
        yield this.line(entry, onlyNotices ? 'notice' : status, entry.last);
      }
    }
  }

  private line(entry: Entry, status: string, endTime: number, error?: QueryLogError): QueryLogLine {
    const columns = this.columnsOf(entry);
    const line: QueryLogLine = {
      time: new Date(entry.time).toISOString(),
      protocol: entry.protocol,
      sql: entry.sql,
      statementIndex: entry.results,
      ...(entry.protocol === 'extended'
        ? { statement: entry.statement ?? '', params: entry.params ?? [] }
        : {}),
      columns: (columns ?? []).map((c) => ({ name: c.name, typeOid: c.typeOid })),
      rows: entry.rows,
      rowCount: entry.rowCount,
      ...(entry.truncated ? { rowsTruncated: true as const } : {}),
      status,
      ...(error ? { error } : {}),
      ...(entry.blocked ? { blocked: entry.blocked } : {}),
      notices: entry.notices,
      // Frame times can step back with the gateway's clock; a duration never does.
      durationMs: Math.max(0, endTime - entry.start),
    };
    // The next result of the same query starts where this one ended.
    entry.results++;
    entry.start = Math.max(entry.start, endTime);
    entry.last = entry.start;
    entry.columns = null;
    entry.rows = [];
    entry.rowBytes = 0;
    entry.rowCount = 0;
    entry.truncated = false;
    entry.notices = [];
    return line;
  }

  private columnsOf(entry: Entry): RawColumn[] | null {
    if (entry.columns) return entry.columns;
    if (entry.protocol === 'extended' && entry.statement) {
      return this.described.get(entry.statement) ?? null;
    }
    return null;
  }

  private remember(statement: string, columns: RawColumn[]): void {
    this.described.delete(statement);
    this.described.set(statement, columns);
    if (this.described.size > MAX_REMEMBERED_STATEMENTS) {
      const oldest = this.described.keys().next().value;
      if (oldest !== undefined) this.described.delete(oldest);
    }
  }
}

function newEntry(protocol: Entry['protocol'], sql: string | null, time: number): Entry {
  return {
    protocol,
    sql,
    time,
    results: 0,
    start: time,
    last: time,
    columns: null,
    rows: [],
    rowBytes: 0,
    rowCount: 0,
    truncated: false,
    notices: [],
  };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A DataRow body (FORMAT.md §5 `D`): int16 column count, then per column an int32 length
 * (-1 = NULL) and that many bytes. A body that does not parse becomes one `{base64}` of it all.
 */
export function decodeDataRow(
  data: Uint8Array,
  columns: readonly { format: number | undefined }[] | null,
): QueryLogValue[] {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const malformed = (): QueryLogValue[] => [{ base64: bytes.toString('base64') }];
  if (bytes.length < 2) return malformed();
  const count = bytes.readInt16BE(0);
  if (count < 0) return malformed();
  const values: QueryLogValue[] = [];
  let offset = 2;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.length) return malformed();
    const length = bytes.readInt32BE(offset);
    offset += 4;
    if (length === -1) {
      values.push(null);
      continue;
    }
    if (length < 0 || offset + length > bytes.length) return malformed();
    const value = bytes.subarray(offset, offset + length);
    offset += length;
    const format = columns?.[i]?.format;
    if (format === 0) values.push(value.toString('utf8'));
    else if (format === 1) values.push({ base64: value.toString('base64') });
    else values.push(guessText(value));
  }
  if (offset !== bytes.length) return malformed();
  return values;
}

/**
 * A CopyData message's rows: its lines (text and CSV COPY end every row with a newline; a CSV
 * value holding one is shown split), or the message as one `{base64}` when it is not UTF-8.
 */
function copyRowsOf(
  data: Uint8Array,
  fromClient: boolean,
): { row: QueryLogValue[]; bytes: number }[] {
  const value = guessText(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  if (typeof value !== 'string') return [{ row: [value], bytes: data.byteLength }];
  const lines = value.split('\n');
  if (lines.at(-1) === '') lines.pop();
  // psql ends COPY FROM data with the `\.` line, which the server reads as the end, not a row.
  if (fromClient && lines.at(-1) === '\\.') lines.pop();
  return lines.map((line) => ({ row: [line], bytes: Buffer.byteLength(line) + 1 }));
}

function guessText(value: Buffer): QueryLogValue {
  try {
    return strictUtf8.decode(value);
  } catch {
    return { base64: value.toString('base64') };
  }
}

function parseColumns(value: unknown): RawColumn[] | null {
  if (typeof value !== 'object' || value === null) return null;
  const columns = (value as { columns?: unknown }).columns;
  if (!Array.isArray(columns)) return null;
  return columns.map((column) => {
    const c = (typeof column === 'object' && column !== null ? column : {}) as Record<
      string,
      unknown
    >;
    return {
      name: typeof c.name === 'string' ? c.name : '',
      typeOid: typeof c.typeOid === 'number' ? c.typeOid : 0,
      format: c.format === 0 || c.format === 1 ? c.format : undefined,
    };
  });
}

function fieldsOf(value: unknown): Record<string, string | undefined> {
  if (typeof value !== 'object' || value === null) return {};
  const fields = (value as { fields?: unknown }).fields;
  if (typeof fields !== 'object' || fields === null) return {};
  const out: Record<string, string | undefined> = {};
  for (const [key, field] of Object.entries(fields)) {
    if (typeof field === 'string') out[key] = field;
  }
  return out;
}

function noticeOf(value: unknown): QueryLogNotice {
  const fields = fieldsOf(value);
  return {
    severity: fields.V ?? fields.S ?? '',
    code: fields.C ?? '',
    message: fields.M ?? '',
    ...(fields.D !== undefined ? { detail: fields.D } : {}),
    ...(fields.H !== undefined ? { hint: fields.H } : {}),
  };
}
