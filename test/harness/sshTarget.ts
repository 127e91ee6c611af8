/**
 * The step every gateway-with-sshd bed repeats after signing in: an SSH resource that points at
 * the test sshd (its host key pinned, the gateway holding the client key), optionally granted
 * to one user. Kept here so the resource shape the tests rely on is written once.
 */
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import type { RunningSshd } from './sshd.ts';

export interface SshTargetOptions {
  name: string;
  description?: string;
  /** Grant the new resource to this user (e.g. `(await api.me()).id`); no grant when absent. */
  grantTo?: { userId: string; maxSessionSeconds?: number };
}

/** Creates the resource behind `sshd` through `admin` and returns its id. */
export async function addSshTarget(
  admin: GatewayClient,
  sshd: RunningSshd,
  options: SshTargetOptions,
): Promise<string> {
  const resource = await admin.createResource({
    name: options.name,
    ...(options.description === undefined ? {} : { description: options.description }),
    target: {
      kind: 'ssh',
      host: sshd.host,
      port: sshd.port,
      username: sshd.user,
      hostKey: sshd.hostKeyLine,
    },
    secret: { privateKey: sshd.clientPrivateKey },
  });
  if (options.grantTo) {
    const { userId, maxSessionSeconds } = options.grantTo;
    await admin.createGrant({
      subject: { kind: 'user', userId },
      target: { kind: 'resource', resourceId: resource.id },
      ...(maxSessionSeconds === undefined ? {} : { maxSessionSeconds }),
    });
  }
  return resource.id;
}

/** `witness-gateway serve` arguments for a gateway with API and SSH listeners on loopback. */
export function serveWithSshArgs(dataDir: string, extraArgs: string[] = []): string[] {
  return ['--data', dataDir, '--api', '127.0.0.1:0', '--ssh', '127.0.0.1:0', ...extraArgs];
}
