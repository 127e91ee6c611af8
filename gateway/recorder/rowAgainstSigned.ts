/**
 * A recording's row (who, on what, over which protocol, when, closed or not) checked against
 * its signed content (issue #12). The row is a database line anyone with the data directory
 * can edit; the session-start frame and the final checkpoint are covered by signatures. Where
 * they disagree the verdict is `failed`: the API must never show "verified" beside an owner,
 * a time or a status the recording does not bear out.
 */
import type { RecordingVerification, SignedDifference } from '../../shared/api/apiSchemas.ts';
import {
  describeMismatch,
  type SignedSessionFacts,
} from '../../shared/recording/signedSessionFacts.ts';
import type { RecordingMetadata } from '../store/recordingStore.ts';

/**
 * How far the row's start may precede the signed session-start frame: the row is created when
 * the recorder starts, the frame is written once the proxy has its target (an SSH upstream
 * handshake, a PostgreSQL login), which can take seconds under load. Never after it.
 */
export const START_SLACK_MS = 60_000;
/**
 * How far the row's end may follow the last signed frame of a closed recording: the row is
 * closed after the final checkpoint is written and flushed. Never before it.
 */
export const END_SLACK_MS = 60_000;

export type SignedRow = Pick<
  RecordingMetadata,
  'userId' | 'resourceId' | 'protocol' | 'status' | 'startedAt' | 'endedAt'
>;

/**
 * The row's values that differ from the signed content; empty when they agree. `names` are the
 * directory's current names for the row's ids (null when deleted); they are compared only for
 * recordings whose session-start frame predates ids.
 */
export function signedDifferences(
  row: SignedRow,
  names: { username: string | null; resourceName: string | null },
  signed: SignedSessionFacts,
): SignedDifference[] {
  const found: SignedDifference[] = [];
  const differs = (field: SignedDifference['field'], shown: string, signedValue: string) =>
    found.push({ field, shown, signed: signedValue });
  if (signed.sessionStartSeq !== null) {
    // Ids when the frame has them (recordings since issue #12); names for older recordings.
    if (signed.userId !== null) {
      if (signed.userId !== row.userId) differs('user', row.userId, signed.userId);
    } else if (signed.user !== null && names.username !== null && names.username !== signed.user) {
      differs('user', names.username, signed.user);
    }
    if (signed.resourceId !== null) {
      if (signed.resourceId !== row.resourceId)
        differs('resource', row.resourceId, signed.resourceId);
    } else if (
      signed.resource !== null &&
      names.resourceName !== null &&
      names.resourceName !== signed.resource
    ) {
      differs('resource', names.resourceName, signed.resource);
    }
    if (signed.protocol !== null && signed.protocol !== row.protocol) {
      differs('protocol', row.protocol, signed.protocol);
    }
    if (signed.startedAt !== null) {
      const signedStart = Date.parse(signed.startedAt);
      if (row.startedAt > signedStart || row.startedAt < signedStart - START_SLACK_MS) {
        differs('startedAt', iso(row.startedAt), signed.startedAt);
      }
    }
  }
  // A closed recording's end and status are signed by its final checkpoint. A row still
  // `recording` may simply not have been closed yet (the row follows the checkpoint).
  if (signed.status === 'complete' && row.status !== 'recording') {
    if (row.status !== 'complete') differs('status', row.status, 'complete');
    if (signed.endedAt !== null) {
      const signedEnd = Date.parse(signed.endedAt);
      if (
        row.endedAt === null ||
        row.endedAt < signedEnd ||
        row.endedAt > signedEnd + END_SLACK_MS
      ) {
        differs('endedAt', row.endedAt === null ? 'none' : iso(row.endedAt), signed.endedAt);
      }
    }
  }
  return found;
}

/** The differences between the row and the signed content, in words; empty when they agree. */
export function rowDisagreements(
  row: SignedRow,
  names: { username: string | null; resourceName: string | null },
  signed: SignedSessionFacts,
): string[] {
  return signedDifferences(row, names, signed).map((difference) =>
    describeDifference(difference, {
      // Older recordings are compared by name: say so rather than "user id".
      user: signed.userId === null ? 'the owner' : 'the owner (user id)',
      resource: signed.resourceId === null ? 'the resource' : 'the resource id',
    }),
  );
}

const FIELD_WORDS: Record<SignedDifference['field'], string> = {
  user: 'the owner (user id)',
  resource: 'the resource id',
  protocol: 'the protocol',
  startedAt: 'the start time',
  endedAt: 'the end time',
  status: 'the status',
};

/** One difference in words: "the owner (user id) is "x" here, but the signed … says "y"". */
export function describeDifference(
  difference: SignedDifference,
  words: Partial<Record<SignedDifference['field'], string>> = {},
): string {
  const field = words[difference.field] ?? FIELD_WORDS[difference.field];
  if (difference.field === 'endedAt' || difference.field === 'status') {
    const source =
      difference.field === 'endedAt' ? 'final checkpoint (its last frame)' : 'final checkpoint';
    return `${field} is ${JSON.stringify(difference.shown)} here, but the signed ${source} says ${JSON.stringify(difference.signed)}`;
  }
  return describeMismatch(field, difference.shown, difference.signed);
}

/** The verdict, failed when the row disagrees with what was signed. */
export function withRowChecked(
  verification: RecordingVerification,
  disagreements: readonly string[],
): RecordingVerification {
  if (disagreements.length === 0) return verification;
  return {
    status: 'failed',
    verifiedThroughSeq: verification.verifiedThroughSeq,
    // The frames are intact; what cannot be trusted is the row as a whole.
    firstBadSeq: 0,
    message:
      `the gateway's record of this recording was altered: ${disagreements.join('; ')}` +
      ` (the recording itself: ${verification.message})`,
  };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
