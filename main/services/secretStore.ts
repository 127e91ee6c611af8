/**
 * Where the desktop keeps its one secret kind — the refresh token — and what it tells the
 * person about it (DESIGN.md, Desktop: "Secrets").
 *
 * In order of preference:
 * 1. the OS keychain through keytar (gateway-client's `KeytarCredentialStore`, used only after a
 *    real probe round trip succeeds);
 * 2. a file encrypted with the platform's encryptor (Electron `safeStorage`, injected — nothing
 *    under main/services imports electron), when keytar's native module or the Secret Service
 *    is missing;
 * 3. memory only: the web host (no encryptor) or when the person chose it. Signing in again is
 *    needed after a restart, and the notice says so.
 *
 * The CLI's plain 0600 file fallback is deliberately not offered: an app that shows a GUI can
 * say "sign in again after a restart" instead of leaving a bearer secret on disk in clear.
 */
import path from 'node:path';
import {
  type CredentialStore,
  KeytarCredentialStore,
} from '../../gateway-client/credentialStore.ts';
import { EncryptedFileSecretStore, type SecretEncryptor } from './encryptedFileSecretStore.ts';
import { MemorySecretStore } from './memorySecretStore.ts';
import type { SecretStore, SecretStoreStatus } from './secretStoreKind.ts';

export type { SecretStore, SecretStoreStatus } from './secretStoreKind.ts';

/** The keychain service name the desktop uses (the CLI uses `witness`; they do not share). */
export const DESKTOP_KEYCHAIN_SERVICE = 'witness-desktop';

export const ENCRYPTED_SECRETS_FILE = 'secrets.enc.json';

export interface OpenSecretStoreOptions {
  appDataDir: string;
  /** 'memory' skips everything durable (the web host passes what the user chose). */
  choice: 'auto' | 'memory';
  encryptor?: SecretEncryptor;
  /**
   * Opens the keychain, resolving the store or why it cannot be used. Defaults to keytar with
   * a probe; tests inject a refusal to reach the fallbacks deterministically.
   */
  openKeychain?: () => Promise<{ store: CredentialStore } | { unavailable: string }>;
  keychainService?: string;
}

export async function openSecretStore(options: OpenSecretStoreOptions): Promise<SecretStore> {
  if (options.choice === 'memory') {
    return new MemorySecretStore(
      'Sign-in is kept in memory only, as chosen; you will need to sign in again after a restart.',
    );
  }
  const service = options.keychainService ?? DESKTOP_KEYCHAIN_SERVICE;
  const keychain = await (options.openKeychain ?? (() => KeytarCredentialStore.open(service)))();
  if ('store' in keychain) return withStatus(keychain.store, keychainStatus);
  const reason = sentence(keychain.unavailable);

  let encryptorProblem = 'no system encryption is available here';
  if (options.encryptor) {
    let available = false;
    try {
      available = options.encryptor.isAvailable();
      if (available && options.encryptor.selectedBackend?.() === 'basic_text') {
        available = false;
        encryptorProblem =
          'the system has no secret store to protect an encryption key (basic_text)';
      }
    } catch (error) {
      encryptorProblem = `system encryption failed: ${messageOf(error)}`;
    }
    if (available) {
      const store = new EncryptedFileSecretStore(
        path.join(options.appDataDir, ENCRYPTED_SECRETS_FILE),
        options.encryptor,
      );
      return withStatus(store, {
        kind: 'encrypted-file',
        durable: true,
        notice:
          `The OS keychain is unavailable (${reason}); your sign-in is kept in a file ` +
          'encrypted with the system’s encryption instead.',
      });
    }
    if (encryptorProblem === 'no system encryption is available here') {
      encryptorProblem = 'system encryption is not available either';
    }
  }
  return new MemorySecretStore(
    `The OS keychain is unavailable (${reason}) and ${encryptorProblem}; your sign-in is kept ` +
      'in memory only, so you will need to sign in again after a restart.',
  );
}

const keychainStatus: SecretStoreStatus = { kind: 'keychain', durable: true, notice: null };

function withStatus(store: CredentialStore, status: SecretStoreStatus): SecretStore {
  return {
    status,
    get describe() {
      return store.describe;
    },
    get: (account) => store.get(account),
    set: (account, secret) => store.set(account, secret),
    delete: (account) => store.delete(account),
  };
}

/** keytar's reasons end without a full stop and may be long; keep the notice one sentence. */
function sentence(reason: string): string {
  const trimmed = reason.trim().replace(/[.\s]+$/, '');
  return trimmed.length > 200 ? `${trimmed.slice(0, 197)}…` : trimmed;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
