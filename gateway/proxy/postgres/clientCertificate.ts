/**
 * What a database client certificate presented on the PostgreSQL listener is worth (issue #15:
 * `witness db login`): the user and resource it names, or the sentence a psql user reads when
 * it is refused. Pure: the TLS socket's verdict and the certificate are passed in.
 *
 * OpenSSL verified the chain against the client CA during the handshake (`requestCert`,
 * `rejectUnauthorized: false`, so a refusal can be a PostgreSQL ErrorResponse rather than a
 * TLS alert psql shows as "sslv3 alert bad certificate"). The validity window is checked here
 * again because a resumed TLS session carries the verdict of its first handshake.
 */
import type { X509Certificate } from 'node:crypto';
import {
  type CertificateIdentity,
  readCertificateIdentity,
} from '../../dbCertificates/certificateIdentity.ts';

export interface PresentedCertificate {
  /** `TLSSocket.authorized`. */
  authorized: boolean;
  /** `TLSSocket.authorizationError`: OpenSSL's code (a string, or an Error carrying it). */
  authorizationError: unknown;
  certificate: Pick<X509Certificate, 'subjectAltName' | 'validFrom' | 'validTo'>;
}

export type CertificateVerdict =
  | { kind: 'accepted'; identity: CertificateIdentity }
  | { kind: 'refused'; message: string; hint: string };

export function judgeClientCertificate(
  presented: PresentedCertificate,
  /** The resource the client asked for (its `dbname`), for the hint. */
  asked: string,
  now: number,
): CertificateVerdict {
  const login = `witness db login ${asked}`;
  const validTo = Date.parse(presented.certificate.validTo);
  const validFrom = Date.parse(presented.certificate.validFrom);
  const code = errorCode(presented.authorizationError);
  if (code === 'CERT_HAS_EXPIRED' || (presented.authorized && !(now < validTo))) {
    return {
      kind: 'refused',
      message: `Your Witness database certificate expired at ${new Date(validTo).toISOString()}.`,
      hint: `Run \`${login}\` for a new one.`,
    };
  }
  if (code === 'CERT_NOT_YET_VALID' || (presented.authorized && now < validFrom)) {
    return {
      kind: 'refused',
      message: `Your Witness database certificate is valid only from ${new Date(validFrom).toISOString()}.`,
      hint: `Check this computer's clock, or run \`${login}\` again.`,
    };
  }
  if (!presented.authorized) {
    return {
      kind: 'refused',
      message: `The client certificate was not issued by this Witness gateway (${code ?? 'not verified'}).`,
      hint: `Run \`${login}\` and connect with the sslcert and sslkey it prints.`,
    };
  }
  const identity = readCertificateIdentity(presented.certificate);
  if (!identity) {
    return {
      kind: 'refused',
      message: 'The client certificate does not name a Witness user and resource.',
      hint: `Run \`${login}\` for a database certificate.`,
    };
  }
  return { kind: 'accepted', identity };
}

function errorCode(error: unknown): string | undefined {
  if (error === null || error === undefined) return undefined;
  if (typeof error === 'string') return error;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : String(error);
}
