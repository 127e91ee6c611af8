/**
 * One query console: a `pg` connection to the gateway's PostgreSQL listener logged in with a
 * single-use ticket (user = session id, password = ticket — exactly what `witness psql` gives
 * libpq), TLS verified against the pinned gateway CA. Everything typed and returned crosses the
 * gateway and is in its recording.
 *
 * Rows are streamed: each DataRow is queued and sent to the renderer in batches (the first batch
 * at once, then every BATCH_MS or BATCH_CHARS), counted until the renderer acks them; above
 * PAUSE_ROWS unacknowledged rows the socket is paused, so the gateway — and the database behind
 * it — stop sending until the grid has caught up. Nothing is dropped and main never holds a
 * whole 100,000-row result.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type {
  ConsoleColumn,
  ConsoleEvent,
  ConsoleSchemaCatalog,
  TransactionState,
} from '../../ipc/contract.ts';
import { DesktopError } from '../../ipc/contract.ts';
import { blockedBy } from './blockedStatement.ts';
import { sendCancelRequest } from './gatewayCancel.ts';
import { MaskedColumnReport } from './maskedColumns.ts';
import { type ResultColumn, type ServerErrorFields, StreamingQuery } from './resultStream.ts';
import { CATALOG_SQL, type CatalogRow, groupCatalog } from './schemaCatalog.ts';

export interface ConsoleEndpoint {
  sessionId: string;
  ticket: string;
  host: string;
  port: number;
  database: string;
  /** The gateway CA pinned at enrollment: the only CA this connection trusts. */
  caPem: string;
}

export interface ConsoleFlow {
  /** Rows sent but not acked above which the socket is paused (default 20,000). */
  pauseRows?: number;
  /** Paused until unacked rows fall below this (default 5,000). */
  resumeRows?: number;
}

const BATCH_MS = 16;
/** Keeps one event well under the web host's 1 MiB frame. */
const BATCH_CHARS = 256 * 1024;

interface Run {
  runId: string;
  offset: number;
  started: number;
  resultIndex: number;
  rowCount: number;
  cancelled: boolean;
  /** An ErrorResponse came: the run ends with the next ReadyForQuery. */
  failed: boolean;
  columns: ConsoleColumn[];
}

/** The queries pg may run besides a Run (the catalog). */
type PgClient = pg.Client & { processID: number | null; secretKey: number | null };

export class LiveConsole {
  readonly consoleId = `con_${randomBytes(12).toString('base64url')}`;
  private readonly client: PgClient;
  private run: Run | null = null;
  private batch: (string | null)[][] = [];
  private batchChars = 0;
  private batchTimer: NodeJS.Timeout | null = null;
  private unacked = 0;
  private paused = false;
  private ended = false;
  private readonly pauseRows: number;
  private readonly resumeRows: number;
  private readonly masked = new MaskedColumnReport();

  constructor(
    private readonly endpoint: ConsoleEndpoint,
    private readonly emit: (event: ConsoleEvent) => void,
    flow: ConsoleFlow = {},
    private readonly onEnded: () => void = () => {},
  ) {
    this.pauseRows = flow.pauseRows ?? 20_000;
    this.resumeRows = flow.resumeRows ?? 5_000;
    this.client = new pg.Client({
      host: endpoint.host,
      port: endpoint.port,
      user: endpoint.sessionId,
      password: endpoint.ticket,
      database: endpoint.database,
      application_name: 'witness-console',
      ssl: { ca: endpoint.caPem },
      connectionTimeoutMillis: 15_000,
    }) as PgClient;
    this.client.on('notice', (notice) => {
      this.emit({
        kind: 'notice',
        runId: this.run?.runId ?? null,
        severity: notice.severity ?? 'NOTICE',
        message: notice.message ?? '',
        code: notice.code ?? null,
      });
    });
    this.client.on('error', (error) =>
      this.end(`The connection to the gateway failed: ${error.message}`),
    );
    this.client.on('end', () => this.end('The gateway closed this console’s session.'));
  }

  async connect(): Promise<void> {
    try {
      await this.client.connect();
      // pg's connection emits every backend message by name; the client ignores this one.
      const connection = (this.client as unknown as { connection: NodeJS.EventEmitter }).connection;
      // pg drops a query from its books on ErrorResponse, so the ReadyForQuery that ends a failed
      // run reaches no Submittable; the run ends here instead (after pg has read its status).
      connection.on('readyForQuery', () => {
        if (this.run?.failed) this.runEnd(this.run);
      });
      connection.on(
        'parameterStatus',
        (message: { parameterName: string; parameterValue: string }) => {
          this.masked.take(message);
        },
      );
    } catch (error) {
      this.ended = true;
      const message = error instanceof Error ? error.message : String(error);
      throw new DesktopError('gateway_error', `Could not connect the console: ${message}`);
    }
  }

  get running(): boolean {
    return this.run !== null;
  }

