import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signBytes, verifyBytes } from './recordingSignature.ts';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const data = Buffer.from('checkpoint ses_abc seq=42 hash=…');

describe('signBytes / verifyBytes', () => {
  it('verifies its own signature, from PEM or a KeyObject', () => {
    const signature = signBytes(privateKey, data);

    expect(signature).toHaveLength(64);
    expect(verifyBytes(publicKeyPem, data, signature)).toBe(true);
    expect(verifyBytes(createPublicKey(publicKeyPem), data, signature)).toBe(true);
  });

  it('rejects changed data, a changed signature and another key', () => {
    const signature = signBytes(privateKey, data);
    const otherKey = generateKeyPairSync('ed25519').publicKey;
    const flipped = Buffer.from(signature);
    flipped[10]! ^= 1;

    expect(verifyBytes(publicKeyPem, Buffer.from('checkpoint ses_abc seq=43'), signature)).toBe(
      false,
    );
    expect(verifyBytes(publicKeyPem, data, flipped)).toBe(false);
    expect(verifyBytes(publicKeyPem, data, signature.subarray(0, 63))).toBe(false);
    expect(verifyBytes(otherKey, data, signature)).toBe(false);
  });

  it('refuses keys that are not Ed25519', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });

    expect(() => signBytes(ec.privateKey, data)).toThrow(/Ed25519 private key/);
    expect(() => verifyBytes(ec.publicKey, data, Buffer.alloc(64))).toThrow(/Ed25519 public key/);
    expect(() => verifyBytes('not a key', data, Buffer.alloc(64))).toThrow(/not a valid PEM/);
  });
});
