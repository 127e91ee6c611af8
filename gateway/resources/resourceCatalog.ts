import type { z } from 'zod';
import type {
  createResourceRequestSchema,
  ResourceSecretInput,
  ResourceTarget,
  updateResourceRequestSchema,
} from '../../shared/api/apiSchemas.ts';
import { resourceTargetSchema } from '../../shared/api/apiSchemas.ts';
import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import { newId } from '../newId.ts';
import { decideAccess, grantExpiry } from '../policy/accessDecision.ts';
import { openSecret, sealSecret } from '../secrets/secretBox.ts';
import type { CatalogStore, GrantRecord, ResourceRecord } from '../store/catalogStore.ts';
import type { UserRecord } from '../store/identityStore.ts';
import type { SessionStore } from '../store/sessionStore.ts';

export type ResourceAccess = 'granted' | 'requestable' | 'admin';

export interface VisibleResource {
  record: ResourceRecord;
  target: ResourceTarget;
  access: ResourceAccess;
  /** Epoch ms when the caller's usable grants end; null for no end or no usable grant. */
  grantExpiresAt: number | null;
}

/** The stored credential, decrypted; only proxies ask for it, never the API. */
export type TargetCredential = ResourceSecretInput;

/** Binds a sealed credential to its resource: a blob copied onto another row will not open. */
const secretAad = (resourceId: string) => `resource:${resourceId}:secret`;

/**
 * Resources (targets) and their write-only credentials. Secrets are sealed with the master
 * key before they reach the store and are only ever opened by `credentialFor`, which the
 * proxies call; nothing here returns them to an API caller.
 */
export class ResourceCatalog {
  constructor(
    private readonly store: CatalogStore & Pick<SessionStore, 'endOpenSessions'>,
    private readonly clock: Clock,
    private readonly masterKey: Buffer,
  ) {}

  /** Resources the user may see: admins and auditors see all; others what they hold or may request. */
  async listVisible(user: UserRecord): Promise<VisibleResource[]> {
    const [resources, grants] = await Promise.all([
      this.store.listResources(),
      this.store.listGrants(),
    ]);
    const now = this.clock.now();
    const visible: VisibleResource[] = [];
    for (const record of resources) {
      const access = this.accessOf(user, record, grants, now);
      if (access) {
        visible.push({
          record,
          target: parseTarget(record),
          access,
          grantExpiresAt: grantExpiry(user, record, grants, now),
        });
      }
    }
    return visible;
  }

  async getVisible(user: UserRecord, idOrName: string): Promise<VisibleResource> {
    const record = await this.find(idOrName);
    const grants = await this.store.listGrants();
    const now = this.clock.now();
    const access = record && this.accessOf(user, record, grants, now);
    // Same answer for "does not exist" and "not yours", so names of hidden resources don't leak.
    if (!record || !access) throw notFound(idOrName);
    return {
      record,
      target: parseTarget(record),
      access,
      grantExpiresAt: grantExpiry(user, record, grants, now),
    };
  }

