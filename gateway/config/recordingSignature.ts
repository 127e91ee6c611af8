import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto';

/** Ed25519 signatures over recording checkpoints (and anything else the recorder signs). */

const SIGNATURE_BYTES = 64; // RFC 8032 §5.1.6

export function signBytes(privateKey: KeyObject, data: Uint8Array): Buffer {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519') {
    throw new Error('The recording key must be an Ed25519 private key');
  }
  // Ed25519 hashes internally; the digest argument must be null (RFC 8032 PureEdDSA).
  return sign(null, data, privateKey);
}

/** True only for a valid signature; a malformed signature is simply not valid. */
export function verifyBytes(
  publicKey: string | KeyObject,
  data: Uint8Array,
  signature: Uint8Array,
): boolean {
  const key = typeof publicKey === 'string' ? parsePublicKey(publicKey) : publicKey;
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') {
    throw new Error('Recording signatures are checked with an Ed25519 public key');
  }
  if (signature.length !== SIGNATURE_BYTES) return false;
  return verify(null, data, key, signature);
}

function parsePublicKey(pem: string): KeyObject {
  try {
    return createPublicKey(pem);
  } catch (error) {
    throw new Error('The recording public key is not a valid PEM public key', { cause: error });
  }
}
