/**
 * A `SessionVault` over one entry of a `CredentialStore` (keychain, 0600 file, the desktop's
 * secret stores), with the host's own encoding: the CLI and the desktop wrote different JSON
 * before the lifecycle was shared, and sessions people already have must keep working.
 */
import type { CredentialStore } from '../credentialStore.ts';
import type { SessionVault, StoredSession } from './accountPorts.ts';
import type { RenewalLock } from './renewalLock.ts';

export interface SessionCodec {
  encode(session: StoredSession): string;
  /** Null for anything unreadable: the person signs in again rather than the client crashing. */
  decode(secret: string | null): StoredSession | null;
}

export interface CredentialVaultOptions {
  /** See `SessionVault.shared`. */
  shared: boolean;
  /** See `SessionVault.lock`. */
  lock?: RenewalLock;
  /**
   * Set by hosts that carry on when the store fails (the desktop stays signed in for the run:
   * only resuming after a restart is lost); without it a failed save or delete rejects. Only
   * for vaults that are not `shared` (see `SessionVault.save`).
   */
  storeFailed?: (error: unknown, action: 'save' | 'clear') => void;
}

export function credentialVault(
  store: CredentialStore,
  account: string,
  codec: SessionCodec,
  options: CredentialVaultOptions,
): SessionVault {
  return {
    get describe() {
      return store.describe;
    },
    shared: options.shared,
    ...(options.lock && { lock: options.lock }),
    load: async () => codec.decode(await store.get(account)),
    async save(session) {
      try {
        await store.set(account, codec.encode(session));
      } catch (error) {
        if (!options.storeFailed) throw error;
        options.storeFailed(error, 'save');
      }
    },
    async clear() {
      try {
        await store.delete(account);
      } catch (error) {
        if (!options.storeFailed) throw error;
        options.storeFailed(error, 'clear');
      }
    },
  };
}
