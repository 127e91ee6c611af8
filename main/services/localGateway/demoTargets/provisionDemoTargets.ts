/**
 * Makes the running demo targets resources on the local gateway, with a standing grant for
 * the admin: created on first run, updated on every start (ports and keys may have changed),
 * so calling it again is harmless. The demo sshd's host key is pinned on the resource and its
 * client key stored as the resource's secret — write-only, the gateway alone reads it back.
 */

import type { GatewayClient } from '../../../../gateway-client/gatewayClient.ts';
import type {
  CreateResourceRequest,
  Resource,
  ResourceTarget,
} from '../../../../shared/api/apiSchemas.ts';
import {
  DEMO_DESCRIPTION,
  DEMO_LABELS,
  DEMO_POSTGRES_NAME,
  DEMO_SSH_NAME,
  type RunningDemoTargets,
} from './demoTargets.ts';

/** Long enough for an evaluation session; the gateway allows at most 24 h. */
const DEMO_MAX_SESSION_SECONDS = 8 * 3600;

export async function provisionDemoTargets(
  admin: GatewayClient,
  adminUserId: string,
  targets: Pick<RunningDemoTargets, 'ssh' | 'postgres'>,
): Promise<void> {
  const existing = await admin.listResources();
  const wanted: CreateResourceRequest[] = [];
  if (targets.ssh) {
    wanted.push({
      name: DEMO_SSH_NAME,
      description: `${DEMO_DESCRIPTION}: a shell as ${targets.ssh.username}`,
      labels: { ...DEMO_LABELS },
      target: {
        kind: 'ssh',
        host: targets.ssh.host,
        port: targets.ssh.port,
        username: targets.ssh.username,
        hostKey: targets.ssh.hostKeyLine,
      },
      secret: { privateKey: targets.ssh.clientPrivateKey },
    });
  }
  if (targets.postgres) {
    wanted.push({
      name: DEMO_POSTGRES_NAME,
      description: `${DEMO_DESCRIPTION}: database ${targets.postgres.database}`,
      labels: { ...DEMO_LABELS },
      target: {
        kind: 'postgres',
        host: targets.postgres.host,
        port: targets.postgres.port,
        database: targets.postgres.database,
        username: targets.postgres.username,
        // Loopback to a cluster that listens on 127.0.0.1 only.
        tlsMode: 'disable',
        caPem: null,
      },
      secret: { password: targets.postgres.password },
    });
  }
  for (const request of wanted) {
    const found = existing.find((r) => r.name === request.name);
    const resource: Resource = found
      ? await admin.updateResource(found.id, {
          description: request.description,
          labels: request.labels,
          target: request.target as ResourceTarget,
          secret: request.secret,
        })
      : await admin.createResource(request);
    await ensureGrant(admin, adminUserId, resource.id);
  }
}

async function ensureGrant(admin: GatewayClient, userId: string, resourceId: string) {
  const grants = await admin.listGrants();
  const has = grants.some(
    (g) =>
      g.subject.kind === 'user' &&
      g.subject.userId === userId &&
      g.target.kind === 'resource' &&
      g.target.resourceId === resourceId &&
      g.mode === 'standing' &&
      g.validUntil === null,
  );
  if (has) return;
  await admin.createGrant({
    subject: { kind: 'user', userId },
    target: { kind: 'resource', resourceId },
    maxSessionSeconds: DEMO_MAX_SESSION_SECONDS,
    description: 'Standing access to a demo target of the local gateway',
  });
}
