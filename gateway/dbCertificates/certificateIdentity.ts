import type { X509Certificate } from 'node:crypto';

/**
 * Who and what a database client certificate is for (issue #15), written as two
 * uniformResourceIdentifier SANs, `urn:witness:user:<id>` then `urn:witness:resource:<id>`,
 * and read back from exactly that shape. Ids are limited to `[A-Za-z0-9_-]` so Node's
 * rendering of the SAN list (`URI:…, URI:…`) cannot be split two ways: a certificate with any
 * other SAN, a third name, or another order names nobody. The subject's CN carries the user
 * name for people reading logs and is never used to decide.
 */
export interface CertificateIdentity {
  userId: string;
  resourceId: string;
}

const ID = /^[A-Za-z0-9_-]{1,128}$/;
const USER_PREFIX = 'urn:witness:user:';
const RESOURCE_PREFIX = 'urn:witness:resource:';
const SAN_SHAPE = new RegExp(
  `^URI:${USER_PREFIX}([A-Za-z0-9_-]{1,128}), URI:${RESOURCE_PREFIX}([A-Za-z0-9_-]{1,128})$`,
);

export function certificateUris(identity: CertificateIdentity): string[] {
  for (const id of [identity.userId, identity.resourceId]) {
    if (!ID.test(id)) throw new Error(`The id '${id}' cannot be written into a certificate`);
  }
  return [`${USER_PREFIX}${identity.userId}`, `${RESOURCE_PREFIX}${identity.resourceId}`];
}

/** The identity a certificate names, or null when it does not have the shape above. */
export function readCertificateIdentity(
  certificate: Pick<X509Certificate, 'subjectAltName'>,
): CertificateIdentity | null {
  const match = SAN_SHAPE.exec(certificate.subjectAltName ?? '');
  if (!match?.[1] || !match[2]) return null;
  return { userId: match[1], resourceId: match[2] };
}
