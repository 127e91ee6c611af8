/**
 * The Electron composition root (main/index.ts) and its hardening. Electron cannot run here, so
 * 'electron' is a recording fake and the desktop services are the web host's stub: this is the
 * only way to check what main/index.ts asks Electron for — the window's webPreferences, the
 * permission and navigation handlers, the IPC sender check, the app:// files and their CSP,
 * deep links and quitting.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { CALL_NAMES } from '../../main/ipc/channels.ts';

type Listener = (...args: unknown[]) => unknown;

const fake = vi.hoisted(() => {
  const appRoot = `${process.env.TMPDIR ?? '/tmp'}/witness-electron-main-${process.pid}`;
  const appListeners = new Map<string, Listener[]>();
  const contentsListeners = new Map<string, Listener[]>();
  const sent: { channel: string; payload: unknown }[] = [];
  const webContents = {
    id: 7,
    mainFrame: { url: 'app://witness/index.html' } as { url: string },
    send: (channel: string, payload: unknown) => sent.push({ channel, payload }),
    isDestroyed: () => false,
    once: (event: string, fn: Listener) => {
      contentsListeners.set(event, [...(contentsListeners.get(event) ?? []), fn]);
    },
  };
  return {
    appRoot,
    appListeners,
    contentsListeners,
    sent,
    webContents,
    windows: [] as { options: Record<string, unknown> }[],
    loaded: [] as string[],
    handlers: new Map<string, Listener>(),
    protocols: new Map<string, (request: Request) => Promise<Response>>(),
    privileged: [] as unknown[],
    permissionRequest: null as null | Listener,
    permissionCheck: null as null | Listener,
    quits: 0,
    defaultClient: [] as unknown[],
  };
});

const stubApp = vi.hoisted(() => ({
  current: null as null | import('../../main/webhost/stubWebHostApp.ts').StubWebHostApp,
}));

vi.mock('electron', () => {
  const on = (event: string, fn: Listener) => {
    fake.appListeners.set(event, [...(fake.appListeners.get(event) ?? []), fn]);
  };
  class BrowserWindow {
    webContents = fake.webContents;
    constructor(options: Record<string, unknown>) {
      fake.windows.push({ options });
    }
    once() {}
    on() {}
    show() {}
    isMinimized() {
      return false;
    }
    restore() {}
    focus() {}
    async loadURL(url: string) {
      fake.loaded.push(url);
    }
  }
  return {
    app: {
      getAppPath: () => fake.appRoot,
      getPath: () => `${fake.appRoot}/user-data`,
      requestSingleInstanceLock: () => true,
      setAsDefaultProtocolClient: (...args: unknown[]) => fake.defaultClient.push(args),
      whenReady: () => Promise.resolve(),
      on,
      quit: () => {
        fake.quits++;
      },
      exit: () => {},
    },
    BrowserWindow,
    ipcMain: { handle: (channel: string, fn: Listener) => fake.handlers.set(channel, fn) },
    net: {
      // The real net.fetch reads file:// URLs; Node's fetch does not.
      fetch: async (url: string) => {
        const { readFileSync: read } = await import('node:fs');
        const { fileURLToPath: toPath } = await import('node:url');
        return new Response(read(toPath(url)), { headers: { 'content-type': 'text/html' } });
      },
    },
    protocol: {
      registerSchemesAsPrivileged: (schemes: unknown[]) => fake.privileged.push(...schemes),
      handle: (scheme: string, fn: (request: Request) => Promise<Response>) =>
        fake.protocols.set(scheme, fn),
    },
    safeStorage: {
      isEncryptionAvailable: () => false,
      encryptString: () => Buffer.alloc(0),
      decryptString: () => '',
    },
    session: {
      defaultSession: {
        setPermissionRequestHandler: (fn: Listener) => {
          fake.permissionRequest = fn;
        },
        setPermissionCheckHandler: (fn: Listener) => {
          fake.permissionCheck = fn;
        },
      },
    },
  };
});

vi.mock('../../main/services/desktopApp.ts', async () => {
  const { createStubWebHostApp } = await import('../../main/webhost/stubWebHostApp.ts');
  return {
    createDesktopApp: async () => {
      stubApp.current = createStubWebHostApp();
      return stubApp.current;
    },
  };
});

const savedRunAsNode = process.env.ELECTRON_RUN_AS_NODE;

beforeAll(async () => {
  mkdirSync(path.join(fake.appRoot, 'dist', 'renderer'), { recursive: true });
  writeFileSync(
    path.join(fake.appRoot, 'dist', 'renderer', 'index.html'),
    '<title>Witness</title>',
  );
  writeFileSync(path.join(fake.appRoot, 'secret.txt'), 'TOP-SECRET');
  await import('../../main/index.ts');
  for (let i = 0; i < 200 && fake.loaded.length === 0; i++)
    await new Promise((r) => setTimeout(r, 10));
});

afterAll(() => {
  if (savedRunAsNode === undefined) delete process.env.ELECTRON_RUN_AS_NODE;
  else process.env.ELECTRON_RUN_AS_NODE = savedRunAsNode;
  rmSync(fake.appRoot, { recursive: true, force: true });
});

const ourEvent = () => ({ sender: fake.webContents, senderFrame: fake.webContents.mainFrame });

describe('Electron main', () => {
  it('opens one hardened window on the app:// page', () => {
    expect(fake.windows).toHaveLength(1);
    const prefs = fake.windows[0]?.options.webPreferences as Record<string, unknown>;
    expect(prefs).toMatchObject({
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
      webviewTag: false,
    });
    expect(prefs.preload).toBe(path.join(fake.appRoot, 'dist', 'main', 'preload.cjs'));
    expect(fake.loaded).toEqual(['app://witness/index.html']);
    expect(fake.privileged).toMatchObject([
      { scheme: 'app', privileges: { standard: true, secure: true } },
    ]);
    expect(fake.defaultClient[0]).toContain('witness');
    // Children spawned with process.execPath (the local gateway) run as Node.
    expect(process.env.ELECTRON_RUN_AS_NODE).toBe('1');
  });

  it('handles exactly the contract calls, and only from our own page', async () => {
    expect([...fake.handlers.keys()].sort()).toEqual(CALL_NAMES.map((n) => `main:${n}`).sort());
    const getState = fake.handlers.get('main:app.getState') as Listener;
    expect(await getState(ourEvent(), {})).toMatchObject({ ok: true });
    const otherFrame = {
      sender: fake.webContents,
      senderFrame: { url: 'https://attacker.example/' },
    };
    expect(await getState(otherFrame, {})).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    const otherSender = { sender: { id: 99 }, senderFrame: fake.webContents.mainFrame };
    expect(await getState(otherSender, {})).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    const login = fake.handlers.get('main:account.login') as Listener;
    expect(await login(ourEvent(), { username: 'a' })).toMatchObject({
      ok: false,
      error: { code: 'invalid_request' },
    });
    // The stub's undeclared accessToken never leaves main.
    expect(JSON.stringify(await getState(ourEvent(), {}))).not.toContain('stub-access-token');
  });

  it('grants only clipboard permissions', () => {
    const decide = (permission: string) => {
      let granted: boolean | undefined;
      fake.permissionRequest?.(fake.webContents, permission, (g: boolean) => {
        granted = g;
      });
      return granted;
    };
    expect(decide('clipboard-read')).toBe(true);
    expect(decide('clipboard-sanitized-write')).toBe(true);
    for (const p of [
      'media',
      'geolocation',
      'notifications',
      'openExternal',
      'fileSystem',
      'hid',
      'usb',
    ]) {
      expect(decide(p)).toBe(false);
      expect(fake.permissionCheck?.(fake.webContents, p)).toBe(false);
    }
  });

  it('blocks navigation, redirects, webviews and new windows for every web contents', () => {
    const listeners = new Map<string, Listener>();
    let openHandler: Listener | null = null;
    const contents = {
      on: (event: string, fn: Listener) => listeners.set(event, fn),
      setWindowOpenHandler: (fn: Listener) => {
        openHandler = fn;
      },
    };
    for (const fn of fake.appListeners.get('web-contents-created') ?? []) fn({}, contents);
    for (const event of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      const prevent = vi.fn();
      listeners.get(event)?.({ preventDefault: prevent });
      expect(prevent, event).toHaveBeenCalled();
    }
    expect((openHandler as Listener | null)?.({ url: 'https://example.com' })).toEqual({
      action: 'deny',
    });
  });

  it('serves app://witness/ files with the CSP, and nothing outside dist/renderer', async () => {
    const serve = fake.protocols.get('app') as (r: Request) => Promise<Response>;
    const page = await serve(new Request('app://witness/index.html'));
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>Witness</title>');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(csp).not.toContain('ws:');
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    for (const url of [
      'app://witness/../../secret.txt',
      'app://witness/%2e%2e/%2e%2e/secret.txt',
      'app://other/index.html',
    ]) {
      const refused = await serve(new Request(url));
      expect(refused.status, url).toBe(404);
      expect(await refused.text()).not.toContain('TOP-SECRET');
    }
  });

  it('sends events to the window with undeclared fields stripped', () => {
    const caller = stubApp.current?.callers.values().next().value;
    expect(caller).toBeDefined();
    fake.sent.length = 0;
    caller?.emit('terminal.data', {
      terminalId: 't',
      data: 'x',
      bytes: 1,
      ticket: 'wtk_leak',
    } as never);
    expect(fake.sent).toEqual([
      { channel: 'renderer:terminal.data', payload: { terminalId: 't', data: 'x', bytes: 1 } },
    ]);
  });

  it('delivers witness://enroll links from a second instance as app.deepLink', () => {
    fake.sent.length = 0;
    const link = 'witness://enroll?gateway=https%3A%2F%2Fgw%3A8443&token=t&fingerprint=f';
    for (const fn of fake.appListeners.get('second-instance') ?? []) {
      fn({}, ['/usr/bin/witness', '--flag', link, 'witness://other?x']);
    }
    expect(fake.sent).toEqual([
      { channel: 'renderer:app.deepLink', payload: { kind: 'enroll', link } },
    ]);
  });

  it('closes the window’s terminals when it goes, and disposes the services before quitting', async () => {
    for (const fn of fake.contentsListeners.get('destroyed') ?? []) fn();
    expect(stubApp.current?.disconnected).toEqual(['window-7']);
    const prevent = vi.fn();
    for (const fn of fake.appListeners.get('before-quit') ?? []) fn({ preventDefault: prevent });
    expect(prevent).toHaveBeenCalled();
    for (let i = 0; i < 100 && fake.quits === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(stubApp.current?.disposed).toBe(true);
    expect(fake.quits).toBe(1);
  });
});
