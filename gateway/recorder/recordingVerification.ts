/**
 * Verifies a stored recording for the API, with the same verifier the CLI and the desktop use
 * offline (shared/recording/verifyRecording.ts), plus the one thing only the gateway
 * knows: whether the writer stopped cleanly.
 *
 * A writer that died (SIGKILL, power loss) or hit a full disk can leave the last record half
 * written. From the bytes alone that looks like truncation, so the offline verifier calls it
 * failed; but when the store says the recording was interrupted or failed, a torn record at
 * the very end is the expected scar of that stop (or, for a live recording, a write in
 * progress), and the recording is reported `partial`:
 * verified up to its last checkpoint (DESIGN.md: "a recording cut short by a crash still
 * verifies up to its last checkpoint").
 */
import type { RecordingVerification } from '../../shared/api/apiSchemas.ts';
import { RecordingFormatError, RecordingReader } from '../../shared/recording/recordingFormat.ts';
import {
  type SignedSessionFacts,
  SignedSessionFactsCollector,
} from '../../shared/recording/signedSessionFacts.ts';
import {
  type VerificationReport,
  verifyRecording,
} from '../../shared/recording/verifyRecording.ts';
import type { RecordingMetadata } from '../store/recordingStore.ts';
import { RecordingNotFoundError, type RecordingStorage } from './recordingStorage.ts';

export async function verifyStoredRecording(
  storage: RecordingStorage,
  recording: Pick<RecordingMetadata, 'sessionId' | 'status'>,
  publicKeyPem: string,
  /** Earlier recording keys of this gateway, still trusted after a rotation (issue #17). */
  alsoTrustedKeys: readonly string[] = [],
): Promise<RecordingVerification> {
  return (await inspectStoredRecording(storage, recording, publicKeyPem, alsoTrustedKeys))
    .verification;
}

/** A stored recording's verdict, with what its signed content says and what was read. */
export interface StoredRecordingInspection {
  verification: RecordingVerification;
  /** What the signed frames and checkpoints say (null when the bytes could not be read). */
  signed: SignedSessionFacts | null;
  /** Bytes read from storage; frames the verifier accepted. */
  storedBytes: number;
  frames: number;
}

/**
 * Verifies the bytes, and with the row's own progress (when given) tells a recording the
 * gateway closed but that lost its tail from one that was interrupted: the row is written
 * only after the bytes it counts are flushed, so stored bytes that end before the row's last
 * checkpoint were removed (issue #12).
 */
export async function inspectStoredRecording(
  storage: RecordingStorage,
  recording: Pick<RecordingMetadata, 'sessionId' | 'status'> &
    Partial<Pick<RecordingMetadata, 'lastCheckpointSeq' | 'bytes' | 'frames'>>,
  publicKeyPem: string,
  alsoTrustedKeys: readonly string[] = [],
): Promise<StoredRecordingInspection> {
  const { sessionId } = recording;
  const collector = new SignedSessionFactsCollector();
  let storedBytes = 0;
  const counted = async function* () {
    for await (const chunk of storage.open(sessionId)) {
      storedBytes += chunk.length;
      yield chunk;
    }
  };
  let report: VerificationReport;
  try {
    report = await verifyRecording(counted(), {
      publicKeyPem,
      alsoTrustedKeys,
      expectedSessionId: sessionId,
      onEvent: (event) => collector.observe(event),
    });
  } catch (error) {
    return {
      verification: unreadable(error),
      signed: null,
      storedBytes,
      frames: 0,
    };
  }
  const signed = collector.facts(report);
  const fromBytes = await withTornEnd(storage, recording, report);
  const verification =
    fromBytes.status === 'partial'
      ? (truncatedAfterEnd(recording, report, storedBytes) ?? fromBytes)
      : fromBytes;
  return { verification, signed, storedBytes, frames: report.frames };
}

function unreadable(error: unknown): RecordingVerification {
  return {
    status: 'failed',
    verifiedThroughSeq: 0,
    firstBadSeq: 0,
    message:
      error instanceof RecordingNotFoundError
        ? `the recording's bytes are missing from storage: ${error.message}`
        : `the recording could not be read from storage: ${error instanceof Error ? error.message : String(error)}`,
  };
}

