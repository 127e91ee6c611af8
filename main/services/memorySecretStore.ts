import type { SecretStore, SecretStoreStatus } from './secretStoreKind.ts';

/** Secrets for this run only: nothing reaches the disk, and a restart means signing in again. */
export class MemorySecretStore implements SecretStore {
  readonly describe = 'memory only (gone after a restart)';
  readonly status: SecretStoreStatus;
  private readonly secrets = new Map<string, string>();

  constructor(notice: string) {
    this.status = { kind: 'memory', durable: false, notice };
  }

  async get(account: string): Promise<string | null> {
    return this.secrets.get(account) ?? null;
  }

  async set(account: string, secret: string): Promise<void> {
    this.secrets.set(account, secret);
  }

  async delete(account: string): Promise<boolean> {
    return this.secrets.delete(account);
  }
}
