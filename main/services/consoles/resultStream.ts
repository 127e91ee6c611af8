/**
 * One run of the query console as a `pg` Submittable: a simple-protocol Query whose messages are
 * handed on as they arrive instead of being collected into a result (issue #15: the first row is
 * shown before the 100,000th has arrived). A simple Query with several statements answers one
 * RowDescription … CommandComplete per statement, so several result sets come out of one run.
 * Values stay as the server's text (the simple protocol always answers in text), so the console
 * shows exactly what the server sent.
 * @see https://www.postgresql.org/docs/15/protocol-flow.html#PROTOCOL-FLOW-SIMPLE-QUERY
 */
import type { EventEmitter } from 'node:events';

export interface ResultColumn {
  name: string;
  typeOid: number;
}

export interface ServerErrorFields {
  message: string;
  severity: string | null;
  code: string | null;
  /** 1-based character position in the statement text (ErrorResponse field P). */
  position: number | null;
  detail: string | null;
  hint: string | null;
}

export interface ResultSink {
  columns(columns: ResultColumn[]): void;
  row(values: (string | null)[]): void;
  /** CommandComplete's tag (`SELECT 3`, `BEGIN`), or null for an empty query. */
  complete(tag: string | null): void;
  error(error: ServerErrorFields): void;
  /** ReadyForQuery: the run is over (its I / T / E byte is read from the client). */
  ready(): void;
}

/** The connection pg passes to a Submittable; only `query` is used. */
interface QueryConnection extends EventEmitter {
  query(text: string): void;
}

interface PgRowDescription {
  fields: { name: string; dataTypeID: number }[];
}

/** What pg hands to handleError: a DatabaseError (server) or a plain Error (client side). */
type PgError = Error & {
  severity?: string;
  code?: string;
  position?: string;
  detail?: string;
  hint?: string;
};

export class StreamingQuery {
  /** pg reads this to decide whether to use the extended protocol; a simple Query never. */
  readonly text: string;

  constructor(
    sql: string,
    private readonly sink: ResultSink,
  ) {
    this.text = sql;
  }

  submit(connection: QueryConnection): void {
    connection.query(this.text);
  }

  handleRowDescription(message: PgRowDescription): void {
    this.sink.columns(message.fields.map((f) => ({ name: f.name, typeOid: f.dataTypeID })));
  }

  handleDataRow(message: { fields: (string | null)[] }): void {
    this.sink.row(message.fields);
  }

  handleCommandComplete(message: { text: string }): void {
    this.sink.complete(message.text);
  }

  handleEmptyQuery(): void {
    this.sink.complete(null);
  }

  handleError(error: PgError): void {
    this.sink.error(serverErrorFields(error));
  }

  handleReadyForQuery(): void {
    this.sink.ready();
  }

  handleCopyInResponse(connection: QueryConnection & { sendCopyFail?(m: string): void }): void {
    // The console has no file to send: end the COPY so the connection stays usable.
    connection.sendCopyFail?.('COPY FROM STDIN is not supported in the query console');
  }

  handleCopyData(): void {}

  handlePortalSuspended(): void {}
}

export function serverErrorFields(error: PgError): ServerErrorFields {
  const position = error.position ? Number.parseInt(error.position, 10) : Number.NaN;
  return {
    message: error.message,
    severity: error.severity ?? null,
    code: error.code ?? null,
    position: Number.isFinite(position) ? position : null,
    detail: error.detail ?? null,
    hint: error.hint ?? null,
  };
}
