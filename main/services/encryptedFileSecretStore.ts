/**
 * Secrets in one JSON file whose values are encrypted by the platform (Electron `safeStorage`:
 * DPAPI on Windows, the Keychain-held key on macOS, libsecret/kwallet or a fixed key on Linux).
 * The file is 0600 in a 0700 directory and replaced atomically, like the CLI's credentials file;
 * the difference is that a copy of the file alone does not give the tokens away.
 */
import { promises as fs } from 'node:fs';
import type { CredentialStore } from '../../gateway-client/credentialStore.ts';
import { writeFileAtomic } from '../../gateway-client/credentialStore.ts';

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

interface EncryptedSecretsFile {
  version: 1;
  /** account → base64 of the encryptor's output. */
  secrets: Record<string, string>;
}

export class EncryptedFileSecretStore implements CredentialStore {
  readonly describe: string;

  constructor(
    readonly filePath: string,
    private readonly encryptor: SecretEncryptor,
  ) {
    this.describe = `encrypted file ${filePath}`;
  }

  async get(account: string): Promise<string | null> {
    const file = await this.read();
    const sealed = Object.hasOwn(file.secrets, account) ? file.secrets[account] : undefined;
    if (sealed === undefined) return null;
    try {
      return this.encryptor.decrypt(Buffer.from(sealed, 'base64'));
    } catch {
      // Encrypted under another OS account or a reset key: unusable, so treat it as absent —
      // the person signs in again rather than the app failing to start.
      return null;
    }
  }

  async set(account: string, secret: string): Promise<void> {
    const file = await this.read();
    file.secrets[account] = this.encryptor.encrypt(secret).toString('base64');
    await this.write(file);
  }

  async delete(account: string): Promise<boolean> {
    const file = await this.read();
    if (!Object.hasOwn(file.secrets, account)) return false;
    delete file.secrets[account];
    await this.write(file);
    return true;
  }

  private async read(): Promise<EncryptedSecretsFile> {
    let text: string;
    try {
      text = await fs.readFile(this.filePath, 'utf8');
    } catch (error) {
      if (isNotFound(error)) return { version: 1, secrets: {} };
      throw error;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Nothing in it can be recovered without valid JSON; starting over only costs a sign-in.
      return { version: 1, secrets: {} };
    }
    const secrets =
      typeof parsed === 'object' && parsed !== null && 'secrets' in parsed ? parsed.secrets : null;
    const clean: Record<string, string> = {};
    if (typeof secrets === 'object' && secrets !== null) {
      for (const [account, value] of Object.entries(secrets)) {
        if (typeof value === 'string') clean[account] = value;
      }
    }
    return { version: 1, secrets: clean };
  }

  private async write(file: EncryptedSecretsFile): Promise<void> {
    await writeFileAtomic(this.filePath, `${JSON.stringify(file, null, 2)}\n`, 0o600);
  }
}

function isNotFound(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}
