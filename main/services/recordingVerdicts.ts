/**
 * Recordings for the desktop: the list as the contract's summaries, and verification done
 * here, on this machine — the stream is downloaded and checked with gateway-client's verifier
 * against the recording key pinned when the gateway was first trusted, never the key the
 * gateway serves today (a gateway that swapped its key cannot vouch for its own edits).
 */

import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import type { Recording } from '../../shared/api/apiSchemas.ts';
import { verifyRecording } from '../../shared/recording/verifyRecording.ts';
import type { CallResponse } from '../ipc/contract.ts';
import type { StoredGateway } from './desktopProfile.ts';
import { missingBytes, worseOf } from './recordings/gatewayJudgement.ts';

type RecordingSummary = CallResponse<'recordings.list'>['recordings'][number];
type RecordingVerdict = CallResponse<'recordings.verify'>;

export function toRecordingSummary(recording: Recording): RecordingSummary {
  return {
    sessionId: recording.sessionId,
    userId: recording.userId,
    resourceId: recording.resourceId,
    username: recording.username,
    resourceName: recording.resourceName,
    protocol: recording.protocol,
    status: recording.status,
    startedAt: recording.startedAt,
    endedAt: recording.endedAt,
    frames: recording.frames,
    bytes: recording.bytes,
    lastVerification: recording.lastVerification ?? null,
    ...(recording.differsFromSigned ? { differsFromSigned: recording.differsFromSigned } : {}),
  };
}

export async function verifyRecordingLocally(
  client: GatewayClient,
  pinned: Pick<StoredGateway, 'recordingPublicKeyPem' | 'recordingKeyFingerprint'>,
  sessionId: string,
): Promise<RecordingVerdict> {
  const download = await client.downloadRecording(sessionId).catch(async (error: unknown) => {
    throw await missingBytes(client, sessionId, error);
  });
  let report: Awaited<ReturnType<typeof verifyRecording>>;
  try {
    report = await verifyRecording(download.body, {
      publicKeyPem: pinned.recordingPublicKeyPem,
      expectedSessionId: sessionId,
    });
  } finally {
    // The verifier stops reading at the first bad frame; drop the rest of the download.
    download.body.destroy();
  }
  // Judged by the gateway against its row too, after the bytes were read (gatewayJudgement.ts).
  report = worseOf(report, await client.getRecording(sessionId));
  return {
    sessionId,
    status: report.status,
    verifiedThroughSeq: report.verifiedThroughSeq,
    firstBadSeq: report.firstBadSeq,
    message: report.message,
    recordingKeyFingerprint: pinned.recordingKeyFingerprint,
  };
}
