/**
 * The dispatcher both transports share: a request that does not match the contract never
 * reaches a handler, an unknown call is refused, and a response field the contract does not
 * declare (a token, say) is stripped before it leaves main. Also: the browser bridge's restated
 * wire types still agree with main/webhost/protocol.ts (checked by the compiler).
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { CALL_NAMES } from '../../main/ipc/channels.ts';
import {
  type CallerContext,
  type CallHandlers,
  calls,
  DesktopError,
} from '../../main/ipc/contract.ts';
import { createDispatcher } from '../../main/ipc/dispatcher.ts';
import type { CallMessage, ServerMessage } from '../../main/webhost/protocol.ts';
import { BRIDGE_SUBPROTOCOL, SECRET_SUBPROTOCOL_PREFIX } from '../../main/webhost/protocol.ts';
import { createStubWebHostApp } from '../../main/webhost/stubWebHostApp.ts';
import type {
  BridgeCallMessage,
  BridgeServerMessage,
} from '../../renderer/src/desktopApi/webHostBridge.ts';
import * as bridge from '../../renderer/src/desktopApi/webHostBridge.ts';

const caller: CallerContext = { clientId: 'test', emit: () => {} };

function handlersRecording(): { handlers: CallHandlers; received: string[] } {
  const received: string[] = [];
  const handlers = Object.fromEntries(
    CALL_NAMES.map((name) => [
      name,
      async () => {
        received.push(name);
        return {};
      },
    ]),
  ) as unknown as CallHandlers;
  return { handlers, received };
}

describe('IPC contract', () => {
  it('refuses an unknown call without running any handler', async () => {
    const { handlers, received } = handlersRecording();
    const dispatcher = createDispatcher(handlers);
    for (const name of ['fs.readFile', 'exec', '__proto__', 'constructor', 42, null, undefined]) {
      expect(await dispatcher.dispatch(name, {}, caller)).toMatchObject({
        ok: false,
        error: { code: 'unknown_call' },
      });
    }
    expect(received).toEqual([]);
  });

  it.each([
    ['account.login', { username: 'a' }],
    ['account.login', { username: 'a', password: 'b', totpCode: '12' }],
    ['account.login', { username: 'a', password: 'b', extra: 'field' }],
    ['terminals.write', { terminalId: 't', data: 'x'.repeat(64 * 1024 + 1) }],
    ['terminals.resize', { terminalId: 't', size: { cols: 0, rows: 24 } }],
    ['terminals.resize', { terminalId: 't', size: { cols: 1e9, rows: 24 } }],
    ['terminals.open', { resourceId: '', size: { cols: 80, rows: 24 } }],
    ['terminals.ack', { terminalId: 't', bytes: -1 }],
    ['app.getState', { sneaky: true }],
    ['gateway.inspect', 'http://example'],
    ['recordings.list', { limit: 10_000 }],
  ])('rejects an invalid %s payload with invalid_request', async (name, request) => {
    const { handlers, received } = handlersRecording();
    const outcome = await createDispatcher(handlers).dispatch(name, request, caller);
    expect(outcome).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect(received).toEqual([]);
  });

  it('strips response fields the contract does not declare', async () => {
    const stub = createStubWebHostApp();
    const outcome = await createDispatcher(stub.handlers).dispatch('app.getState', {}, caller);
    expect(outcome.ok).toBe(true);
    expect(JSON.stringify(outcome)).not.toContain('stub-access-token');
    expect(Object.keys((outcome as { value: object }).value).sort()).toEqual(
      Object.keys(calls['app.getState'].response.shape).sort(),
    );
  });

  it('passes DesktopError codes through and hides unexpected errors', async () => {
    const { handlers } = handlersRecording();
    handlers['resources.list'] = async () => {
      throw new DesktopError('session_expired', 'Sign in again.');
    };
    handlers['recordings.list'] = async () => {
      throw new Error('ECONNREFUSED 10.0.0.5:8443 token=abc');
    };
    const logged: string[] = [];
    const dispatcher = createDispatcher(handlers, { logUnexpected: (name) => logged.push(name) });
    expect(await dispatcher.dispatch('resources.list', {}, caller)).toEqual({
      ok: false,
      error: { code: 'session_expired', message: 'Sign in again.' },
    });
    const hidden = await dispatcher.dispatch('recordings.list', {}, caller);
    expect(hidden).toMatchObject({ ok: false, error: { code: 'internal' } });
    expect(JSON.stringify(hidden)).not.toContain('token=abc');
    expect(logged).toEqual(['recordings.list']);
  });

  it('the browser bridge and the web host agree on the wire format', () => {
    expectTypeOf<BridgeCallMessage>().toEqualTypeOf<CallMessage>();
    expectTypeOf<ServerMessage>().toExtend<BridgeServerMessage>();
    expect(bridge.BRIDGE_SUBPROTOCOL).toBe(BRIDGE_SUBPROTOCOL);
    expect(bridge.SECRET_SUBPROTOCOL_PREFIX).toBe(SECRET_SUBPROTOCOL_PREFIX);
  });
});
