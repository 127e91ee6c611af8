/**
 * Admins' identity providers (issue #18): create, edit, list, remove. The client secret is
 * sealed at rest under the master key and never leaves the gateway again (write-only, like a
 * target's password).
 */
import { randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type {
  createOidcProviderRequestSchema,
  OidcProvider,
  updateOidcProviderRequestSchema,
} from '../../shared/api/oidcSchemas.ts';
import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import { sealSecret } from '../secrets/secretBox.ts';
import type { OidcProviderRecord, OidcStore } from '../store/oidcStore.ts';
import { StoreConflictError } from '../store/storeConflictError.ts';
import { providerSecretAad } from './oidcSignIn.ts';

export class OidcProviderBook {
  constructor(
    private readonly deps: {
      store: OidcStore;
      clock: Clock;
      masterKey: Buffer;
      callbackUrl: () => string;
      /** Drops a cached discovery when a provider changes. */
      forget: (providerId: string) => void;
    },
  ) {}

  async list(): Promise<OidcProvider[]> {
    return (await this.deps.store.listOidcProviders()).map((p) => this.present(p));
  }

  /** What the sign-in screen shows: names only. */
  async signInOptions(): Promise<{ providers: { name: string; displayName: string }[] }> {
    const providers = await this.deps.store.listOidcProviders();
    return { providers: providers.map((p) => ({ name: p.name, displayName: p.displayName })) };
  }

  async create(request: z.output<typeof createOidcProviderRequestSchema>): Promise<OidcProvider> {
    const id = `idp_${randomBytes(10).toString('hex')}`;
    const now = this.deps.clock.now();
    const record: OidcProviderRecord = {
      id,
      name: request.name,
      displayName: request.displayName ?? request.name,
      issuer: request.issuer,
      clientId: request.clientId,
      clientSecret: sealSecret(this.deps.masterKey, request.clientSecret, providerSecretAad(id)),
      scopes: request.scopes.includes('openid') ? request.scopes : ['openid', ...request.scopes],
      groupsClaim: request.groupsClaim,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.deps.store.createOidcProvider(record);
    } catch (error) {
      if (error instanceof StoreConflictError)
        throw new GatewayError('conflict', `${error.message}.`);
      throw error;
    }
    return this.present(record);
  }

  async update(
    name: string,
    request: z.output<typeof updateOidcProviderRequestSchema>,
  ): Promise<OidcProvider> {
    const existing = await this.byName(name);
    // updatedAt is also the discovery cache's version: make it move even within a millisecond.
    const updatedAt = Math.max(this.deps.clock.now(), existing.updatedAt + 1);
    const updated = await this.deps.store.updateOidcProvider(existing.id, {
      updatedAt,
      ...(request.displayName !== undefined && { displayName: request.displayName }),
      ...(request.issuer !== undefined && { issuer: request.issuer }),
      ...(request.clientId !== undefined && { clientId: request.clientId }),
      ...(request.clientSecret !== undefined && {
        clientSecret: sealSecret(
          this.deps.masterKey,
          request.clientSecret,
          providerSecretAad(existing.id),
        ),
      }),
      ...(request.scopes !== undefined && { scopes: request.scopes }),
      ...(request.groupsClaim !== undefined && { groupsClaim: request.groupsClaim }),
    });
    if (!updated) throw notFound(name);
    this.deps.forget(existing.id);
    return this.present(updated);
  }

  async remove(name: string): Promise<void> {
    const existing = await this.byName(name);
    await this.deps.store.deleteOidcProvider(existing.id);
    this.deps.forget(existing.id);
  }

  private async byName(name: string): Promise<OidcProviderRecord> {
    const provider = await this.deps.store.getOidcProviderByName(name);
    if (!provider) throw notFound(name);
    return provider;
  }

  private present(provider: OidcProviderRecord): OidcProvider {
    return {
      id: provider.id,
      name: provider.name,
      displayName: provider.displayName,
      issuer: provider.issuer,
      clientId: provider.clientId,
      scopes: provider.scopes,
      groupsClaim: provider.groupsClaim,
      redirectUri: this.deps.callbackUrl(),
      createdAt: new Date(provider.createdAt).toISOString(),
      updatedAt: new Date(provider.updatedAt).toISOString(),
    };
  }
}

function notFound(name: string): GatewayError {
  return new GatewayError('not_found', `No identity provider named ${name} is configured.`);
}
