/**
 * The Electron composition root, and the only file that imports Electron's app and window APIs
 * (CONVENTIONS.md, "Wire each process in one place"). It cannot run on this machine (the Electron
 * binary is not downloadable here); it type-checks against electron.d.ts and bundles with
 * scripts/build-electron.mjs. The web host (main/webhost/server.ts) wires the same services for
 * a browser and is what the tests drive.
 *
 * Hardening (DESIGN.md, Desktop): one window, contextIsolation + sandbox + no node integration,
 * the renderer served from a privileged app:// scheme with a strict CSP on every response,
 * navigation, new windows and <webview> refused, only clipboard permissions granted, and IPC
 * accepted only from our own page's main frame.
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  app,
  BrowserWindow,
  dialog,
  type IpcMainInvokeEvent,
  ipcMain,
  Notification,
  net,
  protocol,
  safeStorage,
  session,
  shell,
  type WebContents,
} from 'electron';
import { CALL_NAMES, callChannel, eventChannel } from './ipc/channels.ts';
import type { CallerContext, EventPayload, EventSender } from './ipc/contract.ts';
import { createDispatcher, type Dispatcher } from './ipc/dispatcher.ts';
import { outsideAsar } from './services/asarPaths.ts';
import { createDesktopApp, type DesktopApp, type DesktopPlatform } from './services/desktopApp.ts';
import { parseEventPayload } from './webhost/parseEventPayload.ts';
import { resolveInside, securityHeaders } from './webhost/staticFiles.ts';

const APP_SCHEME = 'app';
const APP_ORIGIN = `${APP_SCHEME}://witness`;
const DEEP_LINK_SCHEME = 'witness';
const CLIPBOARD_PERMISSIONS = new Set(['clipboard-read', 'clipboard-sanitized-write']);

/** The app root: the checkout in development, app.asar when packaged. */
const appRoot = app.getAppPath();

