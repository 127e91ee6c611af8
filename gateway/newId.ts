import { randomBytes } from 'node:crypto';

/**
 * Opaque ids with a type prefix (`usr_`, `res_`, `grt_`, `ses_`), 120 random bits in lower-case
 * base32 so they are safe as an SSH user name or a PostgreSQL user name (session ids are used
 * as both by the proxies).
 */
export function newId(prefix: 'usr' | 'res' | 'grt' | 'ses' | 'fam' | 'req'): string {
  return `${prefix}_${encodeBase32(randomBytes(15))}`;
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567';

function encodeBase32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31];
  return out;
}
