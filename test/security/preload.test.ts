/**
 * The preload exposes `window.witness = {call, on}` and only contract names cross it
 * (CONVENTIONS.md, "Security regressions are tests"). Electron cannot run here, so 'electron'
 * is replaced by a recording fake: that is the only way to see exactly what the preload hands
 * to contextBridge and ipcRenderer.
 */
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CALL_NAMES, EVENT_NAMES } from '../../main/ipc/channels.ts';
import type { DesktopApi } from '../../main/ipc/contract.ts';

const electron = vi.hoisted(() => {
  const exposed: { key: string; api: unknown }[] = [];
  const listeners = new Map<string, Set<(...args: unknown[]) => void>>();
  return {
    exposed,
    listeners,
    invoke: vi.fn(
      async (_channel: string, _request: unknown): Promise<unknown> => ({ ok: true, value: {} }),
    ),
  };
});

vi.mock('electron', () => ({
  contextBridge: {
    exposeInMainWorld: (key: string, api: unknown) => electron.exposed.push({ key, api }),
  },
  ipcRenderer: {
    invoke: electron.invoke,
    on: (channel: string, listener: (...args: unknown[]) => void) => {
      let set = electron.listeners.get(channel);
      if (!set) {
        set = new Set();
        electron.listeners.set(channel, set);
      }
      set.add(listener);
    },
    removeListener: (channel: string, listener: (...args: unknown[]) => void) => {
      electron.listeners.get(channel)?.delete(listener);
    },
  },
}));

let api: DesktopApi;

beforeAll(async () => {
  await import('../../main/preload.ts');
  api = electron.exposed[0]?.api as DesktopApi;
});

beforeEach(() => {
  electron.invoke.mockClear();
});

describe('preload', () => {
  it('exposes exactly one object, window.witness, with only call and on', () => {
    expect(electron.exposed.map((e) => e.key)).toEqual(['witness']);
    expect(Object.keys(api).sort()).toEqual(['call', 'on']);
    expect(typeof api.call).toBe('function');
    expect(typeof api.on).toBe('function');
  });

  it('sends every contract call on its main: channel', async () => {
    for (const name of CALL_NAMES) {
      await api.call(name, {} as never);
      expect(electron.invoke).toHaveBeenLastCalledWith(`main:${name}`, {});
    }
    expect(electron.invoke).toHaveBeenCalledTimes(CALL_NAMES.length);
  });

  it.each([
    'fs.readFile',
    'shell.openExternal',
    '__proto__',
    'constructor',
    'toString',
    'main:app.getState',
    'app.getState ',
    '',
  ])('refuses the non-contract call %j without touching IPC', async (name) => {
    await expect(api.call(name as never, {} as never)).rejects.toEqual({
      code: 'unknown_call',
      message: expect.stringContaining('no call named'),
    });
    expect(electron.invoke).not.toHaveBeenCalled();
  });

  it('rejects with a plain {code, message} rebuilt from the outcome', async () => {
    electron.invoke.mockResolvedValueOnce({
      ok: false,
      error: { code: 'session_expired', message: 'Sign in again.' },
    });
    const rejected = await api.call('resources.list', {}).catch((e: unknown) => e);
    expect(rejected).toEqual({ code: 'session_expired', message: 'Sign in again.' });
    expect(Object.getPrototypeOf(rejected)).toBe(Object.prototype);
  });

  it('resolves with the value only', async () => {
    electron.invoke.mockResolvedValueOnce({ ok: true, value: { resources: [] } });
    await expect(api.call('resources.list', {})).resolves.toEqual({ resources: [] });
  });

  it('subscribes to contract events only, passes the payload without the IPC event, and unsubscribes', () => {
    for (const name of EVENT_NAMES) {
      const received: unknown[] = [];
      const off = api.on(name, (payload) => received.push(payload));
      const registered = [...(electron.listeners.get(`renderer:${name}`) ?? [])];
      expect(registered).toHaveLength(1);
      const ipcEvent = { sender: { send: () => {} }, senderId: 0 };
      registered[0]?.(ipcEvent, { hello: name });
      expect(received).toEqual([{ hello: name }]);
      off();
      expect(electron.listeners.get(`renderer:${name}`)?.size).toBe(0);
    }
    for (const bad of ['terminal.data ', 'renderer:app.stateChanged', 'ipc-message', '__proto__']) {
      expect(() => api.on(bad as never, () => {})).toThrow(/no event named/);
    }
    expect([...electron.listeners.keys()].every((c) => c.startsWith('renderer:'))).toBe(true);
  });

  it('bundles for a sandboxed preload: requires nothing but electron', async () => {
    // @ts-expect-error: a plain .mjs build script without type declarations
    const { buildPreload } = (await import('../../scripts/build-electron.mjs')) as {
      buildPreload(o: { write: boolean }): Promise<{ requires: string[]; inputs: string[] }>;
    };
    const { requires, inputs } = await buildPreload({ write: false });
    expect(requires).toEqual(['electron']);
    expect(inputs.sort()).toEqual(['main/ipc/channels.ts', 'main/preload.ts']);
  });
});
