/**
 * The part every desktop e2e bed starts the same way: OpenSSH sshd as the target, the
 * `witness-gateway serve` binary (SQLite in `gatewayDir`, API and SSH listeners on loopback,
 * plus any `extraArgs`), the admin `root` created by the admin CLI and signed in, and an SSH
 * resource behind sshd. Everything started is pushed on `cleanups`.
 */
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import {
  createAdmin,
  type GatewayProcess,
  signedInClient,
  spawnGateway,
} from '../harness/gatewayProcess.ts';
import { type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget, serveWithSshArgs } from '../harness/sshTarget.ts';
import type { CleanupStack } from './cleanupStack.ts';

export interface GatewayWithSshTarget {
  sshd: RunningSshd;
  gateway: GatewayProcess;
  /** A client signed in as `root`. */
  admin: GatewayClient;
  sshResourceId: string;
}

/** sshd, the gateway and root signed in, with no resource (the settings e2e adds it in the panel). */
export async function startGatewayWithSshd(
  options: { gatewayDir: string; rootPassword: string; extraArgs?: string[] },
  cleanups: CleanupStack,
): Promise<Omit<GatewayWithSshTarget, 'sshResourceId'>> {
  const sshd = await startSshd();
  cleanups.push(() => sshd.stop());
  const gateway = await spawnGateway(serveWithSshArgs(options.gatewayDir, options.extraArgs));
  cleanups.push(() => gateway.stop());
  await createAdmin(options.gatewayDir, 'root', options.rootPassword);
  const admin = await signedInClient(gateway.ready.api, options.gatewayDir, {
    username: 'root',
    password: options.rootPassword,
  });
  cleanups.push(() => admin.close());
  return { sshd, gateway, admin };
}

export async function startGatewayWithSshTarget(
  options: {
    gatewayDir: string;
    rootPassword: string;
    /** More `serve` arguments, e.g. `['--postgres', '127.0.0.1:0']`. */
    extraArgs?: string[];
    resourceName: string;
    resourceDescription: string;
  },
  cleanups: CleanupStack,
): Promise<GatewayWithSshTarget> {
  const started = await startGatewayWithSshd(options, cleanups);
  const sshResourceId = await addSshTarget(started.admin, started.sshd, {
    name: options.resourceName,
    description: options.resourceDescription,
  });
  return { ...started, sshResourceId };
}
