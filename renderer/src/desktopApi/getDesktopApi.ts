/**
 * The one way the renderer reaches main: `window.witness` when the Electron preload exposed it,
 * otherwise the web host's WebSocket bridge (the page was opened from the URL `npm start`
 * printed, `http://127.0.0.1:PORT/#token=…`).
 */
import type { DesktopApi, ErrorCode } from '../../../main/ipc/contract.ts';
import { connectWebHostBridge } from './webHostBridge.ts';

declare global {
  interface Window {
    /** Set by main/preload.ts through contextBridge (Electron only). */
    witness?: DesktopApi;
  }
}

const SECRET_STORAGE_KEY = 'witness.launchSecret';

let connecting: Promise<DesktopApi> | null = null;
const closedListeners = new Set<(reason: string) => void>();

/** Resolves to the same API for the page's lifetime. */
export function getDesktopApi(): Promise<DesktopApi> {
  if (window.witness) return Promise.resolve(window.witness);
  connecting ??= connectWebHostBridge({
    url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ipc`,
    secret: takeLaunchSecret(),
    onClosed: (reason) => {
      for (const listener of closedListeners) listener(reason);
    },
  });
  return connecting;
}

/**
 * Web host only: called once if the connection to the host is lost (the host stopped). The
 * Electron app has no such failure, so this never fires there.
 */
export function onDesktopApiClosed(listener: (reason: string) => void): () => void {
  closedListeners.add(listener);
  return () => {
    closedListeners.delete(listener);
  };
}

/** Rejections from `call` are `{code, message}` (plain from the preload, an Error from the bridge). */
export function isDesktopError(e: unknown): e is { code: ErrorCode; message: string } {
  if (typeof e !== 'object' || e === null) return false;
  const { code, message } = e as { code?: unknown; message?: unknown };
  return typeof code === 'string' && typeof message === 'string';
}

/**
 * The secret arrives in the fragment (never sent in requests or Referer). It is moved out of the
 * address bar into sessionStorage, so it is not left on screen or in screenshots, and a reload of
 * this tab still works.
 */
function takeLaunchSecret(): string {
  const match = /(?:^#|&)token=([A-Za-z0-9_-]+)/.exec(location.hash);
  if (match?.[1]) {
    sessionStorage.setItem(SECRET_STORAGE_KEY, match[1]);
    history.replaceState(null, '', location.pathname + location.search);
    return match[1];
  }
  return sessionStorage.getItem(SECRET_STORAGE_KEY) ?? '';
}
