/**
 * What the sign-in screen says after main signed the person out. When a terminal was ended
 * just before because the account was disabled or its access revoked (issue #14), that is why
 * — and the gateway's own sentence says so; the sign-out that follows (the next call is
 * refused) would otherwise replace the terminal's message with a generic one.
 */
import type { TerminalEndReason } from '../../../main/ipc/contract.ts';

export interface AccessEnd {
  cause: 'disabled' | 'revoked';
  message: string;
  at: number;
}

/** A terminal end this recent explains a sign-out. */
const EXPLAINS_WITHIN_MS = 60_000;

export const GENERIC_SIGNED_OUT =
  'You were signed out: your session with the gateway expired or was revoked. Sign in again to continue.';

/** The access-ending part of a terminal end, if it was one. */
export function accessEndOf(reason: TerminalEndReason, at: number): AccessEnd | null {
  if (reason.kind !== 'gateway') return null;
  if (reason.cause !== 'disabled' && reason.cause !== 'revoked') return null;
  return { cause: reason.cause, message: reason.message, at };
}

export function signedOutNotice(lastEnd: AccessEnd | null, now: number): string {
  if (!lastEnd || now - lastEnd.at > EXPLAINS_WITHIN_MS) return GENERIC_SIGNED_OUT;
  const said = lastEnd.message ? ` The gateway said: “${lastEnd.message}”` : '';
  return lastEnd.cause === 'disabled'
    ? `You were signed out because your account was disabled.${said} Contact your administrator.`
    : `You were signed out after your access was revoked.${said} Sign in again to continue.`;
}