/**
 * For a recording the bytes call partial: a `failed` verdict when the row proves more was
 * stored than is there now — a complete recording without its final checkpoint, or any
 * recording whose bytes end before the checkpoint the row last counted. Undefined when the
 * bytes tell the whole story (a real interruption).
 */
function truncatedAfterEnd(
  row: Pick<RecordingMetadata, 'status'> &
    Partial<Pick<RecordingMetadata, 'lastCheckpointSeq' | 'bytes' | 'frames'>>,
  report: VerificationReport,
  storedBytes: number,
): RecordingVerification | undefined {
  const rowCheckpoint = row.lastCheckpointSeq ?? 0;
  const lostCheckpoint = rowCheckpoint > report.lastCheckpointSeq;
  const completeButOpen = row.status === 'complete';
  if (!lostCheckpoint && !completeButOpen) return undefined;
  const endsAt = report.frames + 1;
  const rowSays =
    row.status === 'complete'
      ? `the gateway closed this recording (status complete${row.frames !== undefined ? `, ${row.frames} frames` : ''}, last checkpoint at seq ${rowCheckpoint}${row.bytes !== undefined ? `, ${row.bytes} bytes` : ''})`
      : `the gateway stored a signed checkpoint at seq ${rowCheckpoint}`;
  return {
    status: 'failed',
    verifiedThroughSeq: report.verifiedThroughSeq,
    firstBadSeq: endsAt,
    message:
      `truncated${row.status === 'complete' ? ' after the session ended' : ''}: ${rowSays}, ` +
      `but the stored bytes (${storedBytes}) end after frame ${report.frames}` +
      (report.lastCheckpointSeq > 0
        ? ` and their last checkpoint is at seq ${report.lastCheckpointSeq}`
        : '') +
      `; frame ${endsAt} onwards was removed`,
  };
}

/** The verdict from the bytes, excusing a torn last record of a writer that stopped. */
async function withTornEnd(
  storage: RecordingStorage,
  recording: Pick<RecordingMetadata, 'sessionId' | 'status'>,
  report: VerificationReport,
): Promise<RecordingVerification> {
  const { sessionId } = recording;
  // Only a complete recording was closed cleanly; a live one may be read mid-write.
  const mayEndTorn = recording.status !== 'complete';
  if (
    report.status === 'failed' &&
    mayEndTorn &&
    report.firstBadSeq === report.frames + 1 &&
    (await framesBeforeTornEnd(storage, sessionId)) === report.frames
  ) {
    const last = report.lastCheckpointSeq;
    return {
      status: 'partial',
      verifiedThroughSeq: last,
      firstBadSeq: null,
      message:
        `${recording.status === 'recording' ? 'still recording' : recording.status} (no final checkpoint): ` +
        (last === 0
          ? 'no frame is covered by a signed checkpoint'
          : `frames 1–${last} are verified by the signed checkpoint at seq ${last}`) +
        `; ${report.frames > last ? `frames ${last + 1}–${report.frames} are unverified, and ` : ''}` +
        (recording.status === 'recording'
          ? 'the last record is still being written'
          : 'the last record was cut off when the recording stopped'),
    };
  }
  return {
    status: report.status,
    verifiedThroughSeq: report.verifiedThroughSeq,
    firstBadSeq: report.firstBadSeq,
    message: report.message,
  };
}

/**
 * When the stream parses as whole records up to a final record that is cut off, the number of
 * frames before that torn record; otherwise undefined. The caller compares it with where the
 * verifier stopped, so a torn end cannot excuse anything earlier (a dropped frame, say).
 * The recording is read a second time only in this rare case.
 */
async function framesBeforeTornEnd(
  storage: RecordingStorage,
  sessionId: string,
): Promise<number | undefined> {
  const reader = new RecordingReader();
  let frames = 0;
  try {
    for await (const chunk of storage.open(sessionId)) {
      for (const record of reader.push(chunk)) if (record.type === 'frame') frames += 1;
    }
    reader.push(new Uint8Array(0)); // surfaces a malformed record held back by the last push
  } catch (error) {
    if (error instanceof RecordingFormatError) return undefined;
    throw error;
  }
  return reader.pendingBytes > 0 ? frames : undefined;
}
