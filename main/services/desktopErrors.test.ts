import { describe, expect, it } from 'vitest';
import { CaMismatchError } from '../../gateway-client/caPinning.ts';
import { InvalidEnrollLinkError } from '../../gateway-client/enrollLink.ts';
import {
  GatewayApiError,
  GatewayConnectionError,
  GatewayProtocolError,
  NotSignedInError,
  SessionExpiredError,
} from '../../gateway-client/gatewayClient.ts';
import { DesktopError } from '../ipc/contract.ts';
import { toDesktopError } from './desktopErrors.ts';

const url = 'https://gw.example:8443';
const api = (
  status: number,
  code: ConstructorParameters<typeof GatewayApiError>[1]['code'],
  message = 'Said the gateway.',
  retryAfter?: string,
) => new GatewayApiError(status, { code, message, ...(retryAfter ? { retryAfter } : {}) });

describe('toDesktopError', () => {
  it.each([
    [api(401, 'invalid_credentials'), 'sign-in', 'wrong_credentials'],
    [api(401, 'totp_required'), 'sign-in', 'totp_required'],
    [api(401, 'unauthenticated'), 'sign-in', 'wrong_credentials'],
    [api(401, 'unauthenticated'), 'signed-in', 'session_expired'],
    [api(403, 'forbidden'), 'signed-in', 'forbidden'],
    [api(403, 'no_active_grant'), 'signed-in', 'forbidden'],
    [api(403, 'access_request_required'), 'signed-in', 'forbidden'],
    [api(404, 'not_found'), 'signed-in', 'not_found'],
    [api(410, 'recording_missing'), 'signed-in', 'recording_missing'],
    [api(409, 'conflict'), 'signed-in', 'conflict'],
    [api(400, 'bad_request'), 'signed-in', 'invalid_request'],
    [api(500, 'internal'), 'signed-in', 'gateway_error'],
    [new SessionExpiredError(url), 'signed-in', 'session_expired'],
    [new NotSignedInError(url), 'signed-in', 'not_signed_in'],
    [
      new InvalidEnrollLinkError('this enrollment link is not usable'),
      'sign-in',
      'invalid_request',
    ],
    [
      new GatewayProtocolError(url, 'not_json', 'the gateway sent HTML'),
      'signed-in',
      'gateway_error',
    ],
    [
      new GatewayConnectionError(url, 'refused', 'ECONNREFUSED', 'cannot reach it'),
      'signed-in',
      'gateway_unreachable',
    ],
    [
      new GatewayConnectionError(url, 'tls', 'SELF_SIGNED_CERT_IN_CHAIN', 'bad cert'),
      'signed-in',
      'gateway_certificate_mismatch',
    ],
    [new CaMismatchError(url, 'AA:BB', 'CC:DD'), 'signed-in', 'gateway_certificate_mismatch'],
  ] as const)('%s (%s) → %s', (error, setting, code) => {
    const mapped = toDesktopError(error, setting);
    expect(mapped).toBeInstanceOf(DesktopError);
    expect(mapped.code).toBe(code);
    expect(mapped.message.length).toBeGreaterThan(5);
  });

  it('puts the retry time into rate-limit messages that lack it', () => {
    const at = '2026-11-28T02:15:00.000Z';
    expect(toDesktopError(api(429, 'rate_limited', 'Too many attempts.', at)).message).toBe(
      `Too many attempts. Try again after ${at}.`,
    );
    const locked = toDesktopError(api(429, 'account_locked', `Locked until ${at}.`, at));
    expect(locked).toMatchObject({ code: 'rate_limited', message: `Locked until ${at}.` });
  });

  it('names both fingerprints when the CA changed', () => {
    const mapped = toDesktopError(new CaMismatchError(url, 'AA:BB', 'CC:DD'));
    expect(mapped.message).toContain('AA:BB');
    expect(mapped.message).toContain('CC:DD');
    expect(mapped.message).toMatch(/forget this gateway and pin it again/);
  });

  it('rethrows what it does not recognise, so its text never reaches the renderer', () => {
    const unexpected = new Error('internal detail /home/user/secret');
    expect(() => toDesktopError(unexpected)).toThrow(unexpected);
  });
});
