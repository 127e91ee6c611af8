import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  issueClientCertificate,
  issueServerCertificate,
} from '../../config/tlsCertificates.ts';
import { judgeClientCertificate } from './clientCertificate.ts';

const HOUR = 3600_000;
const NOW = Date.now();
const clientCa = createCertificateAuthority({ commonName: 'Witness Client CA' });
const clientCaCert = new X509Certificate(clientCa.certPem);
const publicKeyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  .publicKey.export({ type: 'spki', format: 'pem' })
  .toString();
const URIS = ['urn:witness:user:usr_a', 'urn:witness:resource:res_b'];

function certificate(
  options: { ca?: typeof clientCa; uris?: string[]; from?: number; to?: number } = {},
) {
  const issued = issueClientCertificate(options.ca ?? clientCa, {
    publicKeyPem,
    commonName: 'alice',
    uris: options.uris ?? URIS,
    now: new Date(options.from ?? NOW - HOUR),
    notAfter: new Date(options.to ?? NOW + HOUR),
  });
  return new X509Certificate(issued.certPem);
}

describe('judgeClientCertificate', () => {
  it('accepts a current certificate of the client CA and reads who and what it is for', () => {
    expect(judgeClientCertificate(certificate(), clientCaCert, 'db-main', NOW)).toEqual({
      kind: 'accepted',
      identity: { userId: 'usr_a', resourceId: 'res_b' },
    });
  });

  it('says when an expired certificate expired and what to run', () => {
    const expired = certificate({ from: NOW - 2 * HOUR, to: NOW - HOUR });
    expect(judgeClientCertificate(expired, clientCaCert, 'db-main', NOW)).toEqual({
      kind: 'refused',
      message: `Your Witness database certificate expired at ${new Date(Date.parse(expired.validTo)).toISOString()}.`,
      hint: 'Run `witness db login db-main` for a new one.',
    });
  });

  it('judges validity by the time given, not by what a TLS handshake once decided', () => {
    const verdict = judgeClientCertificate(certificate(), clientCaCert, 'db-main', NOW + 2 * HOUR);
    expect(verdict.kind === 'refused' && verdict.message).toMatch(
      /^Your Witness database certificate expired at/,
    );
  });

  it('refuses a certificate of another CA, and the gateway’s own server certificate', () => {
    const foreign = certificate({ ca: createCertificateAuthority() });
    expect(judgeClientCertificate(foreign, clientCaCert, 'db-main', NOW)).toMatchObject({
      kind: 'refused',
      message: 'The client certificate was not issued by this Witness gateway.',
      hint: 'Run `witness db login db-main` and connect with the sslcert and sslkey it prints.',
    });
    // Signed by the client CA but for serverAuth: no database credential.
    const server = new X509Certificate(
      issueServerCertificate(clientCa, { hostnames: [], ipAddresses: [] }).certPem,
    );
    expect(judgeClientCertificate(server, clientCaCert, 'db-main', NOW).kind).toBe('refused');
  });

  it.each([
    ['the names swapped', [URIS[1] ?? '', URIS[0] ?? '']],
    ['a third name', [...URIS, 'urn:witness:resource:res_c']],
    ['one name only', [URIS[0] ?? '']],
  ])('names nobody with %s', (_, uris) => {
    expect(
      judgeClientCertificate(certificate({ uris }), clientCaCert, 'db-main', NOW),
    ).toMatchObject({
      kind: 'refused',
      message: 'The client certificate does not name a Witness user and resource.',
    });
  });
});
