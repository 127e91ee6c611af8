/**
 * The `recordings` table as the recording store and the search index both read it: a row as
 * RecordingMetadata, and the list filters as one SQL condition (the search index joins
 * recordings to its hits and filters them the same way the list does).
 */
import type { Expression, ExpressionBuilder, Selectable, SqlBool } from 'kysely';
import type { Database, RecordingsTable } from './migrations.ts';
import type {
  RecordingFilter,
  RecordingMetadata,
  RecordingVerificationSummary,
} from './recordingStore.ts';

export function recordingFromRow(row: Selectable<RecordingsTable>): RecordingMetadata {
  return {
    sessionId: row.session_id,
    userId: row.user_id,
    resourceId: row.resource_id,
    protocol: row.protocol,
    status: row.status,
    owner: row.owner,
    storage: row.storage,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    frames: row.frames,
    bytes: row.bytes,
    lastCheckpointSeq: row.last_checkpoint_seq,
    lastCheckpointAt: row.last_checkpoint_at,
    failureReason: row.failure_reason,
    lastVerification:
      row.last_verification === null
        ? null
        : {
            status: row.last_verification,
            verifiedThroughSeq: row.last_verification_seq ?? 0,
            at: row.last_verification_at ?? 0,
            ...verdictDetailFromRow(row.last_verification_detail),
          },
  };
}

type VerdictDetail = Pick<
  RecordingVerificationSummary,
  'firstBadSeq' | 'message' | 'signed' | 'judgedOn'
>;

/** The stored detail as the store wrote it; a value it cannot read is treated as absent. */
function verdictDetailFromRow(json: string | null): VerdictDetail {
  if (json === null) return {};
  try {
    const detail = JSON.parse(json) as VerdictDetail | null;
    if (typeof detail !== 'object' || detail === null) return {};
    return {
      ...(detail.firstBadSeq !== undefined ? { firstBadSeq: detail.firstBadSeq } : {}),
      ...(typeof detail.message === 'string' ? { message: detail.message } : {}),
      ...(detail.signed !== undefined ? { signed: detail.signed } : {}),
      ...(typeof detail.judgedOn === 'string' ? { judgedOn: detail.judgedOn } : {}),
    };
  } catch {
    return {};
  }
}

/** The detail column for a verdict (null when the verdict carries none). */
export function verdictDetailToRow(verdict: RecordingVerificationSummary): string | null {
  const { firstBadSeq, message, signed, judgedOn } = verdict;
  if (firstBadSeq === undefined && message === undefined && signed === undefined) return null;
  return JSON.stringify({ firstBadSeq, message, signed, judgedOn });
}

/**
 * A join's expression builder narrowed to the `recordings` table it contains; the conditions
 * use only fully qualified `recordings.*` columns, so they mean the same in the join.
 */
export function onRecordings<TB extends keyof Database>(
  eb: ExpressionBuilder<Database, TB | 'recordings'>,
): ExpressionBuilder<Database, 'recordings'> {
  return eb as unknown as ExpressionBuilder<Database, 'recordings'>;
}

/**
 * The list filters as one condition on the `recordings` table, for the list and for search
 * (where recordings is joined to the index).
 */
export function recordingConditions(
  eb: ExpressionBuilder<Database, 'recordings'>,
  filter: Omit<RecordingFilter, 'limit'>,
): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [];
  if (filter.userId !== undefined) conditions.push(eb('recordings.user_id', '=', filter.userId));
  if (filter.resourceId !== undefined) {
    conditions.push(eb('recordings.resource_id', '=', filter.resourceId));
  }
  switch (filter.status) {
    case undefined:
      break;
    case 'verified':
      conditions.push(eb('recordings.last_verification', '=', 'verified'));
      break;
    case 'failed':
      conditions.push(
        eb.or([
          eb('recordings.status', '=', 'failed'),
          eb('recordings.last_verification', '=', 'failed'),
        ]),
      );
      break;
    default:
      conditions.push(eb('recordings.status', '=', filter.status));
  }
  if (filter.protocol !== undefined) {
    conditions.push(eb('recordings.protocol', '=', filter.protocol));
  }
  if (filter.from !== undefined) conditions.push(eb('recordings.started_at', '>=', filter.from));
  if (filter.to !== undefined) conditions.push(eb('recordings.started_at', '<=', filter.to));
  const after = filter.after;
  if (after !== undefined) {
    conditions.push(
      eb.or([
        eb('recordings.started_at', '<', after.startedAt),
        eb.and([
          eb('recordings.started_at', '=', after.startedAt),
          eb('recordings.session_id', '<', after.sessionId),
        ]),
      ]),
    );
  }
  return eb.and(conditions);
}
