import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Envelope for secrets at rest (target passwords and keys): AES-256-GCM, serialised as
 * `v1.<iv>.<ciphertext>.<tag>` with each part in unpadded base64url.
 *
 * The associated data names the place the secret belongs (e.g. `resource:<id>:secret`); it is
 * authenticated but not stored, so a blob copied into another row fails to open there.
 *
 * The AES key is derived from the master key with HKDF rather than being the master key
 * itself, so the master key can later key other things (token MACs, say) without two
 * algorithms ever sharing one key.
 */

const VERSION = 'v1';
const IV_BYTES = 12; // the GCM nonce size that needs no extra GHASH pass (NIST SP 800-38D §8.2)
const TAG_BYTES = 16;
const MASTER_KEY_BYTES = 32;
const HKDF_INFO = 'witness secretBox v1 aes-256-gcm';

export function sealSecret(
  masterKey: Uint8Array,
  plaintext: string,
  associatedData: string,
): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(masterKey), iv, {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(Buffer.from(associatedData, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, iv, ciphertext, tag]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join('.');
}

export function openSecret(masterKey: Uint8Array, sealed: string, associatedData: string): string {
  const parts = sealed.split('.');
  const version = parts[0] ?? '';
  if (version !== VERSION) {
    if (/^v\d+$/.test(version) && parts.length > 1) {
      throw new Error(
        `The secret for ${associatedData} is in format ${version}, which this gateway cannot read (it reads ${VERSION}); upgrade the gateway`,
      );
    }
    throw malformed(associatedData);
  }
  if (parts.length !== 4) throw malformed(associatedData);
  const iv = decodeBase64Url(parts[1]!);
  const ciphertext = decodeBase64Url(parts[2]!);
  const tag = decodeBase64Url(parts[3]!);
  if (!iv || !ciphertext || !tag || iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
    throw malformed(associatedData);
  }

  const decipher = createDecipheriv('aes-256-gcm', deriveKey(masterKey), iv, {
    authTagLength: TAG_BYTES,
  });
  decipher.setAuthTag(tag);
  decipher.setAAD(Buffer.from(associatedData, 'utf8'));
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch (error) {
    // GCM cannot tell these apart, so neither can the message.
    throw new Error(
      `The secret for ${associatedData} could not be decrypted: the master key is not the one it was sealed with, or the stored value was altered or copied from another record. Check WITNESS_MASTER_KEY / master.key, or set the secret again.`,
      { cause: error },
    );
  }
}

function deriveKey(masterKey: Uint8Array): Buffer {
  if (masterKey.length !== MASTER_KEY_BYTES) {
    throw new Error(`The master key must be ${MASTER_KEY_BYTES} bytes, got ${masterKey.length}`);
  }
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), HKDF_INFO, 32));
}

/**
 * Only the canonical encoding is accepted: Node's decoder ignores stray characters and the
 * spare low bits of the last character, so without the round-trip check two different
 * strings would open to the same secret.
 */
function decodeBase64Url(text: string): Buffer | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}

function malformed(associatedData: string): Error {
  return new Error(
    `The stored secret for ${associatedData} is malformed (expected ${VERSION}.<iv>.<ciphertext>.<tag>); set the secret again`,
  );
}
