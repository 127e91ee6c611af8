/**
 * The settings panel's resources and policies calls (issue #14), over the gateway client. Every
 * rule is the gateway's: main only turns the pages' drafts into API bodies and the answers into
 * the contract's shapes — field by field, so the stored credential never comes back (the API
 * never answers it anyway) and the host key travels as its fingerprint only.
 *
 * A save the gateway refuses (400, 409) is an answer, not an error: `{saved: false, message,
 * issues}` with each issue named by the form field it concerns, so the page can show it there.
 */
import { createHash } from 'node:crypto';
import { GatewayApiError, type GatewayClient } from '../../gateway-client/gatewayClient.ts';
import type {
  CreateResourceRequest,
  Grant,
  Resource,
  UpdateResourceRequest,
} from '../../shared/api/apiSchemas.ts';
import type {
  AdminResource,
  CallHandlers,
  FieldIssue,
  PolicyDraft,
  PolicyHolder,
  ResourceDraft,
} from '../ipc/contract.ts';
import {
  fieldLabel,
  problemOfMessage,
  sentenceFor,
  sentenceOfApiIssues,
} from '../ipc/invalidInputSentence.ts';

type AdminCallName =
  | 'admin.resources.list'
  | 'admin.resources.save'
  | 'admin.resources.delete'
  | 'admin.resources.test'
  | 'admin.resources.scanHostKey'
  | 'admin.policies.list'
  | 'admin.policies.save'
  | 'admin.policies.try';

/** Runs work as the signed-in user (GatewayAccount.run). */
export type RunAsUser = <T>(work: (client: GatewayClient) => Promise<T>) => Promise<T>;

export function createAdminSettingsHandlers(run: RunAsUser): Pick<CallHandlers, AdminCallName> {
  return {
    'admin.resources.list': async () => ({
      resources: (await run((client) => client.listResources())).map(toAdminResource),
    }),

    'admin.resources.save': async (draft) =>
      run(async (client) => {
        try {
          const written =
            draft.id === undefined
              ? await client.createResource(createBody(draft))
              : await client.updateResource(
                  draft.id,
                  updateBody(draft, await client.getResource(draft.id)),
                );
          return {
            saved: true as const,
            value: {
              resource: toAdminResource(written),
              publicKeyToInstall: written.publicKeyToInstall,
            },
          };
        } catch (error) {
          return refusal(error);
        }
      }),

    'admin.resources.delete': async ({ id }) => {
      await run((client) => client.deleteResource(id));
      return {};
    },

    'admin.resources.test': async ({ id }) => {
      const { hostKey, ...result } = await run((client) => client.testResource(id));
      return { ...result, hostKeyFingerprints: hostKey };
    },

    'admin.resources.scanHostKey': async ({ host, port }) => {
      const scanned = await run((client) => client.scanHostKey(host, port));
      return { keyType: scanned.keyType, fingerprint: scanned.fingerprint };
    },

    'admin.policies.list': async () =>
      run(async (client) => {
        const [resources, grants] = await Promise.all([
          client.listResources(),
          client.listGrants(),
        ]);
        const names = new Map(resources.map((r) => [r.id, r.name]));
        const holders: PolicyHolder[] = [
          ...resources
            .filter((r) => r.target.kind === 'postgres')
            .map((r) => ({
              kind: 'resource' as const,
              id: r.id,
              name: r.name,
              policy: toPolicyDraft(r.policy),
            })),
          ...grants.map((g) => ({
            kind: 'grant' as const,
            id: g.id,
            name: grantName(g, names),
            policy: toPolicyDraft(g.policy),
          })),
        ];
        return { holders };
      }),

    'admin.policies.save': async ({ kind, id, policy }) =>
      run(async (client) => {
        try {
          if (kind === 'resource') {
            const saved = await client.updateResource(id, { policy });
            return {
              saved: true as const,
              value: { kind, id, name: saved.name, policy: toPolicyDraft(saved.policy) },
            };
          }
          const saved = await client.updateGrant(id, { policy });
          const names = new Map((await client.listResources()).map((r) => [r.id, r.name]));
          return {
            saved: true as const,
            value: { kind, id, name: grantName(saved, names), policy: toPolicyDraft(saved.policy) },
          };
        } catch (error) {
          return refusal(error);
        }
      }),

    'admin.policies.try': async ({ policy, sampleQuery, sampleResult }) =>
      run(async (client) => {
        try {
          const value = await client.tryPolicy({
            policy,
            sampleQuery,
            ...(sampleResult !== undefined && { sampleResult }),
          });
          return { saved: true as const, value };
        } catch (error) {
          return refusal(error);
        }
      }),
  };
}

