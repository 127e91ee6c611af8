/**
 * A console's runs as the renderer keeps them, built from `console.event`s in order. Rows are
 * appended to one array per result in place (a 100,000-row result is not copied on every
 * batch); `version` grows on every change so React can re-render on a frame, not on a batch.
 */
import type {
  ConsoleColumn,
  ConsoleError,
  ConsoleEvent,
  TransactionState,
} from '../../../main/ipc/contract.ts';

export interface ConsoleResult {
  columns: ConsoleColumn[];
  rows: (string | null)[][];
  /** CommandComplete's tag once the result is complete. */
  tag: string | null;
  complete: boolean;
}

export interface ConsoleNotice {
  severity: string;
  message: string;
  code: string | null;
}

export interface ConsoleRun {
  runId: string;
  sql: string;
  startedAt: number;
  /** Set when the run ends (from main's measure: query sent → ReadyForQuery). */
  elapsedMs: number | null;
  results: ConsoleResult[];
  notices: ConsoleNotice[];
  error: ConsoleError | null;
  cancelled: boolean;
  /** A run-end without any result or error: the tags are all there is to show. */
  done: boolean;
}

export class ConsoleResults {
  run: ConsoleRun | null = null;
  transaction: TransactionState = 'idle';
  /** Notices outside any run (NOTIFY-free sessions rarely have them). */
  readonly looseNotices: ConsoleNotice[] = [];
  ended: string | null = null;
  version = 0;

  /**
   * A run the renderer started. Its first events may have come before the call's answer (both
   * travel on one channel, but the answer is sent after the handler's turn): then it exists.
   */
  begin(runId: string, sql: string): void {
    if (this.run?.runId === runId) {
      this.run.sql = sql;
      this.version += 1;
      return;
    }
    this.run = {
      runId,
      sql,
      startedAt: performance.now(),
      elapsedMs: null,
      results: [],
      notices: [],
      error: null,
      cancelled: false,
      done: false,
    };
    this.version += 1;
  }

  /** Applies one event; returns the number of rows it carried (for the ack). */
  apply(event: ConsoleEvent): number {
    this.version += 1;
    if (event.kind === 'ended') {
      this.ended = event.message;
      return 0;
    }
    if (event.kind === 'notice') {
      const notice = { severity: event.severity, message: event.message, code: event.code };
      if (this.run && event.runId === this.run.runId) this.run.notices.push(notice);
      else this.looseNotices.push(notice);
      return 0;
    }
    if (this.run === null || (this.run.done && this.run.runId !== event.runId)) {
      this.begin(event.runId, '');
    }
    const run = this.run;
    // Rows of a run the renderer no longer shows are still acked, or main would stay paused.
    if (run === null || run.runId !== event.runId)
      return event.kind === 'rows' ? event.rows.length : 0;
    switch (event.kind) {
      case 'result-start':
        run.results[event.resultIndex] = {
          columns: event.columns,
          rows: [],
          tag: null,
          complete: false,
        };
        return 0;
      case 'rows': {
        const result = run.results[event.resultIndex];
        if (result) for (const row of event.rows) result.rows.push(row);
        return event.rows.length;
      }
      case 'result-end': {
        const result = run.results[event.resultIndex];
        if (result) {
          result.tag = event.tag;
          result.complete = true;
        } else if (event.tag !== null) {
          // A statement without rows (BEGIN, UPDATE 3): shown by its tag.
          run.results[event.resultIndex] = {
            columns: [],
            rows: [],
            tag: event.tag,
            complete: true,
          };
        }
        return 0;
      }
      case 'error':
        run.error = event.error;
        return 0;
      case 'run-end':
        run.elapsedMs = event.elapsedMs;
        run.cancelled = event.cancelled;
        run.done = true;
        this.transaction = event.transaction;
        return 0;
    }
  }

  get running(): boolean {
    return this.run !== null && !this.run.done;
  }
}
