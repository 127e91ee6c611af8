import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openSecret, sealSecret } from './secretBox.ts';

const masterKey = randomBytes(32);
const aad = 'resource:res_abc:secret';
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The same string with the character at `index` replaced by a different base64url one. */
function withCharChanged(text: string, index: number): string {
  const current = text[index]!;
  const replacement = BASE64URL[(BASE64URL.indexOf(current) + 1) % BASE64URL.length]!;
  return `${text.slice(0, index)}${replacement}${text.slice(index + 1)}`;
}

describe('sealSecret / openSecret', () => {
  it.each([
    ['a password', 'hunter2'],
    ['an empty string', ''],
    ['non-ASCII text', 'pässwörd 🔑 密码'],
    ['a private key', `-----BEGIN OPENSSH PRIVATE KEY-----\n${'A'.repeat(3000)}\n`],
  ])('round-trips %s', (_, plaintext) => {
    const sealed = sealSecret(masterKey, plaintext, aad);

    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{22}$/);
    expect(openSecret(masterKey, sealed, aad)).toBe(plaintext);
  });

  it('does not contain the plaintext and differs on every seal', () => {
    const first = sealSecret(masterKey, 'hunter2hunter2', aad);
    const second = sealSecret(masterKey, 'hunter2hunter2', aad);

    expect(first).not.toBe(second);
    expect(first).not.toContain(Buffer.from('hunter2hunter2').toString('base64url'));
  });

  it.each([
    [1, 'iv'],
    [2, 'ciphertext'],
    [3, 'tag'],
  ])('rejects a change to any character of the %s', (partIndex) => {
    const sealed = sealSecret(masterKey, 'correct horse battery staple', aad);
    const parts = sealed.split('.');
    const part = parts[partIndex]!;
    expect(part.length).toBeGreaterThan(0);

    for (let index = 0; index < part.length; index++) {
      const tampered = [...parts];
      tampered[partIndex] = withCharChanged(part, index);
      expect(() => openSecret(masterKey, tampered.join('.'), aad), `char ${index}`).toThrow(
        /could not be decrypted|malformed/,
      );
    }
  });

  it('rejects a truncated or extended value', () => {
    const sealed = sealSecret(masterKey, 'secret', aad);
    const [, iv, ciphertext, tag] = sealed.split('.');

    for (const broken of [
      sealed.slice(0, -1),
      `${sealed}.x`,
      `v1.${iv}.${ciphertext}`,
      `v1.${iv}.${ciphertext}x.${tag}`,
      `v1.${iv}=.${ciphertext}.${tag}`,
      '',
    ]) {
      expect(() => openSecret(masterKey, broken, aad), broken).toThrow(
        /could not be decrypted|malformed/,
      );
    }
  });

  it('rejects a value bound to other associated data', () => {
    const sealed = sealSecret(masterKey, 'secret', 'resource:res_abc:secret');

    expect(() => openSecret(masterKey, sealed, 'resource:res_other:secret')).toThrow(
      /secret for resource:res_other:secret could not be decrypted/,
    );
  });

  it('rejects the wrong master key', () => {
    const sealed = sealSecret(masterKey, 'secret', aad);

    expect(() => openSecret(randomBytes(32), sealed, aad)).toThrow(/master key is not the one/);
  });

  it('names an unknown version rather than calling it corrupt', () => {
    const sealed = sealSecret(masterKey, 'secret', aad);

    expect(() => openSecret(masterKey, sealed.replace(/^v1\./, 'v2.'), aad)).toThrow(
      /format v2, which this gateway cannot read/,
    );
    expect(() => openSecret(masterKey, sealed.replace(/^v1\./, 'x1.'), aad)).toThrow(/malformed/);
  });

  it('requires a 32-byte master key', () => {
    expect(() => sealSecret(randomBytes(16), 'secret', aad)).toThrow(/must be 32 bytes, got 16/);
    const sealed = sealSecret(masterKey, 'secret', aad);
    expect(() => openSecret(Buffer.alloc(0), sealed, aad)).toThrow(/must be 32 bytes/);
  });
});
