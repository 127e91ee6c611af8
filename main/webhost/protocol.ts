/**
 * The web host's WebSocket protocol (plain types and constants, no I/O). The browser bridge
 * (renderer/src/desktopApi/webHostBridge.ts) restates these shapes because the renderer may
 * import nothing from main but the IPC contract; test/security/ipcContract.test.ts checks
 * at compile time that the two agree.
 *
 * - client → server: `{type: 'call', id, name, request}`, answered by one `result` with that id;
 * - server → client: `{type: 'result', id, outcome}` and `{type: 'event', name, payload}`;
 * - the per-launch secret is offered as a second subprotocol, `witness.secret.<base64url>`, next
 *   to `witness.v1`; the server selects `witness.v1` so the secret is never echoed back.
 */
import type { CallOutcome, EventName } from '../ipc/contract.ts';

export const IPC_PATH = '/ipc';
export const BRIDGE_SUBPROTOCOL = 'witness.v1';
export const SECRET_SUBPROTOCOL_PREFIX = 'witness.secret.';

/**
 * The largest frame accepted. terminals.write carries up to 64 Ki characters, and JSON escapes a
 * control character as six bytes (`\u0001`), so a legitimate write can approach 400 KiB.
 */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

/** Close codes (4000–4999 are for applications, RFC 6455 §7.4.2). */
export const CLOSE_CODES = {
  /** The launch secret was missing or wrong. */
  badSecret: 4401,
  /** A frame that is not a JSON call message (RFC 6455 1008: policy violation). */
  badMessage: 1008,
  /** Binary frames are not part of the protocol. */
  unsupportedData: 1003,
  /** The host is shutting down. */
  goingAway: 1001,
} as const;

export interface CallMessage {
  type: 'call';
  /** Chosen by the client, echoed in the result; a positive safe integer. */
  id: number;
  name: string;
  request: unknown;
}

export interface ResultMessage {
  type: 'result';
  id: number;
  outcome: CallOutcome<unknown>;
}

export interface EventMessage {
  type: 'event';
  name: EventName;
  payload: unknown;
}

export type ClientMessage = CallMessage;
export type ServerMessage = ResultMessage | EventMessage;

/** Parses one text frame; null when it is not a well-formed call message. */
export function parseClientMessage(text: string): CallMessage | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const { type, id, name, request } = value as Record<string, unknown>;
  if (type !== 'call' || typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0)
    return null;
  if (typeof name !== 'string') return null;
  return { type, id, name, request };
}
