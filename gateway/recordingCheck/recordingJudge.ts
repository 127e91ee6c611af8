/**
 * One verdict on a stored recording, made the same way wherever the gateway makes it (a
 * recording opened in the API, an export, a stream, the background re-verifier) and stored
 * with when it was made (issue #12: verification is fresh where it is shown).
 *
 * The verdict judges the bytes (chain, signatures, the row's progress: a complete recording
 * that lost its tail fails) and the row against the bytes (owner, resource, protocol, times and
 * status against the signed session-start frame and final checkpoint). What the signed content
 * said is stored with it, so a list can flag a row edited after the check without reading the
 * bytes again.
 */
import type { RecordingVerification } from '../../shared/api/apiSchemas.ts';
import type { SignedSessionFacts } from '../../shared/recording/signedSessionFacts.ts';
import type { Clock } from '../clock.ts';
import type { RecordingArchive } from '../recorder/recordingArchive.ts';
import { rowDisagreements, withRowChecked } from '../recorder/rowAgainstSigned.ts';
import type { ResourceStore } from '../store/catalogStore.ts';
import type { UserDirectory } from '../store/identityStore.ts';
import type { RecordingMetadata, RecordingStore } from '../store/recordingStore.ts';

export interface RecordingJudgement {
  verification: RecordingVerification;
  /** What the signed content says; null when the bytes could not be read. */
  signed: SignedSessionFacts | null;
  /** Epoch ms the verdict was made (and stored with). */
  checkedAt: number;
}

export interface RecordingJudgeSources {
  recordings: Pick<RecordingArchive, 'inspect'>;
  store: Pick<UserDirectory, 'getUserById'> &
    Pick<ResourceStore, 'getResource'> &
    Pick<RecordingStore, 'recordRecordingVerification'>;
  clock: Clock;
}

export class RecordingJudge {
  constructor(private readonly sources: RecordingJudgeSources) {}

  /** Verifies the recording, judges its row against it, and stores the verdict. */
  async judge(recording: RecordingMetadata): Promise<RecordingJudgement> {
    const { recordings, store, clock } = this.sources;
    const inspection = await recordings.inspect(recording);
    let verification = inspection.verification;
    if (inspection.signed) {
      // The row's names as stored (null when deleted), for recordings signed before ids were.
      const [owner, resource] = await Promise.all([
        store.getUserById(recording.userId),
        store.getResource(recording.resourceId),
      ]);
      const disagreements = rowDisagreements(
        recording,
        { username: owner?.username ?? null, resourceName: resource?.name ?? null },
        inspection.signed,
      );
      verification = withRowChecked(verification, disagreements);
    }
    const checkedAt = clock.now();
    // A failure to keep the verdict is not the caller's: it has the verdict.
    await store
      .recordRecordingVerification(recording.sessionId, {
        status: verification.status,
        verifiedThroughSeq: verification.verifiedThroughSeq,
        at: checkedAt,
        firstBadSeq: verification.firstBadSeq,
        message: verification.message,
        signed: inspection.signed,
      })
      .catch(() => {});
    return { verification, signed: inspection.signed, checkedAt };
  }
}
