/**
 * The TerminalSessionSource the desktop hands to TerminalService: a ticket from
 * `POST /v1/sessions` as the signed-in user, the resource's name, and the gateway SSH
 * listener's host key — taken from `/v1/keys` over the pinned TLS connection, and checked
 * against the key pinned on first use (`GatewayAccount.checkSshHostKey`), so a gateway whose
 * SSH identity changed is refused rather than trusted again.
 */
import { DesktopError } from '../ipc/contract.ts';
import type { GatewayAccount } from './gatewayAccount.ts';
import type { StartedTerminalSession, TerminalSessionSource } from './terminals/terminalService.ts';

export function gatewaySessionSource(account: GatewayAccount): TerminalSessionSource {
  return {
    async startSession(resourceId) {
      const { resource, keys } = await account.run(async (client) => {
        const [resource, keys] = await Promise.all([client.getResource(resourceId), client.keys()]);
        return { resource, keys };
      });
      if (resource.target.kind !== 'ssh') {
        throw new DesktopError(
          'invalid_request',
          `${resource.name} is a ${resource.target.kind} resource; terminals open on SSH resources only.`,
        );
      }
      if (!keys.sshHostKey) {
        throw new DesktopError(
          'gateway_error',
          'The gateway publishes no SSH host key, so it has no SSH listener to open terminals ' +
            'through — ask its admin to start it with SSH enabled.',
        );
      }
      // Before a ticket exists: a refused host key must not leave a pending session behind.
      const gatewayHostKey = await account.checkSshHostKey(keys.sshHostKey);
      const created = await account.run((client) => client.createSession(resource.id));
      if (created.endpoint?.protocol !== 'ssh') {
        throw new DesktopError(
          'gateway_error',
          `The gateway has no SSH listener for ${resource.name} — ask its admin to start it with SSH enabled.`,
        );
      }
      const session: StartedTerminalSession = {
        sessionId: created.sessionId,
        ticket: created.ticket,
        host: created.endpoint.host,
        port: created.endpoint.port,
        expiresAt: created.expiresAt,
        resourceName: resource.name,
        gatewayHostKey,
      };
      return session;
    },
  };
}
