/**
 * A recording's row (who, on what, over which protocol) checked against its signed
 * session-start frame (issue #12). The row is a database line anyone with the data directory
 * can edit; the frame is covered by a signed checkpoint. Where they disagree the verdict is
 * `failed`: the API must never show "verified" beside an owner the recording does not name.
 */
import type { RecordingVerification } from '../../shared/api/apiSchemas.ts';
import {
  describeMismatch,
  type SignedSessionFacts,
} from '../../shared/recording/signedSessionFacts.ts';
import type { RecordingMetadata } from '../store/recordingStore.ts';

/** The differences between the row and the signed frame; empty when they agree. */
export function rowDisagreements(
  row: Pick<RecordingMetadata, 'userId' | 'resourceId' | 'protocol'>,
  names: { username: string | null; resourceName: string | null },
  signed: SignedSessionFacts,
): string[] {
  if (signed.sessionStartSeq === null) return [];
  const found: string[] = [];
  // Ids when the frame has them (recordings since issue #12); names for older recordings.
  if (signed.userId !== null) {
    if (signed.userId !== row.userId)
      found.push(describeMismatch('the owner (user id)', row.userId, signed.userId));
  } else if (signed.user !== null && names.username !== null && names.username !== signed.user) {
    found.push(describeMismatch('the owner', names.username, signed.user));
  }
  if (signed.resourceId !== null) {
    if (signed.resourceId !== row.resourceId) {
      found.push(describeMismatch('the resource id', row.resourceId, signed.resourceId));
    }
  } else if (
    signed.resource !== null &&
    names.resourceName !== null &&
    names.resourceName !== signed.resource
  ) {
    found.push(describeMismatch('the resource', names.resourceName, signed.resource));
  }
  if (signed.protocol !== null && signed.protocol !== row.protocol) {
    found.push(describeMismatch('the protocol', row.protocol, signed.protocol));
  }
  return found;
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