  async create(request: z.infer<typeof createResourceRequestSchema>): Promise<VisibleResource> {
    if (await this.store.getResourceByName(request.name)) {
      throw new GatewayError(
        'conflict',
        `A resource named ${request.name} already exists — pick another name.`,
      );
    }
    const id = newId('res');
    const now = this.clock.now();
    const sealed = request.secret ? this.seal(id, request.target, request.secret) : null;
    const record: ResourceRecord = {
      id,
      name: request.name,
      description: request.description,
      kind: request.target.kind,
      labels: request.labels,
      target: request.target,
      secretCiphertext: sealed?.ciphertext ?? null,
      secretFields: sealed?.fields ?? [],
      policy: request.policy,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.createResource(record);
    return { record, target: request.target, access: 'admin', grantExpiresAt: null };
  }

  async update(
    idOrName: string,
    request: z.infer<typeof updateResourceRequestSchema>,
  ): Promise<VisibleResource> {
    const existing = await this.find(idOrName);
    if (!existing) throw notFound(idOrName);
    if (
      request.name &&
      request.name !== existing.name &&
      (await this.store.getResourceByName(request.name))
    ) {
      throw new GatewayError(
        'conflict',
        `A resource named ${request.name} already exists — pick another name.`,
      );
    }
    const target = request.target ?? parseTarget(existing);
    if (
      request.target &&
      request.target.kind !== existing.kind &&
      request.secret === undefined &&
      existing.secretCiphertext
    ) {
      throw new GatewayError(
        'bad_request',
        'Changing the target kind needs new credentials too — send `secret` (or `secret: null`).',
      );
    }
    let secretPatch = {};
    if (request.secret === null) secretPatch = { secretCiphertext: null, secretFields: [] };
    else if (request.secret) {
      const sealed = this.seal(existing.id, target, request.secret);
      secretPatch = { secretCiphertext: sealed.ciphertext, secretFields: sealed.fields };
    }
    const updated = await this.store.updateResource(existing.id, {
      ...(request.name !== undefined && { name: request.name }),
      ...(request.description !== undefined && { description: request.description }),
      ...(request.labels !== undefined && { labels: request.labels }),
      ...(request.policy !== undefined && { policy: request.policy }),
      ...(request.target !== undefined && { target: request.target, kind: request.target.kind }),
      ...secretPatch,
      updatedAt: this.clock.now(),
    });
    if (!updated) throw notFound(idOrName);
    return { record: updated, target: parseTarget(updated), access: 'admin', grantExpiresAt: null };
  }

  async remove(idOrName: string): Promise<void> {
    const existing = await this.find(idOrName);
    if (!existing || !(await this.store.deleteResource(existing.id))) throw notFound(idOrName);
    await this.store.endOpenSessions(
      { resourceId: existing.id },
      'the resource was deleted',
      this.clock.now(),
    );
  }

  /** For the proxies: the decrypted credential of a resource, or null when none is stored. */
  async credentialFor(resource: ResourceRecord): Promise<TargetCredential | null> {
    if (!resource.secretCiphertext) return null;
    return JSON.parse(
      openSecret(this.masterKey, resource.secretCiphertext, secretAad(resource.id)),
    ) as TargetCredential;
  }

  private accessOf(
    user: UserRecord,
    record: ResourceRecord,
    grants: GrantRecord[],
    now: number,
  ): ResourceAccess | null {
    if (user.role === 'admin' || user.role === 'auditor') return 'admin';
    const decision = decideAccess(user, record, grants, now);
    if (decision.kind === 'granted') return 'granted';
    if (decision.kind === 'requestable') return 'requestable';
    return null;
  }

  private async find(idOrName: string): Promise<ResourceRecord | undefined> {
    return (
      (await this.store.getResource(idOrName)) ?? (await this.store.getResourceByName(idOrName))
    );
  }

  private seal(resourceId: string, target: ResourceTarget, secret: ResourceSecretInput) {
    const fields = (['privateKey', 'passphrase', 'password'] as const).filter(
      (f) => secret[f] !== undefined,
    );
    if (
      target.kind === 'postgres' &&
      (secret.privateKey !== undefined || secret.passphrase !== undefined)
    ) {
      throw new GatewayError(
        'bad_request',
        'PostgreSQL resources take a password only, not a private key.',
      );
    }
    if (fields.length === 0) {
      throw new GatewayError(
        'bad_request',
        'The secret is empty — give a password or a private key.',
      );
    }
    if (secret.passphrase !== undefined && secret.privateKey === undefined) {
      throw new GatewayError('bad_request', 'A passphrase only makes sense with a private key.');
    }
    return {
      ciphertext: sealSecret(this.masterKey, JSON.stringify(secret), secretAad(resourceId)),
      fields,
    };
  }
}

function parseTarget(record: ResourceRecord): ResourceTarget {
  return resourceTargetSchema.parse(record.target);
}

function notFound(idOrName: string): GatewayError {
  return new GatewayError(
    'not_found',
    `There is no resource '${idOrName}' you can see — list them with \`witness resources\`.`,
  );
}
