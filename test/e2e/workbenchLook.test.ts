/**
 * The desktop as a workbench (issue #15, fourth bullet), checked on screen: the real renderer in
 * Chromium through the web host, against the real gateway binary and OpenSSH sshd
 * (desktopTestBed.ts). A mistyped gateway address is quoted as typed; the sign-in storage notice
 * is plain and, once dismissed, stays dismissed; the header and the status bar name the user
 * and role in words; the status bar says the gateway answers and counts live terminals; the
 * theme toggle says what it will do; sign-in starts with the last username; a 500-character
 * username is refused in the app's own words; icons are lucide's, with no Unicode stand-ins;
 * the favicon is the app icon. Screenshots at 1400×900 in both themes go to
 * test-results/workbench-look/ (the console and tunnel panels join them where they exist).
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithSshd } from '../harness/sshd.ts';
import { buildRendererForTests, type RendererBuild } from './buildRenderer.ts';
import { describeWithChromium, launchChromium } from './chromium.ts';
import {
  ADMIN_PASSWORD,
  ALICE_PASSWORD,
  type DesktopTestBed,
  repoRoot,
  startDesktopTestBed,
} from './desktopTestBed.ts';
import { WITHOUT_WEBGL } from './withoutWebgl.ts';

const shots = path.join(repoRoot, 'test-results', 'workbench-look');
/** What a schema library writes and the app must not (zod 4's default wordings). */
const SCHEMA_WORDING = /Too big|Too small|expected|<=|Invalid (input|string|option)|at username/;
/** Glyphs that stood in for icons before lucide (the unit test checks the sources too). */
const GLYPH_ICONS = /[▶◀⏸✕✗✓⚠☰⟳↻●▲▼⌕⚙☾☀❚×←]/u;

