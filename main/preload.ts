/**
 * The sandboxed preload: exposes `window.witness = {call, on}` and nothing else. Bundled to
 * dist/main/preload.cjs (a sandboxed preload cannot load modules), so it imports only
 * 'electron' and the plain name lists in channels.ts; contract.ts is imported for types only.
 *
 * Every name is checked against the contract here as well as in main, so a compromised renderer
 * cannot even reach an ipcMain channel that is not a contract call (for instance one a library
 * registered), and never receives the IpcRendererEvent (it carries `sender`).
 */
import { contextBridge, type IpcRendererEvent, ipcRenderer } from 'electron';
import { callChannel, eventChannel, isCallName, isEventName } from './ipc/channels.ts';
import type { CallOutcome, DesktopApi, DesktopErrorShape } from './ipc/contract.ts';

function rejection(code: DesktopErrorShape['code'], message: string): Promise<never> {
  // A plain object: contextBridge keeps only an Error's message, and the code matters.
  const error: DesktopErrorShape = { code, message };
  return Promise.reject(error);
}

const witnessApi: DesktopApi = {
  call(name, request) {
    if (!isCallName(name)) {
      return rejection('unknown_call', `There is no call named ${String(name).slice(0, 80)}.`);
    }
    return ipcRenderer
      .invoke(callChannel(name), request)
      .then((outcome: CallOutcome<never>) =>
        outcome.ok ? outcome.value : rejection(outcome.error.code, outcome.error.message),
      );
  },
  on(name, listener) {
    if (!isEventName(name))
      throw new Error(`There is no event named ${String(name).slice(0, 80)}.`);
    const channel = eventChannel(name);
    const forward = (_event: IpcRendererEvent, payload: unknown) =>
      (listener as (payload: unknown) => void)(payload);
    ipcRenderer.on(channel, forward);
    return () => {
      ipcRenderer.removeListener(channel, forward);
    };
  },
};

contextBridge.exposeInMainWorld('witness', witnessApi);
