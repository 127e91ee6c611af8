/**
 * A database session as a timeline of queries: gateway-client's query log (queryLog.ts, the
 * same assembly the `.jsonl` export uses) read from the verified file, with each entry's result
 * table capped at MAX_ROWS_PER_ENTRY rows for display (rowCount still counts all).
 */
import { type QueryLogLine, queryLogLines } from '../../../gateway-client/recording/queryLog.ts';
import {
  eventKinds,
  type RecordingEvent,
} from '../../../gateway-client/recording/recordingFormat.ts';
import type { CallResponse } from '../../ipc/contract.ts';
import { recordsInFile } from './recordsInFile.ts';

export type QueryTimelineEntry = CallResponse<'playback.queries'>['entries'][number];

export const MAX_ROWS_PER_ENTRY = 100;
/** What the gateway writes in place of a masked text value (gateway/policy/masking.ts). */
const MASK = '****';

export async function buildQueryTimeline(
  file: string,
  options: { startOffset: number; maxSeq: number; startedAt: number },
): Promise<QueryTimelineEntry[]> {
  const queryStarts = new Map<number, number>();
  async function* events(): AsyncGenerator<RecordingEvent> {
    for await (const record of recordsInFile(file, options.startOffset)) {
      if (record.type !== 'frame') continue;
      if (record.event.seq > options.maxSeq) return;
      if (record.event.kind === eventKinds.query && !queryStarts.has(record.event.time)) {
        queryStarts.set(record.event.time, record.event.seq);
      }
      yield record.event;
    }
  }
  const entries: QueryTimelineEntry[] = [];
  for await (const line of queryLogLines(events(), { maxRows: MAX_ROWS_PER_ENTRY })) {
    entries.push(toEntry(line, entries.length, options.startedAt, queryStarts));
  }
  return entries;
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
