import type { z } from 'zod';
import type {
  ConnectionTestResult,
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
import { testConnection } from './connectionTest.ts';
import {
  confirmedHostKey,
  generateLoginKey,
  type HostKeyScanner,
  publicKeyOfPrivateKey,
} from './sshResourceKeys.ts';

export type ResourceAccess = 'granted' | 'requestable' | 'admin';

export interface VisibleResource {
  record: ResourceRecord;
  target: ResourceTarget;
  access: ResourceAccess;
  /** Epoch ms when the caller's usable grants end; null for no end or no usable grant. */
  grantExpiresAt: number | null;
  /** After a write that set an SSH key: its public half, to install on the target. */
  publicKeyToInstall?: string | null;
}

/** What a resource write asks of SSH keys (apiSchemas' sshKeyWriteFields). */
interface KeyWrite {
  generateKey?: boolean | undefined;
  hostKeyFingerprint?: string | undefined;
}

/** The stored credential, decrypted; only proxies ask for it, never the API. */
export type TargetCredential = ResourceSecretInput;

/** Binds a sealed credential to its resource: a blob copied onto another row will not open. */
const secretAad = (resourceId: string) => `resource:${resourceId}:secret`;

/**
 * Resources (targets) and their write-only credentials. Secrets are sealed with the master
 * key before they reach the store and are only ever opened by `credentialFor`, which the
 * proxies and the admin's connection test call; nothing here returns them to an API caller.
 */
export class ResourceCatalog {
  constructor(
    private readonly store: CatalogStore & Pick<SessionStore, 'endOpenSessions'>,
    private readonly clock: Clock,
    private readonly masterKey: Buffer,
    /** Reads a target's SSH host key, to pin a confirmed fingerprint (proxy/ssh/scanHostKey). */
    private readonly scanHostKey: HostKeyScanner = () =>
      Promise.reject(new Error('this gateway cannot scan host keys')),
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
    const keys = await this.applyKeyWrite(request.name, request.target, request.secret, request);
    const target = keys.target;
    const sealed = keys.secret ? this.seal(id, target, keys.secret) : null;
    const record: ResourceRecord = {
      id,
      name: request.name,
      description: request.description,
      kind: target.kind,
      labels: request.labels,
      target,
      secretCiphertext: sealed?.ciphertext ?? null,
      secretFields: sealed?.fields ?? [],
      policy: request.policy,
      createdAt: now,
      updatedAt: now,
    };
    await this.store.createResource(record);
    return {
      record,
      target,
      access: 'admin',
      grantExpiresAt: null,
      publicKeyToInstall: keys.publicKeyToInstall,
    };
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
    const keys = await this.applyKeyWrite(
      request.name ?? existing.name,
      request.target ?? parseTarget(existing),
      request.secret ?? undefined,
      request,
    );
    const target = keys.target;
    const targetChanged = request.target !== undefined || request.hostKeyFingerprint !== undefined;
    if (
      request.target &&
      request.target.kind !== existing.kind &&
      request.secret === undefined &&
      !request.generateKey &&
      existing.secretCiphertext
    ) {
      throw new GatewayError(
        'bad_request',
        'Changing the target kind needs new credentials too — send `secret` (or `secret: null`).',
      );
    }
    let secretPatch = {};
    if (request.secret === null && !request.generateKey) {
      secretPatch = { secretCiphertext: null, secretFields: [] };
    } else if (keys.secret) {
      const sealed = this.seal(existing.id, target, keys.secret);
      secretPatch = { secretCiphertext: sealed.ciphertext, secretFields: sealed.fields };
    }
    const updated = await this.store.updateResource(existing.id, {
      ...(request.name !== undefined && { name: request.name }),
      ...(request.description !== undefined && { description: request.description }),
      ...(request.labels !== undefined && { labels: request.labels }),
      ...(request.policy !== undefined && { policy: request.policy }),
      ...(targetChanged && { target, kind: target.kind }),
      ...secretPatch,
      updatedAt: this.clock.now(),
    });
    if (!updated) throw notFound(idOrName);
    return {
      record: updated,
      target: parseTarget(updated),
      access: 'admin',
      grantExpiresAt: null,
      publicKeyToInstall: keys.publicKeyToInstall,
    };
  }

  /**
   * Connects to the resource's target with its stored credential, as a session would, and
   * says which step failed (connectionTest.ts). The credential stays in this process.
   */
  async testConnection(idOrName: string): Promise<ConnectionTestResult> {
    const record = await this.find(idOrName);
    if (!record) throw notFound(idOrName);
    return testConnection(record.name, parseTarget(record), await this.credentialFor(record));
  }

  /**
   * SSH key handling of a write: a generated login key becomes the secret, an uploaded one is
   * checked (and its public half answered), a confirmed fingerprint becomes the pinned key.
   */
  private async applyKeyWrite(
    name: string,
    target: ResourceTarget,
    secret: ResourceSecretInput | undefined,
    write: KeyWrite,
  ): Promise<{
    target: ResourceTarget;
    secret: ResourceSecretInput | undefined;
    publicKeyToInstall: string | null;
  }> {
    if (target.kind !== 'ssh') {
      const field = write.generateKey
        ? 'generateKey'
        : write.hostKeyFingerprint
          ? 'hostKeyFingerprint'
          : undefined;
      if (field) {
        throw new GatewayError('bad_request', `${field} is for SSH resources only.`, {
          issues: [{ path: field, message: 'only for SSH resources' }],
        });
      }
      return { target, secret, publicKeyToInstall: null };
    }
    let pinned = target;
    if (write.hostKeyFingerprint !== undefined) {
      const hostKey = await confirmedHostKey(target, write.hostKeyFingerprint, this.scanHostKey);
      pinned = { ...target, hostKey };
    }
    if (write.generateKey) {
      if (secret?.privateKey !== undefined) {
        throw new GatewayError(
          'bad_request',
          'Either upload a private key or ask for a generated one, not both.',
          { issues: [{ path: 'generateKey', message: 'not with secret.privateKey' }] },
        );
      }
      const key = generateLoginKey(name);
      return {
        target: pinned,
        secret: {
          privateKey: key.privateKey,
          ...(secret?.password !== undefined && { password: secret.password }),
        },
        publicKeyToInstall: key.publicKeyLine,
      };
    }
    const uploaded =
      secret?.privateKey === undefined
        ? null
        : publicKeyOfPrivateKey(secret.privateKey, secret.passphrase);
    return { target: pinned, secret, publicKeyToInstall: uploaded };
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
