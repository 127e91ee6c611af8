/**
 * Secrets in one JSON file whose values are encrypted by the platform (Electron `safeStorage`:
 * DPAPI on Windows, the Keychain-held key on macOS, libsecret/kwallet or a fixed key on Linux).
 * The file is 0600 in a 0700 directory and replaced atomically, like the CLI's credentials file;
 * the difference is that a copy of the file alone does not give the tokens away.
 */
import { type CredentialStore, FileCredentialStore } from '../../gateway-client/credentialStore.ts';

/** The slice of Electron's `safeStorage` the store needs (DesktopPlatform.encryptor). */
export interface SecretEncryptor {
  isAvailable(): boolean;
  /**
   * Linux only, Electron `safeStorage.getSelectedStorageBackend()`: 'basic_text' means a key
   * hard-coded in Chromium, i.e. no protection, so the store refuses it and keeps memory only.
   */
  selectedBackend?(): string;
  encrypt(plain: string): Buffer;
  decrypt(encrypted: Buffer): string;
}

/** The CLI's file store (same file layout, 0600, atomic replace) holding base64 sealed values. */
export class EncryptedFileSecretStore implements CredentialStore {
  readonly describe: string;
  private readonly sealedFile: FileCredentialStore;

  constructor(
    readonly filePath: string,
    private readonly encryptor: SecretEncryptor,
  ) {
    this.describe = `encrypted file ${filePath}`;
    this.sealedFile = new FileCredentialStore(filePath, undefined, 'empty');
  }

  async get(account: string): Promise<string | null> {
    const sealed = await this.sealedFile.get(account);
    if (sealed === null) return null;
    try {
      return this.encryptor.decrypt(Buffer.from(sealed, 'base64'));
    } catch {
      // Encrypted under another OS account or a reset key: unusable, so treat it as absent —
      // the person signs in again rather than the app failing to start.
      return null;
    }
  }

  async set(account: string, secret: string): Promise<void> {
    await this.sealedFile.set(account, this.encryptor.encrypt(secret).toString('base64'));
  }

  delete(account: string): Promise<boolean> {
    return this.sealedFile.delete(account);
  }
}
