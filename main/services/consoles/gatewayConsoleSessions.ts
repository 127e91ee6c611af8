/**
 * The ConsoleSessionSource the desktop hands to QueryConsoleService: a ticket from
 * `POST /v1/sessions` as the signed-in user, the resource's database, and the CA pinned for the
 * gateway — the only CA the console's TLS connection to the PostgreSQL listener trusts.
 */
import { DesktopError } from '../../ipc/contract.ts';
import type { GatewayAccount } from '../gatewayAccount.ts';
import type { ConsoleSessionSource, StartedConsoleSession } from './queryConsoleService.ts';

export function gatewayConsoleSessions(
  account: Pick<GatewayAccount, 'run' | 'pinned'>,
): ConsoleSessionSource {
  return {
    async startSession(resourceId) {
      const pinned = account.pinned();
      if (!pinned) throw new DesktopError('no_gateway', 'No gateway is set up yet.');
      const resource = await account.run((client) => client.getResource(resourceId));
      if (resource.target.kind !== 'postgres') {
        throw new DesktopError(
          'invalid_request',
          `${resource.name} is an ${resource.target.kind} resource; query consoles open on PostgreSQL resources only.`,
        );
      }
      const created = await account.run((client) => client.createSession(resource.id));
      if (created.endpoint?.protocol !== 'postgres') {
        throw new DesktopError(
          'gateway_error',
          `The gateway has no PostgreSQL listener for ${resource.name} — ask its admin to start it with --postgres HOST:PORT.`,
        );
      }
      const session: StartedConsoleSession = {
        sessionId: created.sessionId,
        ticket: created.ticket,
        host: created.endpoint.host,
        port: created.endpoint.port,
        database: resource.target.database,
        caPem: pinned.caPem,
        expiresAt: created.expiresAt,
        resourceName: resource.name,
      };
      return session;
    },
  };
}