// Must run before 'ready': app:// behaves like https (origin, CSP 'self', fetch) for our pages.
protocol.registerSchemesAsPrivileged([
  { scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

if (!app.requestSingleInstanceLock()) {
  // Another Witness window is open; it receives our argv (and any witness:// link) instead.
  app.quit();
} else {
  run().catch((error: unknown) => {
    console.error('Witness could not start:', error);
    app.exit(1);
  });
}

async function run(): Promise<void> {
  registerDeepLinkScheme();
  let window: BrowserWindow | null = null;
  let desktopApp: DesktopApp | null = null;
  let dispatcher: Dispatcher | null = null;
  /** Deep links that arrived before the renderer could listen (flushed after its first app.getState). */
  const pendingLinks: string[] = [...deepLinksIn(process.argv)];
  let rendererListening = false;

  const sendEvent = <E extends Parameters<EventSender>[0]>(
    contents: WebContents,
    name: E,
    payload: EventPayload<E>,
  ) => {
    if (!contents.isDestroyed())
      contents.send(eventChannel(name), parseEventPayload(name, payload));
  };
  const deliverLinks = () => {
    if (!window || !rendererListening) return;
    for (const link of pendingLinks.splice(0))
      sendEvent(window.webContents, 'app.deepLink', { kind: 'enroll', link });
  };
  const acceptLinks = (argv: string[]) => {
    pendingLinks.push(...deepLinksIn(argv));
    deliverLinks();
    if (window) {
      if (window.isMinimized()) window.restore();
      window.focus();
    }
  };
  app.on('second-instance', (_event, argv) => acceptLinks(argv));
  app.on('open-url', (event, url) => {
    event.preventDefault();
    acceptLinks([url]);
  });

  hardenAllWebContents();
  await app.whenReady();
  const rendererDir = path.join(appRoot, 'dist', 'renderer');
  protocol.handle(APP_SCHEME, (request) => serveRenderer(rendererDir, request));
  session.defaultSession.setPermissionRequestHandler((_contents, permission, callback) =>
    callback(CLIPBOARD_PERMISSIONS.has(permission)),
  );
  session.defaultSession.setPermissionCheckHandler((_contents, permission) =>
    CLIPBOARD_PERMISSIONS.has(permission),
  );

  const platform: DesktopPlatform = {
    appDataDir: app.getPath('userData'),
    secretStore: 'auto',
    encryptor: {
      isAvailable: () => safeStorage.isEncryptionAvailable(),
      encrypt: (text) => safeStorage.encryptString(text),
      decrypt: (data) => safeStorage.decryptString(data),
    },
    // A child process reads it from disk: asarUnpack puts it beside the archive.
    gatewayBin: outsideAsar(path.join(appRoot, 'bin', 'witness-gateway.mjs')),
    useLocalGatewayWhenNoneEnrolled: true,
    log: (line) => console.log(line),
    // Replay (issue #6): files are chosen in main's own dialogs, so the renderer never names a
    // path — opening a bundle and saving an export are the only file access it can ask for.
    chooseBundleFile: async () => {
      const options: Electron.OpenDialogOptions = {
        title: 'Open a recording bundle',
        properties: ['openFile'],
        filters: [
          { name: 'Witness bundles', extensions: ['wbundle'] },
          { name: 'All files', extensions: ['*'] },
        ],
      };
      const result = window
        ? await dialog.showOpenDialog(window, options)
        : await dialog.showOpenDialog(options);
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
    chooseExportFile: async (suggestedName) => {
      const options: Electron.SaveDialogOptions = {
        title: 'Export recording',
        defaultPath: path.join(app.getPath('downloads'), suggestedName),
      };
      const result = window
        ? await dialog.showSaveDialog(window, options)
        : await dialog.showSaveDialog(options);
      return result.canceled || !result.filePath ? null : result.filePath;
    },
    // Issue #14: "approved"/"denied" for my access request reaches me even with the window
    // in the background; the renderer also shows it in the panel.
    notify: (notice) => {
      if (Notification.isSupported()) new Notification(notice).show();
    },
    // Issue #18: a provider's sign-in page opens in the system browser (RFC 8252 §8.12: not an
    // embedded view); the gateway only ever hands out its own https start URL.
    openExternal: (url) => shell.openExternal(url),
  };
  // The local gateway runs `process.execPath bin/witness-gateway.mjs …` (and its admin CLI the
  // same way). Under Electron, execPath is the Electron binary: this makes those children run
  // as plain Node. It changes nothing for this process, and nothing else here spawns Electron.
  process.env.ELECTRON_RUN_AS_NODE = '1';
  desktopApp = await createDesktopApp(platform);
  const services = desktopApp;
  dispatcher = createDispatcher(services.handlers, {
    logUnexpected: (name, error) => console.error(`call ${name} failed:`, error),
  });
  const calls = dispatcher;

  window = new BrowserWindow({
    width: 1200,
    height: 800,
    title: 'Witness',
    // Linux and Windows show it in the task bar; macOS takes the bundle's icon.icns instead.
    icon: path.join(appRoot, 'assets', 'icon.png'),
    show: false,
    webPreferences: {
      preload: path.join(appRoot, 'dist', 'main', 'preload.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
      webviewTag: false,
      spellcheck: false,
    },
  });
  const contents = window.webContents;
  const clientId = `window-${contents.id}`;
  const caller: CallerContext = {
    clientId,
    emit: (name, payload) => sendEvent(contents, name, payload),
  };
  const stopBroadcast = services.onBroadcast((name, payload) => sendEvent(contents, name, payload));
  contents.once('destroyed', () => {
    stopBroadcast();
    services.clientDisconnected(clientId);
  });

  for (const name of CALL_NAMES) {
    ipcMain.handle(callChannel(name), async (event: IpcMainInvokeEvent, request: unknown) => {
      if (!fromOurPage(event, contents)) {
        return {
          ok: false,
          error: { code: 'forbidden', message: 'IPC from an unexpected frame.' },
        };
      }
      const outcome = await calls.dispatch(name, request, caller);
      // The renderer subscribes before its first app.getState, so links can go out from here on.
      if (name === 'app.getState' && !rendererListening) {
        rendererListening = true;
        setImmediate(deliverLinks);
      }
      return outcome;
    });
  }

  window.once('ready-to-show', () => window?.show());
  window.on('closed', () => {
    window = null;
  });
  await window.loadURL(`${APP_ORIGIN}/index.html`);

  app.on('window-all-closed', () => app.quit());
  let disposed = false;
  app.on('before-quit', (event) => {
    if (disposed) return;
    // Stop terminals, the local gateway and demo targets before the process goes.
    event.preventDefault();
    disposed = true;
    void services
      .dispose()
      .catch((error: unknown) => console.error('dispose failed:', error))
      .finally(() => app.quit());
  });
}

function registerDeepLinkScheme(): void {
  if (process.defaultApp && process.argv[1]) {
    // `electron .` in development: the OS must start Electron with our app path.
    app.setAsDefaultProtocolClient(DEEP_LINK_SCHEME, process.execPath, [
      path.resolve(process.argv[1]),
    ]);
  } else {
    app.setAsDefaultProtocolClient(DEEP_LINK_SCHEME);
  }
}

/** `witness://enroll?…` arguments (Windows and Linux pass the link in argv). */
function deepLinksIn(argv: readonly string[]): string[] {
  return argv.filter(
    (arg) => arg.startsWith(`${DEEP_LINK_SCHEME}://enroll?`) && arg.length <= 4096,
  );
}

function fromOurPage(event: IpcMainInvokeEvent, contents: WebContents): boolean {
  const frame = event.senderFrame;
  return (
    event.sender === contents &&
    frame !== null &&
    frame === contents.mainFrame &&
    frame.url.startsWith(`${APP_ORIGIN}/`)
  );
}

/** Navigation, popups and <webview> are refused for every web contents, ours or any future one. */
function hardenAllWebContents(): void {
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (event) => event.preventDefault());
    contents.on('will-redirect', (event) => event.preventDefault());
    contents.on('will-attach-webview', (event) => event.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
}

/** app://witness/… → a file under dist/renderer (the web host's path rules), with the CSP. */
async function serveRenderer(rendererDir: string, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const headers = securityHeaders();
  const file = url.host === 'witness' ? await resolveInside(rendererDir, url.pathname) : null;
  if (!file) return new Response('Not found', { status: 404, headers });
  const response = await net.fetch(pathToFileURL(file).href);
  const merged = new Headers(response.headers);
  for (const [name, value] of Object.entries(headers)) merged.set(name, value);
  return new Response(response.body, { status: response.status, headers: merged });
}
