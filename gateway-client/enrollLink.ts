/**
 * Enrollment links: what an admin hands a new user, carrying everything first contact needs —
 * where the gateway is, the one-time token, and the CA fingerprint to pin (so the user need not
 * compare fingerprints by eye):
 *
 *   witness://enroll?gateway=<url-encoded https URL>&token=<token>&fingerprint=<CA fingerprint>
 */
import { normalizeFingerprint } from './caPinning.ts';
import { normalizeGatewayUrl } from './gatewayUrl.ts';

export interface EnrollLink {
  gateway: string;
  token: string;
  /** Normalized (upper-case, colon-separated); null when the link carries none. */
  fingerprint: string | null;
}

export class InvalidEnrollLinkError extends Error {
  override readonly name = 'InvalidEnrollLinkError';
}

export function isEnrollLink(text: string): boolean {
  return /^witness:/i.test(text.trim());
}

export function parseEnrollLink(text: string): EnrollLink {
  const bad = (why: string) =>
    new InvalidEnrollLinkError(
      `this enrollment link is not usable: ${why}. Expected ` +
        'witness://enroll?gateway=…&token=…&fingerprint=… — ask your admin for a new one',
    );
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw bad('it is not a URL');
  }
  // `witness://enroll?…` parses with host "enroll"; `witness:enroll?…` with pathname "enroll".
  const action = url.host || url.pathname.replace(/^\/+/, '');
  if (url.protocol !== 'witness:' || action !== 'enroll')
    throw bad('it is not a witness://enroll link');
  const gateway = url.searchParams.get('gateway');
  const token = url.searchParams.get('token');
  const fingerprint = url.searchParams.get('fingerprint');
  if (!gateway) throw bad('the gateway parameter is missing');
  if (!token) throw bad('the token parameter is missing');
  let normalizedFingerprint: string | null = null;
  if (fingerprint) {
    normalizedFingerprint = normalizeFingerprint(fingerprint);
    if (!normalizedFingerprint) throw bad('the fingerprint is not a SHA-256 fingerprint');
  }
  let normalizedGateway: string;
  try {
    normalizedGateway = normalizeGatewayUrl(gateway);
  } catch (error) {
    throw bad(error instanceof Error ? error.message : String(error));
  }
  return { gateway: normalizedGateway, token, fingerprint: normalizedFingerprint };
}

/** The link the gateway's bootstrap prints for an admin to hand over. */
export function formatEnrollLink(link: {
  gateway: string;
  token: string;
  fingerprint: string;
}): string {
  const params = new URLSearchParams({
    gateway: link.gateway,
    token: link.token,
    fingerprint: link.fingerprint,
  });
  return `witness://enroll?${params}`;
}
