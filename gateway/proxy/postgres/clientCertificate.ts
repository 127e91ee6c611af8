/**
 * What a database client certificate presented on the PostgreSQL listener is worth (issue #15:
 * `witness db login`): the user and resource it names, or the sentence a psql user reads when
 * it is refused. Pure: the certificate and the client CA are passed in.
 *
 * The TLS handshake proved that the client holds the certificate's key (CertificateVerify).
 * Whether the client CA issued it is checked here, by OpenSSL through X509Certificate: a
 * TLSSocket made outside a tls.Server never gets Node's `authorized` verdict (only tls.Server
 * fills it in), and checking here also means a resumed TLS session cannot carry an old
 * verdict past the certificate's end. The chain is one level by construction: the client CA
 * signs leaves only (pathLen 0), so issuer, signature, validity and purpose are the whole check.
 * A refusal is a PostgreSQL ErrorResponse rather than a TLS alert psql would show as "sslv3
 * alert bad certificate".
 */
import type { X509Certificate } from 'node:crypto';
import {
  type CertificateIdentity,
  readCertificateIdentity,
} from '../../dbCertificates/certificateIdentity.ts';

const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export type PresentedCertificate = Pick<
  X509Certificate,
  'subjectAltName' | 'validFrom' | 'validTo' | 'ca' | 'keyUsage' | 'checkIssued' | 'verify'
>;

export type CertificateVerdict =
  | { kind: 'accepted'; identity: CertificateIdentity }
  | { kind: 'refused'; message: string; hint: string };

export function judgeClientCertificate(
  certificate: PresentedCertificate,
  clientCa: X509Certificate,
  /** The resource the client asked for (its `dbname`), for the hint. */
  asked: string,
  now: number,
): CertificateVerdict {
  const login = `witness db login ${asked}`;
  const issuedHere =
    certificate.checkIssued(clientCa) &&
    certificate.verify(clientCa.publicKey) &&
    !certificate.ca &&
    (certificate.keyUsage ?? []).includes(CLIENT_AUTH);
  if (!issuedHere) {
    return {
      kind: 'refused',
      message: 'The client certificate was not issued by this Witness gateway.',
      hint: `Run \`${login}\` and connect with the sslcert and sslkey it prints.`,
    };
  }
  const validTo = Date.parse(certificate.validTo);
  const validFrom = Date.parse(certificate.validFrom);
  if (!(now < validTo)) {
    return {
      kind: 'refused',
      message: `Your Witness database certificate expired at ${new Date(validTo).toISOString()}.`,
      hint: `Run \`${login}\` for a new one.`,
    };
  }
  if (now < validFrom) {
    return {
      kind: 'refused',
      message: `Your Witness database certificate is valid only from ${new Date(validFrom).toISOString()}.`,
      hint: `Check this computer's clock, or run \`${login}\` again.`,
    };
  }
  const identity = readCertificateIdentity(certificate);
  if (!identity) {
    return {
      kind: 'refused',
      message: 'The client certificate does not name a Witness user and resource.',
      hint: `Run \`${login}\` for a database certificate.`,
    };
  }
  return { kind: 'accepted', identity };
}
