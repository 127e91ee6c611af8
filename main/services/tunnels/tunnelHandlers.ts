/**
 * The contract's tunnel and database-certificate calls (issue #15), wired to the signed-in
 * account: TunnelService for `tunnels.*`, and `dbCertificates.create` doing what
 * `witness db login` does with the same code (gateway-client/dbCertificates/), its files in
 * the desktop's profile folder. The private key is made here, in main, and only written to a
 * 0600 file; the renderer gets the file paths and the lines to copy.
 */

import {
  dbLogin,
  NoPostgresListenerError,
} from '../../../gateway-client/dbCertificates/dbCertificateLogin.ts';
import { DB_CERTIFICATE_DEFAULT_TTL_SECONDS } from '../../../shared/api/apiSchemas.ts';
import { type CallHandlers, DesktopError, type TunnelView } from '../../ipc/contract.ts';
import type { GatewayAccount } from '../gatewayAccount.ts';
import { FileTunnelPortStore, type TunnelPortStore } from './tunnelPorts.ts';
import { type AccessCheck, TunnelService } from './tunnelService.ts';

export type TunnelCallName =
  | 'tunnels.list'
  | 'tunnels.open'
  | 'tunnels.close'
  | 'tunnels.rememberedPort'
  | 'dbCertificates.create';

export interface TunnelHandlersDeps {
  account: Pick<GatewayAccount, 'run' | 'pinned' | 'account'>;
  /** The desktop's profile folder: remembered ports and the certificates' files go here. */
  appDataDir: string;
  onChange(tunnels: TunnelView[]): void;
  log(line: string): void;
  ports?: TunnelPortStore;
  accessCheckMs?: number;
}

export function createTunnelHandlers(deps: TunnelHandlersDeps): {
  handlers: Pick<CallHandlers, TunnelCallName>;
  service: TunnelService;
} {
  const { account } = deps;
  const service = new TunnelService({
    gateway: () => {
      const pinned = account.pinned();
      return pinned ? { url: pinned.url, caPem: pinned.caPem } : null;
    },
    username: () => account.account()?.username ?? 'witness',
    resource: async (resourceId) => {
      const resource = await account.run((client) => client.getResource(resourceId));
      return {
        id: resource.id,
        name: resource.name,
        kind: resource.target.kind,
        database: resource.target.kind === 'postgres' ? resource.target.database : '',
      };
    },
    sessions: { createSession: (resourceId) => account.run((c) => c.createSession(resourceId)) },
    accessRefusal: (error) =>
      error instanceof DesktopError && error.code === 'forbidden' ? error.message : null,
    sessionEndReason: async (sessionId) =>
      (await account.run((client) => client.getSession(sessionId))).endReason,
    checkAccess: (resourceId) => checkAccess(account, resourceId),
    endSession: async (sessionId) => {
      try {
        await account.run((client) => client.terminateSession(sessionId));
      } catch (error) {
        // Ended already, or signed out: the gateway ends it when it sees the connection close.
        deps.log(`could not end ${sessionId} at the gateway: ${messageOf(error)}`);
      }
    },
    ports: deps.ports ?? new FileTunnelPortStore(deps.appDataDir),
    onChange: deps.onChange,
    log: deps.log,
    ...(deps.accessCheckMs !== undefined && { accessCheckMs: deps.accessCheckMs }),
  });

  const handlers: Pick<CallHandlers, TunnelCallName> = {
    'tunnels.list': async () => ({ tunnels: service.list() }),
    'tunnels.open': async ({ resourceId, port }) => service.open(resourceId, port),
    'tunnels.close': async ({ tunnelId }) => {
      await service.close(tunnelId);
      return {};
    },
    'tunnels.rememberedPort': async ({ resourceId }) => ({
      port: await service.rememberedPort(resourceId),
    }),
    'dbCertificates.create': async ({ resourceId, ttlSeconds }) => {
      const pinned = account.pinned();
      if (!pinned) throw new DesktopError('no_gateway', 'No gateway is set up yet.');
      try {
        const login = await account.run((client) =>
          dbLogin(client, {
            gatewayUrl: pinned.url,
            profileDir: deps.appDataDir,
            resource: resourceId,
            ttlSeconds: ttlSeconds ?? DB_CERTIFICATE_DEFAULT_TTL_SECONDS,
          }),
        );
        return {
          resourceName: login.issued.resource.name,
          username: login.issued.username,
          notAfter: login.issued.notAfter,
          files: login.files,
          lines: login.lines,
        };
      } catch (error) {
        if (error instanceof NoPostgresListenerError) {
          throw new DesktopError('gateway_error', error.message);
        }
        throw error;
      }
    },
  };
  return { handlers, service };
}

/**
 * Is the grant still there? A resource the user no longer sees, or sees as "requestable", has
 * lost its grant. Admins and auditors see every resource as "admin" whatever their grants, so
 * for them only the session refusals and the "access revoked" ends tell (TunnelService).
 */
async function checkAccess(
  account: Pick<GatewayAccount, 'run'>,
  resourceId: string,
): Promise<AccessCheck> {
  try {
    const resource = await account.run((client) => client.getResource(resourceId));
    const expired =
      resource.grantExpiresAt !== null && Date.parse(resource.grantExpiresAt) <= Date.now();
    if (resource.access === 'requestable' || expired) {
      return { kind: 'ended', message: `Your access to ${resource.name} has ended.` };
    }
    return { kind: 'granted' };
  } catch (error) {
    if (
      error instanceof DesktopError &&
      (error.code === 'not_found' || error.code === 'forbidden')
    ) {
      return { kind: 'ended', message: 'You no longer have access to this resource.' };
    }
    return { kind: 'unknown' };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
