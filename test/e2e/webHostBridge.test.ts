/**
 * The browser bridge (renderer/src/desktopApi/getDesktopApi.ts) in real Chromium against the
 * web host: the page loads under the host's CSP, takes the secret from the fragment (and removes
 * it from the address bar), calls through the WebSocket, gets events, and sees `{code, message}`
 * errors. A page from another origin cannot connect. Independent of the React app: the bridge
 * alone is bundled into a one-file test page.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startWebHost, type WebHost } from '../../main/webhost/server.ts';
import { createStubWebHostApp, type StubWebHostApp } from '../../main/webhost/stubWebHostApp.ts';
import { describeWithChromium, launchChromium } from './chromium.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');

describeWithChromium('web host bridge in Chromium', () => {
  let dir: string;
  let host: WebHost;
  let app: StubWebHostApp;
  let browser: Browser;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'witness-bridge-'));
    await build({
      absWorkingDir: repoRoot,
      stdin: {
        contents: `
          import { getDesktopApi, isDesktopError } from './renderer/src/desktopApi/getDesktopApi.ts';
          const out = (k, v) => { const el = document.createElement('pre'); el.id = k; el.textContent = JSON.stringify(v); document.body.append(el); };
          (async () => {
            out('hash', location.hash);
            try {
              const api = await getDesktopApi();
              api.on('terminal.data', (p) => out('event', p));
              out('state', await api.call('app.getState', {}));
              await api.call('terminals.write', { terminalId: 't1', data: 'hello' });
              try { await api.call('account.login', { username: 'a', password: 'b' }); }
              catch (e) { out('error', { isDesktopError: isDesktopError(e), code: e.code, message: e.message }); }
            } catch (e) { out('connectError', { code: e.code, message: e.message }); }
            out('done', true);
          })();`,
        resolveDir: repoRoot,
        loader: 'ts',
      },
      bundle: true,
      format: 'esm',
      outfile: path.join(dir, 'app.js'),
      logLevel: 'warning',
    });
    writeFileSync(
      path.join(dir, 'index.html'),
      '<!doctype html><html><body><script type="module" src="./app.js"></script></body></html>',
    );
    app = createStubWebHostApp();
    host = await startWebHost({ app, rendererDir: dir, port: 0 });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await host?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('calls, events and errors cross the bridge; the secret leaves the address bar', async () => {
    const page = await browser.newPage();
    const cspViolations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
    await page.goto(host.url);
    await page.waitForSelector('#done', { timeout: 15_000 });
    const read = async (id: string) => JSON.parse((await page.textContent(`#${id}`)) ?? 'null');
    expect(await read('hash')).toMatch(/^#token=/);
    expect(await page.$('#connectError')).toBeNull();
    expect((await read('state')).secretStore.kind).toBe('memory');
    expect(await read('event')).toEqual({ terminalId: 't1', data: 'hello', bytes: 5 });
    expect(await read('error')).toEqual({
      isDesktopError: true,
      code: 'wrong_credentials',
      message: 'Wrong username or password.',
    });
    expect(new URL(page.url()).hash).toBe('');
    expect(page.url()).not.toContain('token');
    expect(cspViolations).toEqual([]);

    // A reload of the same tab still connects (the secret moved to sessionStorage).
    await page.reload();
    await page.waitForSelector('#done', { timeout: 15_000 });
    expect(await page.$('#connectError')).toBeNull();
    await page.close();
  });

  it('a page opened without the secret is refused with the reason', async () => {
    const page = await browser.newPage();
    await page.goto(host.origin);
    await page.waitForSelector('#done', { timeout: 15_000 });
    const error = JSON.parse((await page.textContent('#connectError')) ?? 'null');
    expect(error.message).toMatch(/launch secret/);
    await page.close();
  });

  it('another origin on this machine cannot open the WebSocket', async () => {
    const page = await browser.newPage();
    // Any page not served by the host: its Origin differs, so the upgrade is refused.
    await page.goto('data:text/html,<title>other</title>');
    const outcome = await page.evaluate(
      ([url, secret]) =>
        new Promise<string>((resolve) => {
          const ws = new WebSocket(url as string, ['witness.v1', `witness.secret.${secret}`]);
          ws.onopen = () => resolve('open');
          ws.onclose = (e) => resolve(`closed ${e.code}`);
        }),
      [`ws://127.0.0.1:${host.port}/ipc`, new URL(host.url).hash.replace('#token=', '')],
    );
    expect(outcome).toBe('closed 1006');
    await page.close();
  });
});
