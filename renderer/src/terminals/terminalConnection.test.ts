import { describe, expect, it } from 'vitest';
import type {
  CallName,
  CallRequest,
  CallResponse,
  DesktopApi,
} from '../../../main/ipc/contract.ts';
import {
  type ConnectionState,
  TerminalConnection,
  type TerminalScreen,
} from './terminalConnection.ts';
import { TerminalEventRouter } from './terminalEventRouter.ts';

type Call = { name: CallName; request: unknown };

/** A DesktopApi whose terminals.open answers when the test says; other calls resolve at once. */
function fakeApi() {
  const calls: Call[] = [];
  const opens: { resolve(v: CallResponse<'terminals.open'>): void; reject(e: unknown): void }[] =
    [];
  const api: DesktopApi = {
    call<N extends CallName>(name: N, request: CallRequest<N>): Promise<CallResponse<N>> {
      calls.push({ name, request });
      if (name === 'terminals.open') {
        return new Promise((resolve, reject) => {
          opens.push({ resolve: resolve as (v: CallResponse<'terminals.open'>) => void, reject });
        });
      }
      return Promise.resolve({} as CallResponse<N>);
    },
    on: () => () => {},
  };
  const answerOpen = (terminalId: string) =>
    opens.shift()?.resolve({
      terminalId,
      sessionId: `session-${terminalId}`,
      resourceName: 'web-1',
      expiresAt: '2030-01-01T00:00:00.000Z',
    });
  const named = (name: CallName) => calls.filter((c) => c.name === name).map((c) => c.request);
  return { api, calls, opens, answerOpen, named };
}

/** An xterm stand-in whose write callbacks run only when the test "parses". */
function fakeScreen() {
  const written: string[] = [];
  const unparsed: (() => void)[] = [];
  let inputEnabled = false;
  let size = { cols: 80, rows: 24 };
  const screen: TerminalScreen = {
    size: () => size,
    write(data, parsed) {
      written.push(data);
      if (parsed) unparsed.push(parsed);
    },
    setInputEnabled(enabled) {
      inputEnabled = enabled;
    },
  };
  return {
    screen,
    written,
    parseAll: () => {
      for (const callback of unparsed.splice(0)) callback();
    },
    inputEnabled: () => inputEnabled,
    setSize: (s: typeof size) => {
      size = s;
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

function setup() {
  const api = fakeApi();
  const screen = fakeScreen();
  const router = new TerminalEventRouter();
  const states: ConnectionState[] = [];
  const connection = new TerminalConnection({
    api: api.api,
    router,
    resourceId: 'res-1',
    screen: screen.screen,
    onState: (s) => states.push(s),
    describeError: (e) => (e as { message: string }).message,
    resizeDebounceMs: 0,
  });
  return { api, screen, router, states, connection };
}

describe('TerminalConnection', () => {
  it('opens with the screen size and goes live with input enabled', async () => {
    const t = setup();
    t.connection.open();
    expect(t.api.named('terminals.open')).toEqual([
      { resourceId: 'res-1', size: { cols: 80, rows: 24 } },
    ]);
    expect(t.states.at(-1)).toEqual({ kind: 'opening' });
    expect(t.screen.inputEnabled()).toBe(false);
    t.api.answerOpen('t1');
    await tick();
    expect(t.states.at(-1)).toMatchObject({
      kind: 'live',
      terminalId: 't1',
      sessionId: 'session-t1',
    });
    expect(t.screen.inputEnabled()).toBe(true);
  });

  it('acks output only after the screen has parsed it, summed per task', async () => {
    const t = setup();
    t.connection.open();
    t.api.answerOpen('t1');
    await tick();
    t.router.data({ terminalId: 't1', data: 'a'.repeat(10), bytes: 10 });
    t.router.data({ terminalId: 't1', data: 'b'.repeat(5), bytes: 5 });
    await tick();
    expect(t.screen.written).toEqual(['a'.repeat(10), 'b'.repeat(5)]);
    expect(t.api.named('terminals.ack')).toEqual([]); // received is not painted
    t.screen.parseAll();
    await tick();
    expect(t.api.named('terminals.ack')).toEqual([{ terminalId: 't1', bytes: 15 }]);
  });

  it('shows output that arrived before the open answer', async () => {
    const t = setup();
    t.connection.open();
    t.router.data({ terminalId: 't1', data: '$ ', bytes: 2 });
    t.api.answerOpen('t1');
    await tick();
    expect(t.screen.written).toEqual(['$ ']);
  });

  it('sends input in order, split at the contract limit', async () => {
    const t = setup();
    t.connection.open();
    t.connection.input('ignored while opening');
    t.api.answerOpen('t1');
    await tick();
    t.connection.input('echo $((6*7))\r');
    t.connection.input('x'.repeat(70_000));
    await tick();
    await tick();
    const writes = t.api.named('terminals.write') as { data: string }[];
    expect(writes[0]).toEqual({ terminalId: 't1', data: 'echo $((6*7))\r' });
    expect(writes.map((w) => w.data.length)).toEqual([14, 65_536, 70_000 - 65_536]);
  });

  it('forwards a changed size once live, and not an unchanged one', async () => {
    const t = setup();
    t.connection.open();
    t.connection.resize({ cols: 100, rows: 30 }); // ignored: not live yet
    t.api.answerOpen('t1');
    await tick();
    t.connection.resize({ cols: 80, rows: 24 });
    await tick();
    expect(t.api.named('terminals.resize')).toEqual([]);
    t.connection.resize({ cols: 120, rows: 40 });
    await tick();
    expect(t.api.named('terminals.resize')).toEqual([
      { terminalId: 't1', size: { cols: 120, rows: 40 } },
    ]);
  });

  it('reports the end reason, disables input, and reconnects to a new terminal', async () => {
    const t = setup();
    t.connection.open();
    t.api.answerOpen('t1');
    await tick();
    t.router.ended({
      terminalId: 't1',
      reason: { kind: 'gateway', cause: 'expired', message: 'grant ended' },
    });
    expect(t.states.at(-1)).toMatchObject({ kind: 'ended', sessionId: 'session-t1' });
    expect(t.screen.inputEnabled()).toBe(false);
    t.connection.input('lost');
    t.connection.open();
    t.api.answerOpen('t2');
    await tick();
    expect(t.states.at(-1)).toMatchObject({ kind: 'live', terminalId: 't2' });
    t.router.data({ terminalId: 't1', data: 'stale', bytes: 5 });
    expect(t.screen.written).toEqual([]);
    expect(t.api.named('terminals.write')).toEqual([]);
  });

  it('shows why the session could not open', async () => {
    const t = setup();
    t.connection.open();
    t.api.opens.shift()?.reject({ code: 'forbidden', message: 'No grant for web-1.' });
    await tick();
    expect(t.states.at(-1)).toEqual({ kind: 'failed', message: 'No grant for web-1.' });
  });

  it('closes a live terminal on close, and an orphan that opens after the tab closed', async () => {
    const t = setup();
    t.connection.open();
    t.api.answerOpen('t1');
    await tick();
    t.connection.close();
    expect(t.api.named('terminals.close')).toEqual([{ terminalId: 't1' }]);

    const u = setup();
    u.connection.open();
    u.connection.close();
    expect(u.api.named('terminals.close')).toEqual([]);
    u.api.answerOpen('late');
    await tick();
    expect(u.api.named('terminals.close')).toEqual([{ terminalId: 'late' }]);
    expect(u.states.at(-1)).toEqual({ kind: 'opening' });
  });
});