/** The admin pages' view of a resource: the address, what is stored, the pin's fingerprint. */
export function toAdminResource(resource: Resource): AdminResource {
  const t = resource.target;
  return {
    id: resource.id,
    name: resource.name,
    description: resource.description,
    labels: resource.labels,
    target:
      t.kind === 'ssh'
        ? {
            kind: 'ssh',
            host: t.host,
            port: t.port,
            username: t.username,
            hostKeyFingerprint: t.hostKey === null ? null : fingerprintOfKeyLine(t.hostKey),
          }
        : {
            kind: 'postgres',
            host: t.host,
            port: t.port,
            database: t.database,
            username: t.username,
            tlsMode: t.tlsMode,
            hasCa: t.caPem !== null,
          },
    stored: {
      hasPrivateKey: resource.secretSet.privateKey,
      hasPassword: resource.secretSet.password,
    },
    updatedAt: resource.updatedAt,
  };
}

/** `SHA256:…` of an OpenSSH public key line, as `ssh-keygen -l` prints it. */
export function fingerprintOfKeyLine(line: string): string | null {
  const blob = line.trim().split(/\s+/)[1];
  if (!blob) return null;
  const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

function createBody(draft: ResourceDraft): CreateResourceRequest {
  return {
    name: draft.name,
    description: draft.description,
    labels: draft.labels,
    target: draft.target.kind === 'ssh' ? { ...draft.target } : postgresTarget(draft.target, null),
    ...secretFields(draft),
    ...(draft.hostKeyFingerprint ? { hostKeyFingerprint: draft.hostKeyFingerprint } : {}),
  };
}

function updateBody(draft: ResourceDraft, existing: Resource): UpdateResourceRequest {
  const old = existing.target;
  let target: UpdateResourceRequest['target'];
  if (draft.target.kind === 'ssh') {
    const sameAddress =
      old.kind === 'ssh' && old.host === draft.target.host && old.port === draft.target.port;
    // The pin stays with the address it was made for; a new address needs a confirmed scan.
    target = {
      ...draft.target,
      hostKey: draft.hostKeyFingerprint || !sameAddress || old.kind !== 'ssh' ? null : old.hostKey,
    };
  } else {
    const keptCa = draft.target.keepCa && old.kind === 'postgres' ? old.caPem : null;
    target = postgresTarget(draft.target, keptCa);
  }
  return {
    name: draft.name,
    description: draft.description,
    labels: draft.labels,
    target,
    ...secretFields(draft),
    ...(draft.hostKeyFingerprint ? { hostKeyFingerprint: draft.hostKeyFingerprint } : {}),
  };
}

function postgresTarget(
  target: Extract<ResourceDraft['target'], { kind: 'postgres' }>,
  keptCa: string | null,
) {
  return {
    kind: 'postgres' as const,
    host: target.host,
    port: target.port,
    database: target.database,
    username: target.username,
    tlsMode: target.tlsMode,
    caPem: target.caPem ?? keptCa,
  };
}

function secretFields(draft: ResourceDraft): Pick<CreateResourceRequest, 'secret' | 'generateKey'> {
  const credential = draft.credential;
  switch (credential.kind) {
    case 'keep':
      return {};
    case 'generate':
      return { generateKey: true };
    case 'privateKey':
      return {
        secret: {
          privateKey: credential.privateKey,
          ...(credential.passphrase ? { passphrase: credential.passphrase } : {}),
        },
      };
    case 'password':
      return { secret: { password: credential.password } };
  }
}

function toPolicyDraft(policy: Resource['policy']): PolicyDraft {
  return {
    masking: policy.masking,
    guardrails: policy.guardrails,
    maskingMode: policy.maskingMode ?? 'basic',
  };
}

function grantName(grant: Grant, resourceNames: Map<string, string>): string {
  const who =
    grant.subject.kind === 'user' ? `user ${grant.subject.userId}` : `group ${grant.subject.group}`;
  const what =
    grant.target.kind === 'resource'
      ? (resourceNames.get(grant.target.resourceId) ?? grant.target.resourceId)
      : Object.entries(grant.target.selector)
          .map(([k, v]) => `${k}=${v}`)
          .join(',');
  return `${who} → ${what}`;
}

/** A refused write as an answer, each issue under the form field it concerns. */
function refusal(error: unknown) {
  if (!(error instanceof GatewayApiError) || (error.status !== 400 && error.status !== 409)) {
    throw error;
  }
  return {
    saved: false as const,
    // Each field's message in the app's words, not the schema library's (issue #15).
    message: error.issues.length > 0 ? sentenceOfApiIssues(error.issues) : error.message,
    issues: error.issues.map(
      (issue): FieldIssue => ({
        field: formFieldOf(issue.path),
        message: sentenceFor(fieldLabel(issue.path), problemOfMessage(issue.message)),
      }),
    ),
  };
}

/**
 * The API's dotted path → the form's field name: `target.host` → `host`, `secret.privateKey` →
 * `privateKey`, `labels.env` → `labels`, `policy.masking.0.match.pattern` → `masking.0.pattern`.
 */
export function formFieldOf(path: string): string {
  const parts = path.split('.').filter((part) => part !== 'match');
  const [head, ...rest] = parts;
  if (head === 'target' || head === 'secret' || head === 'policy') return rest.join('.') || head;
  if (head === 'labels') return 'labels';
  if (head === 'generateKey') return 'credential';
  if (head === 'hostKeyFingerprint') return 'hostKey';
  return parts.join('.');
}
