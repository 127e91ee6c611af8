import { createHash, randomBytes } from 'node:crypto';

/**
 * Bearer secrets (access and refresh tokens, connect tickets, enrollment tokens) are 256
 * random bits with a type prefix, so a leaked string says what it is (and secret scanners can
 * match it). Only the SHA-256 of a secret is ever stored: a copy of the database grants nothing.
 */
export type TokenPrefix = 'wat' | 'wrt' | 'wtk' | 'wen';

export function newOpaqueToken(prefix: TokenPrefix): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashOpaqueToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function hasPrefix(token: string, prefix: TokenPrefix): boolean {
  return token.startsWith(`${prefix}_`) && token.length === prefix.length + 1 + 43;
}
