/**
 * How `witness recordings list` words a recording's verdict (issue #12): what the gateway found
 * and when it looked, since a verdict is only as good as its age; and which of the row's values
 * the signed recording contradicts, marked in the table and explained under it.
 */
import type { Recording, SignedDifference } from '../../shared/api/apiSchemas.ts';

/** Marks a value in the table that the signed recording contradicts. */
export const DIFFERS_MARK = '!';

/** "verified, checked 2026-12-07T17:03:12Z" / "failed at seq 7, checked …" / "not checked". */
export function verdictCell(recording: Pick<Recording, 'lastVerification'>): string {
  const verdict = recording.lastVerification;
  if (!verdict) return 'not checked';
  const checkedAt = (verdict.checkedAt ?? verdict.at).replace(/\.\d+Z$/, 'Z');
  let what: string;
  switch (verdict.status) {
    case 'verified':
      what = 'verified';
      break;
    case 'partial':
      what = `partial to seq ${verdict.verifiedThroughSeq}`;
      break;
    case 'failed':
      what =
        verdict.firstBadSeq === null || verdict.firstBadSeq === undefined
          ? 'FAILED'
          : verdict.firstBadSeq === 0
            ? 'FAILED (row altered)'
            : `FAILED at seq ${verdict.firstBadSeq}`;
      break;
  }
  return `${what}, checked ${checkedAt}`;
}

/** The table's value with the mark when the signed recording says otherwise. */
export function marked(
  recording: Pick<Recording, 'differsFromSigned'>,
  field: SignedDifference['field'],
  value: string,
): string {
  return recording.differsFromSigned?.some((d) => d.field === field)
    ? `${value}${DIFFERS_MARK}`
    : value;
}

const FIELD_NAMES: Record<SignedDifference['field'], string> = {
  user: 'user',
  resource: 'resource',
  protocol: 'protocol',
  startedAt: 'start',
  endedAt: 'end',
  status: 'status',
};

/**
 * One line per contradicted value, for under the table: what the gateway's row says and what
 * the signed recording says; empty when nothing is contradicted.
 */
export function differenceNotes(
  recordings: readonly Pick<Recording, 'sessionId' | 'differsFromSigned'>[],
): string[] {
  return recordings.flatMap((recording) =>
    (recording.differsFromSigned ?? []).map(
      (d) =>
        `${DIFFERS_MARK} ${recording.sessionId}: the gateway's ${FIELD_NAMES[d.field]} is ${JSON.stringify(d.shown)}, but the signed recording says ${JSON.stringify(d.signed)}`,
    ),
  );
}
