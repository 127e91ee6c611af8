/**
 * The built renderer served under the strict CSP (staticRendererServer.ts) to Debian's Chromium,
 * with the fake DesktopApi (test/fixtures/fakeDesktopApi.ts) installed in every page. Each page
 * records CSP violations and uncaught errors; `close` reports them so a suite can require none.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { buildRendererForTests, type RendererBuild } from '../e2e/buildRenderer.ts';
import { launchChromium } from '../e2e/chromium.ts';
import { type FakeOptions, installFakeDesktopApi } from '../fixtures/fakeDesktopApi.ts';
import { type StaticRendererServer, serveRenderer } from './staticRendererServer.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');

/** What each page's init script keeps for the test to read back. */
type ProblemWindow = { __cspViolations: string[]; __pageErrors: string[] };

export interface FakePageOptions {
  fake: FakeOptions;
  viewport: { width: number; height: number };
  theme: 'light' | 'dark';
  /** Turns WebGL off through the app's preference, so terminal text is in the DOM to read. */
  domRenderer: boolean;
}

export interface FakeDesktopInChromium {
  openPage(options: FakePageOptions): Promise<Page>;
  /** A PNG under test-results/<shotsFolder>/. */
  screenshot(page: Page, name: string): Promise<Buffer>;
  /** Closes browser, server and build; returns every CSP violation and page error seen. */
  close(): Promise<string[]>;
}

export async function startFakeDesktopInChromium(
  shotsFolder: string,
): Promise<FakeDesktopInChromium> {
  const shotsDir = path.join(repoRoot, 'test-results', shotsFolder);
  mkdirSync(shotsDir, { recursive: true });
  let build: RendererBuild | undefined;
  let server: StaticRendererServer | undefined;
  let browser: Browser | undefined;
  const pages: Page[] = [];

  const close = async () => {
    const problems: string[] = [];
    for (const page of pages) {
      if (page.isClosed()) continue;
      problems.push(
        ...(await page.evaluate(() => {
          const w = globalThis as unknown as ProblemWindow;
          return [...w.__cspViolations, ...w.__pageErrors];
        })),
      );
    }
    await browser?.close();
    await server?.close();
    build?.remove();
    return problems;
  };

  try {
    build = await buildRendererForTests();
    server = await serveRenderer(build.dir);
    browser = await launchChromium();
  } catch (error) {
    await close();
    throw error;
  }
  const url = server.url;
  const running = browser;

  return {
    async openPage({ fake, viewport, theme, domRenderer }) {
      const context = await running.newContext({ viewport, colorScheme: theme });
      // Fail at the locator that did not match, well before the test's own timeout.
      context.setDefaultTimeout(10_000);
      const page = await context.newPage();
      pages.push(page);
      await page.addInitScript((domOnly: boolean) => {
        const w = globalThis as unknown as ProblemWindow & {
          document: { addEventListener(t: string, l: (e: never) => void): void };
          addEventListener(t: string, l: (e: never) => void): void;
          localStorage: { setItem(k: string, v: string): void };
        };
        w.__cspViolations = [];
        w.__pageErrors = [];
        w.document.addEventListener(
          'securitypolicyviolation',
          (e: { violatedDirective: string; blockedURI: string }) =>
            w.__cspViolations.push(`CSP ${e.violatedDirective} blocked ${e.blockedURI}`),
        );
        w.addEventListener('error', (e: { message: string }) => w.__pageErrors.push(e.message));
        if (domOnly) w.localStorage.setItem('witness.terminal.gpu', 'off');
      }, domRenderer);
      await page.addInitScript(installFakeDesktopApi, fake);
      await page.goto(url);
      return page;
    },
    screenshot: (page, name) => page.screenshot({ path: path.join(shotsDir, `${name}.png`) }),
    close,
  };
}
