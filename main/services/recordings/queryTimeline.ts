/**
 * A database session as a timeline of queries: gateway-client's query log (queryLog.ts, the
 * same assembly the `.jsonl` export uses) read from the verified file, with each entry's result
 * table capped at MAX_ROWS_PER_ENTRY rows for display (rowCount still counts all).
 */

import { PostgresWireEvents } from '../../../shared/recording/postgresWire.ts';
import {
  DEFAULT_MAX_ROW_BYTES,
  QueryLogAssembler,
  type QueryLogLine,
} from '../../../shared/recording/queryLog.ts';
import { eventKinds, type RecordingEvent } from '../../../shared/recording/recordingFormat.ts';
import type { CallResponse } from '../../ipc/contract.ts';
import { recordsInFile } from './recordsInFile.ts';

export type QueryTimelineEntry = CallResponse<'playback.queries'>['entries'][number];

export const MAX_ROWS_PER_ENTRY = 100;
const MAX_REMEMBERED_QUERY_STARTS = 10_000;
/** What the gateway writes in place of a masked text value (gateway/policy/masking.ts). */
const MASK = '****';

export async function buildQueryTimeline(
  file: string,
  options: { startOffset: number; maxSeq: number; startedAt: number },
): Promise<QueryTimelineEntry[]> {
  const builder = new QueryTimelineBuilder(options.startedAt);
  const entries: QueryTimelineEntry[] = [];
  for await (const record of recordsInFile(file, options.startOffset)) {
    if (record.type !== 'frame') continue;
    if (record.event.seq > options.maxSeq) break;
    entries.push(...builder.accept(record.event));
  }
  entries.push(...builder.end());
  return entries;
}

/**
 * The timeline one event at a time: a verified file's events (buildQueryTimeline) or a live
 * session's as they are verified (liveWatch.ts). An entry is complete when it is returned.
 */
export class QueryTimelineBuilder {
  private readonly assembler = new QueryLogAssembler({
    maxRows: MAX_ROWS_PER_ENTRY,
    maxRowBytes: DEFAULT_MAX_ROW_BYTES,
  });
  /** Seq of the frame that started each query, by its time (how a log line names its query). */
  private readonly queryStarts = new Map<number, number>();
  private count = 0;
  /** Version-2 recordings hold the wire; the timeline is built from the events it carries. */
  private readonly wire = new PostgresWireEvents();

  constructor(private readonly startedAt: number) {}

  accept(recorded: RecordingEvent): QueryTimelineEntry[] {
    const events = this.wire.accept(recorded);
    if (events.length === 1) return this.acceptOne(events[0]!);
    const entries: QueryTimelineEntry[] = [];
    for (const event of events) entries.push(...this.acceptOne(event));
    return entries;
  }

  private acceptOne(event: RecordingEvent): QueryTimelineEntry[] {
    if (event.kind === eventKinds.query && !this.queryStarts.has(event.time)) {
      this.queryStarts.set(event.time, event.seq);
      // A long (live) session: forget the oldest; a query still open that long is rare, and
      // then only its seq (for search-hit focus) is lost.
      if (this.queryStarts.size > MAX_REMEMBERED_QUERY_STARTS) {
        const oldest = this.queryStarts.keys().next().value;
        if (oldest !== undefined) this.queryStarts.delete(oldest);
      }
    }
    return this.entries(this.assembler.accept(event));
  }

  /** The session ended: queries still waiting for results are complete as they are. */
  end(): QueryTimelineEntry[] {
    return this.entries(this.assembler.end());
  }

  private entries(lines: Iterable<QueryLogLine>): QueryTimelineEntry[] {
    const out: QueryTimelineEntry[] = [];
    for (const line of lines) {
      out.push(toEntry(line, this.count++, this.startedAt, this.queryStarts));
    }
    return out;
  }
}

function toEntry(
  line: QueryLogLine,
  index: number,
  startedAt: number,
  queryStarts: Map<number, number>,
): QueryTimelineEntry {
  const time = Date.parse(line.time);
  const rows = line.rows.map((row) =>
    row.map((value) => (value === null ? null : typeof value === 'string' ? value : value.base64)),
  );
  const masked = line.columns
    .filter((_, column) => rows.some((row) => row[column]?.includes(MASK)))
    .map((column) => column.name);
  return {
    index,
    seq: queryStarts.get(time) ?? 0,
    t: Math.max(0, time - startedAt),
    sql: line.sql,
    params: line.params ?? null,
    durationMs: line.durationMs,
    rowCount: line.rowCount,
    status: line.status,
    error: line.error ? { code: line.error.code, message: line.error.message } : null,
    blocked: line.blocked ?? null,
    maskedColumns: masked,
    columns: line.columns.map((c) => ({ name: c.name, typeOid: c.typeOid })),
    rows,
    rowsTruncated: line.rowsTruncated === true || line.rows.length < line.rowCount,
  };
}
