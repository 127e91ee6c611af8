/**
 * The overlay text when a terminal ends, one clear message per reason (issue #5). The gateway's
 * own words are kept where it gave any, because they say which grant or which admin.
 */
import type { TerminalEndReason } from '../../../main/ipc/contract.ts';

export interface EndMessage {
  title: string;
  detail: string;
  /** Whether reconnecting can help (not after revoked access or a disabled account). */
  canReconnect: boolean;
}

export function endReasonMessage(reason: TerminalEndReason, resourceName: string): EndMessage {
  switch (reason.kind) {
    case 'exited': {
      if (reason.signal !== null) {
        return {
          title: 'Session ended',
          detail: `The remote shell on ${resourceName} was killed by signal ${reason.signal}.`,
          canReconnect: true,
        };
      }
      const code = reason.exitCode;
      return {
        title: 'Session ended',
        detail:
          code === null || code === 0
            ? `The remote shell on ${resourceName} exited.`
            : `The remote shell on ${resourceName} exited with code ${code}.`,
        canReconnect: true,
      };
    }
    case 'closed':
      return {
        title: 'Session closed',
        detail: `The session on ${resourceName} was closed.`,
        canReconnect: true,
      };
    case 'connection-lost':
      return {
        title: 'Connection lost',
        detail: `The connection to the gateway dropped: ${reason.message} Reconnect to open a new session.`,
        canReconnect: true,
      };
    case 'gateway':
      return gatewayEnd(reason.cause, reason.message, resourceName);
  }
}

function gatewayEnd(
  cause: Extract<TerminalEndReason, { kind: 'gateway' }>['cause'],
  message: string,
  resourceName: string,
): EndMessage {
  const said = message.trim() === '' ? '' : ` The gateway said: “${message.trim()}”`;
  switch (cause) {
    case 'expired':
      return {
        title: 'Session expired',
        detail: `Your time on ${resourceName} ran out and the gateway ended the session.${said} Reconnect if your grant still allows it, or request access again.`,
        canReconnect: true,
      };
    case 'terminated':
      return {
        title: 'Terminated by an admin',
        detail: `An administrator ended this session on ${resourceName}.${said}`,
        canReconnect: true,
      };
    case 'revoked':
      return {
        title: 'Access revoked',
        detail: `Your access to ${resourceName} was revoked, so the gateway ended the session.${said} Request access again to continue.`,
        canReconnect: false,
      };
    case 'disabled':
      return {
        title: 'Account disabled',
        detail: `Your account was disabled and the gateway ended the session.${said} Contact your administrator.`,
        canReconnect: false,
      };
    case 'recording_failed':
      return {
        title: 'Recording failed',
        detail: `The gateway could not keep recording this session on ${resourceName}, so it ended it (no unrecorded access is allowed).${said}`,
        canReconnect: true,
      };
    case 'other':
      return {
        title: 'Session ended by the gateway',
        detail: `The gateway ended the session on ${resourceName}.${said}`,
        canReconnect: true,
      };
  }
}
