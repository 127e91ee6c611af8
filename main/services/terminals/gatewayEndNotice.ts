/**
 * How the gateway's SSH proxy says it ended a session, read back into a `TerminalEndReason`.
 *
 * The proxy (gateway/proxy/ssh/sessionBridge.ts, SessionChannelBridge.close) writes
 * `\r\nWitness: <notice>\r\n` on the channel's stderr, then EOF and CLOSE *without* an
 * exit-status — so "closed without exit status, after a Witness notice" is the gateway's end.
 * The notice texts come from gateway/sessions/liveSessions.ts `describeSessionEnd` and the end
 * reasons stored by the API (grantBook.ts, resourceCatalog.ts, routes.ts terminate,
 * sshListener.ts RECORDER_FAILURE_NOTICE):
 *
 *   expired     "Your access to web-1 ended at 14:02 UTC (grant limit). Request access again…"
 *   terminated  "Your session on web-1 was ended (terminated by root)."
 *   revoked     "Your session on web-1 was ended (access revoked: the grant was deleted)."
 *   disabled    "… (user disabled)" / "the account is disabled"
 *   recording   "the recording could not be saved; this session was closed."
 *
 * The gateway is the authority on the words; this only picks the category the renderer uses
 * for its headline, and keeps the gateway's sentence as the message.
 */
import type { TerminalEndReason } from '../../ipc/contract.ts';

type GatewayCause = Extract<TerminalEndReason, { kind: 'gateway' }>['cause'];

/** A notice line as the proxy frames it; the last one in the stderr tail wins. */
const NOTICE = /\r?\nWitness: ([^\r\n]+)\r?\n/g;

/** The last gateway notice in `stderrTail`, or undefined. */
export function findGatewayNotice(stderrTail: string): string | undefined {
  let last: string | undefined;
  for (const match of stderrTail.matchAll(NOTICE)) last = match[1];
  return last?.trim();
}

export function classifyGatewayNotice(notice: string): GatewayCause {
  const text = notice.toLowerCase();
  // The gateway's own fixed phrases first (a user name inside "terminated by NAME" must not
  // decide the category), then looser words for wordings this list does not know yet.
  if (text.includes('recording could not be saved') || text.includes('recording failed')) {
    return 'recording_failed';
  }
  if (text.includes('(grant limit)')) return 'expired';
  // Offboarding (issue #14) ends sessions as "access revoked: the account was disabled": the
  // person should read "Account disabled", not a grant problem they could request around.
  if (/access revoked: the (user|account) (is |was )?disabled\b/.test(text)) return 'disabled';
  if (text.includes('access revoked')) return 'revoked';
  if (text.includes('(terminated by ')) return 'terminated';
  if (/\b(user|account) (is )?disabled\b/.test(text)) return 'disabled';
  if (/\bexpired\b/.test(text)) return 'expired';
  if (/\brevoked\b/.test(text)) return 'revoked';
  if (/\bdisabled\b/.test(text)) return 'disabled';
  if (/\bterminated\b/.test(text)) return 'terminated';
  return 'other';
}

export function gatewayEndReason(notice: string): TerminalEndReason {
  return { kind: 'gateway', cause: classifyGatewayNotice(notice), message: notice };
}