  start(sql: string, offset: number): string {
    if (this.ended) {
      throw new DesktopError('terminal_not_found', 'This console is closed. Open a new one.');
    }
    if (this.run) {
      throw new DesktopError(
        'conflict',
        'A query is still running in this console; cancel it first.',
      );
    }
    const run: Run = {
      runId: `run_${randomBytes(8).toString('base64url')}`,
      offset,
      started: performance.now(),
      resultIndex: -1,
      rowCount: 0,
      cancelled: false,
      failed: false,
      columns: [],
    };
    this.run = run;
    const query = new StreamingQuery(sql, {
      columns: (columns) => this.resultStart(run, columns),
      row: (values) => this.row(run, values),
      complete: (tag) => this.resultEnd(run, tag),
      error: (error) => this.error(run, error),
      ready: () => this.runEnd(run),
    });
    // pg types `query` for its own Query class; a Submittable is accepted at run time.
    this.client.query(query as unknown as pg.QueryConfig);
    return run.runId;
  }

  async cancel(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.cancelled = true;
    const { processID, secretKey } = this.client;
    if (processID === null || secretKey === null) return;
    const key = Buffer.alloc(4);
    key.writeInt32BE(secretKey);
    await sendCancelRequest({
      host: this.endpoint.host,
      port: this.endpoint.port,
      caPem: this.endpoint.caPem,
      processId: processID,
      secretKey: key,
    });
  }

  ack(rows: number): void {
    this.unacked = Math.max(0, this.unacked - rows);
    if (this.paused && this.unacked < this.resumeRows) {
      this.paused = false;
      this.socket()?.resume();
    }
  }

  /** Schemas, tables and columns for completion (schemaCatalog.ts), through this session. */
  async catalog(): Promise<ConsoleSchemaCatalog> {
    if (this.ended) {
      throw new DesktopError('terminal_not_found', 'This console is closed. Open a new one.');
    }
    const result = await this.client.query<CatalogRow>(CATALOG_SQL);
    return groupCatalog(result.rows);
  }

  close(): Promise<void> {
    this.end('Closed.');
    return this.client.end().catch(() => {});
  }

  private resultStart(run: Run, columns: ResultColumn[]): void {
    this.flush(run);
    run.resultIndex += 1;
    run.rowCount = 0;
    const masked = this.masked.forResult();
    run.columns = columns.map((c, i) => ({ ...c, masked: masked.has(i) }));
    this.emit({
      kind: 'result-start',
      runId: run.runId,
      resultIndex: run.resultIndex,
      columns: run.columns,
    });
  }

  private row(run: Run, values: (string | null)[]): void {
    run.rowCount += 1;
    this.batch.push(values);
    for (const value of values) this.batchChars += value === null ? 4 : value.length + 3;
    this.unacked += 1;
    if (this.batchChars >= BATCH_CHARS) {
      this.flush(run);
    } else if (!this.batchTimer) {
      // The first row of a pause goes out on the next turn (first row shown fast); later rows
      // wait up to BATCH_MS so 100,000 rows are a few hundred events, not 100,000.
      const delay = run.rowCount === 1 ? 0 : BATCH_MS;
      this.batchTimer = setTimeout(() => this.flush(run), delay);
    }
    if (!this.paused && this.unacked >= this.pauseRows) {
      this.paused = true;
      this.socket()?.pause();
    }
  }

  private flush(run: Run): void {
    if (this.batchTimer) {
      clearTimeout(this.batchTimer);
      this.batchTimer = null;
    }
    if (this.batch.length === 0) return;
    const rows = this.batch;
    this.batch = [];
    this.batchChars = 0;
    this.emit({ kind: 'rows', runId: run.runId, resultIndex: run.resultIndex, rows });
  }

  private resultEnd(run: Run, tag: string | null): void {
    this.flush(run);
    this.emit({
      kind: 'result-end',
      runId: run.runId,
      resultIndex: run.resultIndex,
      tag,
      rowCount: run.rowCount,
    });
  }

  private error(run: Run, error: ServerErrorFields): void {
    this.flush(run);
    run.failed = true;
    this.emit({
      kind: 'error',
      runId: run.runId,
      error: {
        ...error,
        position: error.position === null ? null : error.position + run.offset,
        blockedBy: blockedBy(error.code, error.message),
      },
    });
  }

  private runEnd(run: Run): void {
    if (this.run !== run) return;
    this.flush(run);
    this.run = null;
    this.emit({
      kind: 'run-end',
      runId: run.runId,
      elapsedMs: Math.round((performance.now() - run.started) * 10) / 10,
      transaction: transactionState(this.client.getTransactionStatus()),
      cancelled: run.cancelled,
    });
  }

  private socket(): { pause(): void; resume(): void } | undefined {
    return (
      this.client as unknown as { connection?: { stream?: { pause(): void; resume(): void } } }
    ).connection?.stream;
  }

  private end(message: string): void {
    if (this.ended) return;
    this.ended = true;
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.emit({ kind: 'ended', message });
    this.onEnded();
  }
}

function transactionState(status: string | null): TransactionState {
  if (status === 'T') return 'in-transaction';
  if (status === 'E') return 'failed';
  return 'idle';
}
