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
 *
 * A read for someone (a stream, a range, the desktop's `GET /v1/recordings/:id`) may take the
 * stored verdict instead of hashing the whole recording again, when what it was made on has not
 * changed since: the stored bytes' fingerprint (recordingStorage.ts) and the row facts the check
 * read (issue #16). The scheduled pass and exports always read every byte.
 */
import { createHash } from 'node:crypto';
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
  /** The stored verdict was taken: the bytes and the row facts it read had not changed. */
  reused: boolean;
}

export interface JudgeOptions {
  /** Take the stored verdict when what it was made on is unchanged (reads for someone). */
  reuseUnchanged?: boolean;
}

export interface RecordingJudgeSources {
  recordings: Pick<RecordingArchive, 'inspect'> & Partial<Pick<RecordingArchive, 'fingerprint'>>;
  store: Pick<UserDirectory, 'getUserById'> &
    Pick<ResourceStore, 'getResource'> &
    Pick<RecordingStore, 'recordRecordingVerification'>;
  clock: Clock;
}

export class RecordingJudge {
  constructor(private readonly sources: RecordingJudgeSources) {}

  /** Verifies the recording, judges its row against it, and stores the verdict. */
  async judge(
    recording: RecordingMetadata,
    options: JudgeOptions = {},
  ): Promise<RecordingJudgement> {
    const { recordings, store, clock } = this.sources;
    // Taken before the bytes are read: a change during the read makes the next one differ.
    const fingerprint = await recordings.fingerprint?.(recording);
    const judgedOn = fingerprint === undefined ? undefined : judgedOnOf(recording, fingerprint);
    const stored = recording.lastVerification;
    if (
      options.reuseUnchanged &&
      judgedOn !== undefined &&
      stored?.judgedOn === judgedOn &&
      // A failed verdict is made again: its message may depend on the row (the owner's name).
      stored.status !== 'failed' &&
      stored.message !== undefined &&
      stored.signed !== undefined
    ) {
      const verification: RecordingVerification = {
        status: stored.status,
        verifiedThroughSeq: stored.verifiedThroughSeq,
        firstBadSeq: stored.firstBadSeq ?? null,
        message: stored.message,
      };
      return {
        // The row as it is now against what was signed (it may have been edited since).
        verification: await this.withRow(recording, verification, stored.signed),
        signed: stored.signed,
        checkedAt: stored.at,
        reused: true,
      };
    }
    const inspection = await recordings.inspect(recording);
    const verification = await this.withRow(recording, inspection.verification, inspection.signed);
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
        ...(judgedOn !== undefined ? { judgedOn } : {}),
      })
      .catch(() => {});
    return { verification, signed: inspection.signed, checkedAt, reused: false };
  }

  /** The verdict on the bytes, failed if the row disagrees with what they sign. */
  private async withRow(
    recording: RecordingMetadata,
    verification: RecordingVerification,
    signed: SignedSessionFacts | null,
  ): Promise<RecordingVerification> {
    if (!signed) return verification;
    const { store } = this.sources;
    // The row's names as stored (null when deleted), for recordings signed before ids were.
    const [owner, resource] = await Promise.all([
      store.getUserById(recording.userId),
      store.getResource(recording.resourceId),
    ]);
    const disagreements = rowDisagreements(
      recording,
      { username: owner?.username ?? null, resourceName: resource?.name ?? null },
      signed,
    );
    return withRowChecked(verification, disagreements);
  }
}

/**
 * What a verdict is made on: the bytes' fingerprint and the row facts the inspection reads
 * (a row marked complete whose bytes lack a final checkpoint fails: recordingVerification.ts),
 * hashed so the stored detail stays short.
 */
function judgedOnOf(recording: RecordingMetadata, fingerprint: string): string {
  const row = [
    recording.storage,
    recording.status,
    recording.lastCheckpointSeq,
    recording.bytes,
    recording.frames,
  ].join(' ');
  return createHash('sha256').update(`${row}\n${fingerprint}`).digest('base64url');
}
