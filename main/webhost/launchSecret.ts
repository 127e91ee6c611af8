/** The per-launch secret as the browser presents it: a subprotocol `witness.secret.<base64url>`. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { SECRET_SUBPROTOCOL_PREFIX } from './protocol.ts';

/** Picks the secret out of a Sec-WebSocket-Protocol header; null when none was offered. */
export function secretFromProtocols(header: string | undefined): string | null {
  if (!header) return null;
  for (const offered of header.split(',')) {
    const value = offered.trim();
    if (value.startsWith(SECRET_SUBPROTOCOL_PREFIX))
      return value.slice(SECRET_SUBPROTOCOL_PREFIX.length);
  }
  return null;
}

/**
 * Constant-time comparison. Both sides are hashed first so the comparison has equal lengths and
 * the time taken says nothing about the secret's length either.
 */
export function launchSecretMatches(offered: string | null, secret: Buffer): boolean {
  if (offered === null) return false;
  const digest = (b: Buffer) => createHash('sha256').update(b).digest();
  return timingSafeEqual(
    digest(Buffer.from(offered, 'utf8')),
    digest(Buffer.from(secret.toString('base64url'), 'utf8')),
  );
}
