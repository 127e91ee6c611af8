/**
 * The PostgreSQL counterpart of sshTarget.ts: a resource that points at a fresh database of the
 * test cluster (TLS off on the loopback leg, the gateway holding the password), optionally
 * granted to one user. Kept here so the resource shape the tests rely on is written once.
 */
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { freshPostgresDatabase } from './postgresForTests.ts';

export interface PostgresTargetOptions {
  name: string;
  /** The database to point at (a `postgres://` URL); a fresh one when absent. */
  url?: string;
  /** Grant the new resource to this user (e.g. `(await api.me()).id`); no grant when absent. */
  grantTo?: { userId: string; maxSessionSeconds?: number };
}

/** Creates the resource through `admin`; returns its id and the database URL behind it. */
export async function addPostgresTarget(
  admin: GatewayClient,
  options: PostgresTargetOptions,
): Promise<{ resourceId: string; targetUrl: string }> {
  const targetUrl = options.url ?? (await freshPostgresDatabase());
  const target = new URL(targetUrl);
  const resource = await admin.createResource({
    name: options.name,
    target: {
      kind: 'postgres',
      host: target.hostname,
      port: Number(target.port),
      database: target.pathname.slice(1),
      username: decodeURIComponent(target.username),
      tlsMode: 'disable',
    },
    secret: { password: decodeURIComponent(target.password) },
  });
  if (options.grantTo) {
    const { userId, maxSessionSeconds } = options.grantTo;
    await admin.createGrant({
      subject: { kind: 'user', userId },
      target: { kind: 'resource', resourceId: resource.id },
      ...(maxSessionSeconds === undefined ? {} : { maxSessionSeconds }),
    });
  }
  return { resourceId: resource.id, targetUrl };
}
