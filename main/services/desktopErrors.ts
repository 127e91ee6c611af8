/**
 * Turns what gateway-client throws into the contract's `DesktopError`, with a sentence a person
 * can act on (CONVENTIONS.md, "Errors users can act on"). Anything not recognised is rethrown
 * unchanged: the dispatcher logs it and the renderer gets a generic 'internal' error, so an
 * unexpected message (which could carry anything) never reaches the UI.
 */
import { CaDiscoveryError, CaMismatchError } from '../../gateway-client/caPinning.ts';
import { InvalidEnrollLinkError } from '../../gateway-client/enrollLink.ts';
import {
  GatewayApiError,
  GatewayConnectionError,
  GatewayProtocolError,
  InvalidRequestError,
  NotSignedInError,
  SessionExpiredError,
} from '../../gateway-client/gatewayClient.ts';
import { InvalidGatewayUrlError } from '../../gateway-client/gatewayUrl.ts';
import {
  BrowserSignInCancelledError,
  BrowserSignInError,
} from '../../gateway-client/oidc/browserSignIn.ts';
import { InvalidRecordingKeyError } from '../../shared/recording/verifyRecording.ts';
import { DesktopError } from '../ipc/contract.ts';
import { sentenceOfApiIssues } from '../ipc/invalidInputSentence.ts';

/** Sign-in calls read a 401 as "wrong credentials"; everywhere else it means "signed out". */
export type ErrorSetting = 'sign-in' | 'signed-in';

export function toDesktopError(error: unknown, setting: ErrorSetting = 'signed-in'): DesktopError {
  if (error instanceof DesktopError) return error;
  if (error instanceof CaMismatchError) return certificateMismatch(error);
  if (error instanceof GatewayConnectionError) {
    if (error.reason === 'tls') {
      return new DesktopError(
        'gateway_certificate_mismatch',
        `The gateway at ${error.baseUrl} presented a certificate that its pinned CA did not issue, ` +
          'so nothing was sent to it. This can mean someone is intercepting the connection, or ' +
          'that the gateway was re-installed with a new CA. Check with your admin; if it was ' +
          're-installed, forget this gateway and pin it again.',
      );
    }
    return new DesktopError('gateway_unreachable', capitalize(error.message));
  }
  if (error instanceof GatewayProtocolError) {
    return new DesktopError('gateway_error', capitalize(error.message));
  }
  if (error instanceof SessionExpiredError) {
    return new DesktopError(
      'session_expired',
      'Your session with the gateway ended — sign in again.',
    );
  }
  if (error instanceof NotSignedInError) {
    return new DesktopError('not_signed_in', 'You are not signed in — sign in first.');
  }
  if (error instanceof InvalidRequestError) {
    return new DesktopError('invalid_request', sentenceOfApiIssues(error.issues));
  }
  if (error instanceof InvalidEnrollLinkError || error instanceof InvalidGatewayUrlError) {
    return new DesktopError('invalid_request', capitalize(error.message));
  }
  if (error instanceof CaDiscoveryError || error instanceof InvalidRecordingKeyError) {
    return new DesktopError('gateway_error', capitalize(error.message));
  }
  if (error instanceof GatewayApiError) return fromApiError(error, setting);
  // The browser came back refused (the provider's or the gateway's sentence), with another
  // sign-in's state, or not at all: each message already says what to do (issue #18).
  if (error instanceof BrowserSignInCancelledError) {
    return new DesktopError('cancelled', error.message);
  }
  if (error instanceof BrowserSignInError) return new DesktopError('forbidden', error.message);
  throw error;
}

/** Runs `work`, rethrowing gateway-client failures as `DesktopError`s. */
export async function asDesktopErrors<T>(
  work: () => Promise<T>,
  setting: ErrorSetting = 'signed-in',
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw toDesktopError(error, setting);
  }
}

export function certificateMismatch(error: CaMismatchError): DesktopError {
  return new DesktopError(
    'gateway_certificate_mismatch',
    `The gateway at ${error.baseUrl} now presents a CA certificate with fingerprint ` +
      `${error.presentedFingerprint}, but ${error.pinnedFingerprint} is pinned. This can mean ` +
      'someone is intercepting the connection, or that the gateway was re-installed with a new ' +
      'CA. Nothing was sent to it. Check the new fingerprint with your admin; if it is right, ' +
      'forget this gateway and pin it again.',
  );
}

function fromApiError(error: GatewayApiError, setting: ErrorSetting): DesktopError {
  const message = error.message;
  switch (error.code) {
    case 'invalid_credentials':
      return new DesktopError('wrong_credentials', message);
    case 'totp_required':
      return new DesktopError('totp_required', message);
    case 'rate_limited':
    case 'account_locked':
      return new DesktopError('rate_limited', withRetryTime(message, error.retryAfter));
    case 'unauthenticated':
    case 'token_expired':
      return setting === 'sign-in'
        ? new DesktopError('wrong_credentials', message)
        : new DesktopError('session_expired', message);
    case 'forbidden':
    case 'no_active_grant':
    case 'access_request_required':
      return new DesktopError('forbidden', message);
    case 'not_found':
      return new DesktopError('not_found', message);
    case 'recording_missing':
      return new DesktopError('recording_missing', message);
    case 'conflict':
      return new DesktopError('conflict', message);
    case 'bad_request':
    case 'payload_too_large':
    case 'unsupported_media_type': {
      // The gateway's message names zod's wording when it has issues; say them per field.
      return new DesktopError(
        'invalid_request',
        error.issues.length > 0 ? sentenceOfApiIssues(error.issues) : message,
      );
    }
    case 'internal':
      return new DesktopError(
        'gateway_error',
        `The gateway failed to answer (${message}) — try again, or tell its admin.`,
      );
    case 'unavailable':
      // A replica draining or cut off from its database (issue #17): another one may answer.
      return new DesktopError('gateway_error', `${message} Try again in a moment.`);
  }
}

/** The gateway's message names an ISO time already when it knows one; add it if not. */
function withRetryTime(message: string, retryAfter: string | undefined): string {
  if (!retryAfter || message.includes(retryAfter)) return message;
  return `${message} Try again after ${retryAfter}.`;
}

function capitalize(text: string): string {
  return text.length > 0 ? text[0]!.toUpperCase() + text.slice(1) : text;
}
