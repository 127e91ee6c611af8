/**
 * Why the gateway no longer accepts a sign-in, for the messages people read (issue #12): a
 * sign-in that simply ran out ("expired") is told apart from one the gateway ended — a token
 * replayed by another holder, a revocation, a disabled account ("signed out") — because the
 * second may mean someone else had a copy of the token, and the gateway's own words say which.
 */
import { GatewayApiError, SessionExpiredError } from '../gatewayClient.ts';

export type SignInEnded =
  | { kind: 'expired' }
  /** `reason`: the gateway's own words, without its advice (we give ours). */
  | { kind: 'signed_out'; reason: string };

/** What `error` says about the sign-in, or null when it is about something else. */
export function signInEnded(error: unknown): SignInEnded | null {
  if (error instanceof SessionExpiredError) {
    // A refused renewal: the gateway's answer says whether it ran out or was ended.
    const refusal = error.cause instanceof GatewayApiError ? error.cause : null;
    return refusal && refusal.code !== 'token_expired'
      ? { kind: 'signed_out', reason: withoutAdvice(refusal.message) }
      : { kind: 'expired' };
  }
  if (!(error instanceof GatewayApiError) || error.status !== 401) return null;
  // A refused access token: revoked with its sign-in (`unauthenticated`), or still expired.
  if (error.code === 'token_expired') return { kind: 'expired' };
  if (error.code === 'unauthenticated') {
    return { kind: 'signed_out', reason: withoutAdvice(error.message) };
  }
  return null;
}

/** One sentence for a person, with what to do (`witness login URL`). */
export function describeSignInEnded(url: string, ended: SignInEnded): string {
  return ended.kind === 'expired'
    ? `Your session with ${url} expired — run \`witness login ${url}\` again.`
    : `You are signed out of ${url}: the gateway ended this sign-in (${ended.reason}). ` +
        `Run \`witness login ${url}\` to sign in again.`;
}

/** The gateway's message without its trailing "— sign in again.", which we say our own way. */
function withoutAdvice(message: string): string {
  return message.replace(/\s*—\s*sign in again\.?\s*$/i, '').replace(/\.$/, '');
}
