/**
 * The desktop verifies a recording's bytes itself, against the key pinned when the gateway was
 * first trusted, so a gateway cannot vouch for its own edits. But the bytes alone cannot tell
 * what only the gateway's records can (issue #12): a `complete` recording cut at a record
 * boundary reads as "interrupted" unless someone knows the session ended, and a row whose owner
 * was changed in the database has untouched bytes. The gateway judges both when the recording
 * is fetched (`GET /v1/recordings/:id`: the bytes against the row's progress, the row against
 * the signed session-start frame).
 *
 * So the desktop shows the worse of the two verdicts. The gateway's can only make it worse,
 * never better: a gateway that says "verified" about bytes that fail here changes nothing.
 */
import { GatewayApiError, type GatewayClient } from '../../../gateway-client/gatewayClient.ts';
import type { Recording } from '../../../shared/api/apiSchemas.ts';
import { DesktopError } from '../../ipc/contract.ts';

export interface Verdict {
  status: 'verified' | 'partial' | 'failed';
  verifiedThroughSeq: number;
  firstBadSeq: number | null;
  message: string;
}

/** What the gateway said about the recording: its row and, when it ran, its own check. */
export type GatewayJudgement = Pick<Recording, 'status' | 'verification'>;

export function worseOf<V extends Verdict>(local: V, gateway: GatewayJudgement): V {
  // What this machine found in the bytes is the more exact answer: its own seq stands.
  if (local.status === 'failed') return local;
  const judged = gateway.verification;
  if (judged?.status === 'failed') {
    return {
      ...local,
      status: 'failed',
      firstBadSeq: judged.firstBadSeq,
      verifiedThroughSeq: Math.min(local.verifiedThroughSeq, judged.verifiedThroughSeq),
      message: `${judged.message} (the gateway's check)`,
    };
  }
  // A gateway that ran no check still says the session ended: then bytes without a final
  // checkpoint lost their tail after the fact, they were not interrupted.
  if (local.status === 'partial' && gateway.status === 'complete') {
    return {
      ...local,
      status: 'failed',
      firstBadSeq: local.verifiedThroughSeq + 1,
      message: `truncated after the session ended: the gateway recorded the session as complete, but the recording stops after seq ${local.verifiedThroughSeq} without its final checkpoint`,
    };
  }
  return local;
}

/**
 * A stream the gateway cannot find, for a recording whose row it still shows: the bytes are
 * gone from its storage (issue #12). Said as "missing", with the gateway's own verdict, rather
 * than the stream's "not found". Any other failure is passed on as it is.
 */
export async function missingBytes(
  client: Pick<GatewayClient, 'getRecording'>,
  sessionId: string,
  error: unknown,
): Promise<unknown> {
  // The progressive open fetches through `account.run`, which has already turned the gateway's
  // 404 into a DesktopError by the time it lands here: both mean the bytes are not there.
  const notFound =
    (error instanceof GatewayApiError || error instanceof DesktopError) &&
    error.code === 'not_found';
  if (!notFound) return error;
  const row = await client.getRecording(sessionId).catch(() => null);
  if (row === null) return error;
  const why = row.verification?.message ?? error.message;
  return new DesktopError(
    'recording_missing',
    `The recording of session ${sessionId} is missing: the gateway lists it (${row.status}), but ${why.replace(/\.$/, '')}. Tell an admin: \`witness-gateway admin check-recordings\` lists what is missing.`,
  );
}
