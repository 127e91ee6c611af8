/**
 * An expired sign-in and one the gateway ended read differently (#12), from the errors the
 * client really produces.
 */
import { describe, expect, it } from 'vitest';
import { GatewayApiError, SessionExpiredError } from '../gatewayClient.ts';
import { describeSignInEnded, signInEnded } from './signInEnded.ts';

const URL = 'https://gw.test:8443';
const refused = (code: 'unauthenticated' | 'token_expired', message: string) =>
  new GatewayApiError(401, { code, message });

describe('signInEnded', () => {
  it('says "signed out", in the gateway\'s words, when a renewal was refused as a replay', () => {
    const replay = new SessionExpiredError(URL, {
      cause: refused(
        'unauthenticated',
        'This sign-in was already refreshed elsewhere, so it has been ended for safety — sign in again.',
      ),
    });
    const ended = signInEnded(replay);
    expect(ended).toEqual({
      kind: 'signed_out',
      reason: 'This sign-in was already refreshed elsewhere, so it has been ended for safety',
    });
    expect(describeSignInEnded(URL, ended!)).toBe(
      `You are signed out of ${URL}: the gateway ended this sign-in (This sign-in was already ` +
        `refreshed elsewhere, so it has been ended for safety). Run \`witness login ${URL}\` to sign in again.`,
    );
  });

  it('says "signed out" for a revoked access token, and "expired" for one that ran out', () => {
    expect(
      signInEnded(refused('unauthenticated', 'The access token is not valid — sign in again.')),
    ).toEqual({ kind: 'signed_out', reason: 'The access token is not valid' });
    const ranOut = signInEnded(
      new SessionExpiredError(URL, {
        cause: refused('token_expired', 'Your sign-in has expired — sign in again.'),
      }),
    );
    expect(ranOut).toEqual({ kind: 'expired' });
    expect(describeSignInEnded(URL, ranOut!)).toBe(
      `Your session with ${URL} expired — run \`witness login ${URL}\` again.`,
    );
  });

  it('is null for errors that are not about the sign-in', () => {
    expect(
      signInEnded(new GatewayApiError(403, { code: 'forbidden', message: 'admins only' })),
    ).toBeNull();
    expect(signInEnded(new Error('ECONNREFUSED'))).toBeNull();
  });
});
