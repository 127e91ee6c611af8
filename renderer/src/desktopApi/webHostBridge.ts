/**
 * The browser side of the web host: the DesktopApi over one WebSocket to main/webhost/server.ts.
 *
 * The wire format is main/webhost/protocol.ts; the renderer may not import it (test/layering),
 * so the three message shapes are restated here and test/security/ipcContract.test.ts
 * checks at compile time that both sides still agree.
 */

import { isCallName, isEventName } from '../../../main/ipc/channels.ts';
import type { CallOutcome, DesktopApi, DesktopErrorShape } from '../../../main/ipc/contract.ts';

/** client → server */
export interface BridgeCallMessage {
  type: 'call';
  id: number;
  name: string;
  request: unknown;
}
/** server → client */
export type BridgeServerMessage =
  | { type: 'result'; id: number; outcome: CallOutcome<unknown> }
  | { type: 'event'; name: string; payload: unknown };

/** Offered in Sec-WebSocket-Protocol; the server selects it (never echoing the secret). */
export const BRIDGE_SUBPROTOCOL = 'witness.v1';
/** The launch secret travels as a second offered subprotocol, `witness.secret.<base64url>`. */
export const SECRET_SUBPROTOCOL_PREFIX = 'witness.secret.';

/** A rejected call: the same `{code, message}` the Electron preload rejects with, as an Error. */
export class BridgeCallError extends Error implements DesktopErrorShape {
  override readonly name = 'DesktopError';
  constructor(
    readonly code: DesktopErrorShape['code'],
    message: string,
  ) {
    super(message);
  }
}

export interface BridgeOptions {
  /** ws://127.0.0.1:PORT/ipc */
  url: string;
  /** The per-launch secret from the URL fragment. */
  secret: string;
  /** Told once when the connection to the host is gone (the UI says so; calls then reject). */
  onClosed?: (reason: string) => void;
}

/** Opens the WebSocket and resolves once it is open (rejects with why it could not). */
export function connectWebHostBridge(options: BridgeOptions): Promise<DesktopApi> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(options.url, [
      BRIDGE_SUBPROTOCOL,
      `${SECRET_SUBPROTOCOL_PREFIX}${options.secret}`,
    ]);
    let nextId = 1;
    let opened = false;
    let closedReason: string | null = null;
    const pending = new Map<
      number,
      { resolve: (v: unknown) => void; reject: (e: BridgeCallError) => void }
    >();
    const listeners = new Map<string, Set<(payload: unknown) => void>>();

    socket.addEventListener('open', () => {
      opened = true;
      resolve(api);
    });
    socket.addEventListener('close', (event) => {
      closedReason =
        event.reason ||
        (opened
          ? `The connection to the Witness web host closed (code ${event.code}); restart it with npm start and reload this page.`
          : 'Could not connect to the Witness web host: open the URL the launcher printed (it carries the launch secret).');
      for (const call of pending.values())
        call.reject(new BridgeCallError('internal', closedReason));
      pending.clear();
      if (!opened) reject(new BridgeCallError('internal', closedReason));
      else options.onClosed?.(closedReason);
    });
    socket.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') return;
      let message: BridgeServerMessage;
      try {
        message = JSON.parse(event.data) as BridgeServerMessage;
      } catch {
        return; // the host only sends JSON; anything else is ignored rather than trusted
      }
      if (message.type === 'result') {
        const call = pending.get(message.id);
        if (!call) return;
        pending.delete(message.id);
        if (message.outcome.ok) call.resolve(message.outcome.value);
        else
          call.reject(
            new BridgeCallError(message.outcome.error.code, message.outcome.error.message),
          );
      } else if (message.type === 'event' && isEventName(message.name)) {
        for (const listener of listeners.get(message.name) ?? []) listener(message.payload);
      }
    });

    const api: DesktopApi = {
      call(name, request) {
        if (!isCallName(name)) {
          return Promise.reject(
            new BridgeCallError('unknown_call', `There is no call named ${String(name)}.`),
          );
        }
        if (closedReason !== null || socket.readyState !== WebSocket.OPEN) {
          return Promise.reject(
            new BridgeCallError('internal', closedReason ?? 'The web host connection is not open.'),
          );
        }
        const id = nextId++;
        const message: BridgeCallMessage = { type: 'call', id, name, request };
        // The generic response type cannot be checked here; main parsed it against the contract.
        return new Promise<never>((res, rej) => {
          pending.set(id, { resolve: res as (v: unknown) => void, reject: rej });
          socket.send(JSON.stringify(message));
        });
      },
      on(name, listener) {
        if (!isEventName(name)) throw new Error(`There is no event named ${String(name)}.`);
        let set = listeners.get(name);
        if (!set) {
          set = new Set();
          listeners.set(name, set);
        }
        const untyped = listener as (payload: unknown) => void;
        set.add(untyped);
        return () => {
          set.delete(untyped);
        };
      },
    };
  });
}
