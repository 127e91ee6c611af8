/**
 * A TerminalSessionSource over a signed-in GatewayClient: `POST /v1/sessions` for the ticket,
 * the resource's name, and the SSH listener's host key from `/v1/keys` — fetched over the
 * TLS connection pinned to the gateway's CA, which is what makes that key trustworthy.
 *
 * B's gateway account may wrap its own client in this, or implement the interface itself.
 */
import {
  GatewayApiError,
  type GatewayClient,
  GatewayConnectionError,
} from '../../../gateway-client/gatewayClient.ts';
import { DesktopError } from '../../ipc/contract.ts';
import type { StartedTerminalSession, TerminalSessionSource } from './terminalService.ts';

export function gatewayTerminalSessions(
  client: () => GatewayClient | Promise<GatewayClient>,
): TerminalSessionSource {
  return {
    async startSession(resourceId) {
      const gateway = await client();
      try {
        const [resource, keys] = await Promise.all([
          gateway.getResource(resourceId),
          gateway.keys(),
        ]);
        if (resource.target.kind !== 'ssh') {
          throw new DesktopError(
            'invalid_request',
            `${resource.name} is a ${resource.target.kind} resource; terminals open on SSH resources.`,
          );
        }
        const created = await gateway.createSession(resourceId);
        if (created.endpoint?.protocol !== 'ssh') {
          throw new DesktopError(
            'gateway_error',
            'This gateway has no SSH listener, so it cannot open terminals; ask its admin to start it with --ssh.',
          );
        }
        if (!keys.sshHostKey) {
          throw new DesktopError(
            'gateway_error',
            'The gateway did not publish its SSH host key, so the connection cannot be verified.',
          );
        }
        const session: StartedTerminalSession = {
          sessionId: created.sessionId,
          ticket: created.ticket,
          host: created.endpoint.host,
          port: created.endpoint.port,
          expiresAt: created.expiresAt,
          resourceName: resource.name,
          gatewayHostKey: keys.sshHostKey,
        };
        return session;
      } catch (error) {
        throw asDesktopError(error);
      }
    },
  };
}

function asDesktopError(error: unknown): DesktopError {
  if (error instanceof DesktopError) return error;
  if (error instanceof GatewayApiError) {
    if (error.status === 404) return new DesktopError('not_found', error.message);
    if (error.status === 401) return new DesktopError('not_signed_in', error.message);
    if (error.status === 403) return new DesktopError('forbidden', error.message);
    if (error.status === 429) return new DesktopError('rate_limited', error.message);
    return new DesktopError('gateway_error', error.message);
  }
  if (error instanceof GatewayConnectionError) {
    return new DesktopError('gateway_unreachable', error.message);
  }
  return new DesktopError('internal', 'Starting the session failed unexpectedly.');
}
