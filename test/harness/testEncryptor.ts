import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/** The encryptor a DesktopPlatform takes, plus what tests that read sealed files need. */
export interface TestEncryptor {
  isAvailable(): boolean;
  encrypt(plain: string): Buffer;
  decrypt(sealed: Buffer): string;
}

/**
 * Stands in for Electron's safeStorage, which cannot run here: AES-256-GCM under a key that
 * lives only in this object, so a test can read back what the desktop sealed with it.
 * `available: false` plays a machine where safeStorage has no backend.
 */
export function testEncryptor(available = true): TestEncryptor {
  const key = randomBytes(32);
  return {
    isAvailable: () => available,
    encrypt(plain: string): Buffer {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]);
    },
    decrypt(sealed: Buffer): string {
      const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12));
      decipher.setAuthTag(sealed.subarray(12, 28));
      return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString();
    },
  };
}
