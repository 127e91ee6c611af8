import { describe, expect, it } from 'vitest';
import { judgeClientCertificate, type PresentedCertificate } from './clientCertificate.ts';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const good: PresentedCertificate = {
  authorized: true,
  authorizationError: null,
  certificate: {
    subjectAltName: 'URI:urn:witness:user:usr_a, URI:urn:witness:resource:res_b',
    validFrom: 'Dec  7 11:00:00 2026 GMT',
    validTo: 'Dec  7 13:00:00 2026 GMT',
  },
};

describe('judgeClientCertificate', () => {
  it('accepts a verified, current certificate and reads who and what it is for', () => {
    expect(judgeClientCertificate(good, 'db-main', NOW)).toEqual({
      kind: 'accepted',
      identity: { userId: 'usr_a', resourceId: 'res_b' },
    });
  });

  it('says when an expired certificate expired and what to run', () => {
    const verdict = judgeClientCertificate(
      { ...good, authorized: false, authorizationError: 'CERT_HAS_EXPIRED' },
      'db-main',
      NOW,
    );
    expect(verdict).toEqual({
      kind: 'refused',
      message: 'Your Witness database certificate expired at 2026-12-07T13:00:00.000Z.',
      hint: 'Run `witness db login db-main` for a new one.',
    });
  });

  it('refuses a certificate past its end even when the TLS verdict came from a resumed session', () => {
    const verdict = judgeClientCertificate(good, 'db-main', Date.parse('2026-12-07T13:00:01Z'));
    expect(verdict.kind === 'refused' && verdict.message).toMatch(/expired at 2026-12-07T13:00/);
  });

  it('refuses a certificate of another CA, naming OpenSSL’s reason', () => {
    const verdict = judgeClientCertificate(
      {
        ...good,
        authorized: false,
        authorizationError: Object.assign(new Error('x'), {
          code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        }),
      },
      'db-main',
      NOW,
    );
    expect(verdict).toMatchObject({
      kind: 'refused',
      message:
        'The client certificate was not issued by this Witness gateway (UNABLE_TO_VERIFY_LEAF_SIGNATURE).',
    });
  });

  it.each([
    ['no SAN', undefined],
    ['the names swapped', 'URI:urn:witness:resource:res_b, URI:urn:witness:user:usr_a'],
    ['a third name', 'URI:urn:witness:user:usr_a, URI:urn:witness:resource:res_b, DNS:x'],
    ['a comma inside an id', 'URI:urn:witness:user:usr_a, URI:urn:witness:resource:res_b, c'],
  ])('names nobody with %s', (_, subjectAltName) => {
    const verdict = judgeClientCertificate(
      { ...good, certificate: { ...good.certificate, subjectAltName } },
      'db-main',
      NOW,
    );
    expect(verdict).toMatchObject({
      kind: 'refused',
      message: 'The client certificate does not name a Witness user and resource.',
    });
  });
});