describeWithChromium('workbench look e2e', () => {
  describeWithSshd('workbench look e2e', () => {
    let bed: DesktopTestBed;
    let renderer: RendererBuild | undefined;
    let browser: Browser;
    let page: Page;
    const pageErrors: string[] = [];

    beforeAll(async () => {
      rmSync(shots, { recursive: true, force: true });
      mkdirSync(shots, { recursive: true });
      renderer = await buildRendererForTests();
      bed = await startDesktopTestBed({ rendererDir: renderer.dir });
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
      await page.addInitScript({ content: WITHOUT_WEBGL });
      page.on('pageerror', (e) => pageErrors.push(e.message));
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      await bed?.close();
      renderer?.remove();
    });

    const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });
    const statusBar = () => page.getByRole('region', { name: 'Status bar' });
    const theme = () => page.evaluate(() => document.documentElement.dataset.theme);

    it('quotes a mistyped gateway address as typed, not percent-encoded', async () => {
      await page.goto(bed.host.url);
      await page.getByLabel('Gateway URL').fill('https://gate way.example/witness');
      await page.getByRole('button', { name: 'Inspect gateway' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      const text = (await alert.textContent()) ?? '';
      // Chromium's URL parser makes the host gate%20way.example; the message says what was typed.
      expect(text).toContain('“https://gate way.example/witness” is not a valid address');
      expect(text).not.toMatch(/%20/);
      await shot('01-connect-mistyped-light');
    }, 60_000);

    it('the favicon is the app icon', async () => {
      const href = await page
        .locator('link[rel="icon"][type="image/svg+xml"]')
        .getAttribute('href');
      const response = await page.request.get(new URL(href ?? '', page.url()).toString());
      expect(response.status()).toBe(200);
      expect(await response.text()).toContain('<title>Witness</title>');
      expect(await page.locator('img.brand-mark').count()).toBeGreaterThan(0);
    }, 30_000);

    it('enrolls; header and status bar say who, in words, and that the gateway answers', async () => {
      await page.getByRole('button', { name: 'Enroll with a link' }).click();
      await page.getByLabel('Enroll link').fill(bed.enrollLink);
      await page.getByLabel('New password').fill(ALICE_PASSWORD);
      await page.getByLabel('Confirm password').fill(ALICE_PASSWORD);
      await page.getByRole('button', { name: 'Enroll', exact: true }).click();
      await page.getByRole('heading', { name: 'Resources' }).waitFor({ timeout: 20_000 });

      // The avatar's initial is aria-hidden; what is read out is the name and the role.
      await expect(page.locator('.app-header .who').textContent()).resolves.toMatch(
        /alice · Engineer$/,
      );
      await expect(page.locator('.app-header .who').textContent()).resolves.toContain(
        'Signed in as',
      );
      const bar = statusBar();
      await bar.getByText(/^Reachable \(\d+ ms\)$/).waitFor({ timeout: 15_000 });
      const barText = (await bar.textContent()) ?? '';
      expect(barText).toContain(new URL(bed.host.url).hostname === '127.0.0.1' ? '127.0.0.1' : '');
      expect(barText).toContain('alice · Engineer');
      expect(barText).toContain('No terminals');
      expect(barText).toContain('No consoles');
      expect(barText).toContain('No tunnels');
      // At the bottom edge of the window.
      const box = await bar.boundingBox();
      expect(box && Math.round(box.y + box.height)).toBe(900);
    }, 90_000);

    it('says in plain words where the sign-in is kept, once: dismissed stays dismissed', async () => {
      const notice = page.getByRole('note', { name: 'Sign-in storage' });
      await notice.waitFor();
      const visible = await notice.evaluate((el) => {
        const clone = el.cloneNode(true) as HTMLElement;
        for (const details of clone.querySelectorAll('details')) details.remove();
        return clone.textContent ?? '';
      });
      expect(visible).toContain('Sign-in not saved on this computer');
      expect(visible).not.toMatch(/D-Bus|keychain|keytar|Secret Service/i);
      await shot('02-workspace-notice-light');
      await notice.getByRole('button', { name: 'Dismiss sign-in storage notice' }).click();
      await notice.waitFor({ state: 'detached' });
      await page.reload();
      await page.getByRole('heading', { name: 'Resources' }).waitFor({ timeout: 20_000 });
      expect(await page.getByRole('note', { name: 'Sign-in storage' }).count()).toBe(0);
    }, 60_000);

    it('sign-in starts with the last username, and refuses 500 characters in its own words', async () => {
      await page.getByRole('button', { name: /sign out/i }).click();
      const username = page.getByLabel('Username');
      await username.waitFor();
      await expect(username.inputValue()).resolves.toBe('alice');
      await expect(page.getByLabel('Password', { exact: true }).inputValue()).resolves.toBe('');

      await username.fill('a'.repeat(500));
      await page.getByLabel('Password', { exact: true }).fill('whatever-password');
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      const text = (await alert.textContent()) ?? '';
      expect(text).toBe('The username is too long (200 characters at most).');
      expect(text).not.toMatch(SCHEMA_WORDING);
      await shot('03-sign-in-too-long-light');

      await username.fill('alice');
      await page.getByLabel('Password', { exact: true }).fill(ALICE_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Resources' }).waitFor({ timeout: 20_000 });
    }, 90_000);

    it('counts a live terminal in the status bar; screenshots in light and dark', async () => {
      await page.getByRole('button', { name: `Open terminal on ${bed.resourceName}` }).click();
      await page.locator('[role="tabpanel"]:visible .xterm-rows').waitFor({ timeout: 20_000 });
      await statusBar().getByText('1 terminal', { exact: true }).waitFor({ timeout: 20_000 });
      await page.locator('[role="tabpanel"]:visible .xterm').click();
      await page.keyboard.type('echo workbench; uname -s');
      await page.keyboard.press('Enter');
      await page
        .locator('[role="tabpanel"]:visible .xterm-rows')
        .getByText('Linux')
        .waitFor({ timeout: 20_000 });

      // Icons are drawn by lucide, and no glyph stands in for one anywhere on screen.
      expect(await page.locator('svg.lucide').count()).toBeGreaterThan(8);
      const chrome = await page.evaluate(() => {
        const clone = document.body.cloneNode(true) as HTMLElement;
        for (const xterm of clone.querySelectorAll('.xterm')) xterm.remove();
        return clone.textContent ?? '';
      });
      expect(chrome).not.toMatch(GLYPH_ICONS);

      const toggle = page.getByRole('button', { name: 'Switch to dark theme' });
      expect(await theme()).toBe('light');
      await shot('04-workbench-terminal-light');
      await statusBar().screenshot({ path: path.join(shots, '05-status-bar-light.png') });
      await toggle.click();
      expect(await theme()).toBe('dark');
      await page.getByRole('button', { name: 'Switch to light theme' }).waitFor();
      await shot('06-workbench-terminal-dark');
      await statusBar().screenshot({ path: path.join(shots, '07-status-bar-dark.png') });
      await page.getByRole('button', { name: 'Switch to light theme' }).click();
      expect(await theme()).toBe('light');

      await page.getByRole('button', { name: /^Close tab / }).click();
      await statusBar().getByText('No terminals', { exact: true }).waitFor({ timeout: 20_000 });
    }, 120_000);

    it('an administrator is "root · Administrator"', async () => {
      await page.getByRole('button', { name: /sign out/i }).click();
      await page.getByLabel('Username').fill('root');
      await page.getByLabel('Password', { exact: true }).fill(ADMIN_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Resources' }).waitFor({ timeout: 20_000 });
      await expect(page.locator('.app-header .who').textContent()).resolves.toMatch(
        /root · Administrator$/,
      );
      await statusBar().getByText('root · Administrator').waitFor();
      await page.getByRole('button', { name: 'Switch to dark theme' }).click();
      await shot('08-workspace-admin-dark');
      await page.getByRole('button', { name: 'Switch to light theme' }).click();
      expect(pageErrors).toEqual([]);
    }, 60_000);
  });
});
