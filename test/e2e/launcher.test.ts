/**
 * `npm start` as a first-time user meets it: the real launcher (bin/witness-desktop.mjs) with an
 * empty data folder and no display, so it explains why Electron is not used and serves the web
 * host; in Chromium the first-run walkthrough creates the admin of the embedded local gateway,
 * the demo SSH target opens and runs `echo $((6*7))`; Ctrl+C (SIGINT) then stops the launcher,
 * the local gateway and the demo sshd.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithSshd } from '../harness/sshd.ts';
import { describeWithChromium, launchChromium } from './chromium.ts';
import { repoRoot } from './desktopTestBed.ts';

const shots = path.join(repoRoot, 'test-results', 'desktop-first-run');

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Direct children of a process, from /proc (Linux). */
async function childrenOf(pid: number): Promise<number[]> {
  const { readFile, readdir } = await import('node:fs/promises');
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // Field 4 is the parent pid; field 2 (the name) may contain spaces, so split after ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === pid) pids.push(Number(entry));
  }
  return pids;
}

describeWithChromium('npm start', () => {
  describeWithSshd('npm start: first run from an empty data folder', () => {
    let dataDir: string;
    let launcher: ChildProcess;
    let out = '';
    let err = '';
    let exited: Promise<number | null>;
    let browser: Browser;

    beforeAll(async () => {
      dataDir = mkdtempSync(path.join(tmpdir(), 'witness-first-run-'));
      const env = { ...process.env };
      delete env.DISPLAY;
      delete env.WAYLAND_DISPLAY;
      launcher = spawn(
        process.execPath,
        [path.join(repoRoot, 'bin', 'witness-desktop.mjs'), '--data', dataDir, '--no-open'],
        { env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      launcher.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
      });
      launcher.stderr?.on('data', (c: Buffer) => {
        err += c.toString();
      });
      exited = new Promise((resolve) => launcher.once('exit', (code) => resolve(code)));
      browser = await launchChromium();
    }, 60_000);

    afterAll(async () => {
      await browser?.close();
      if (launcher?.exitCode === null) {
        launcher.kill('SIGINT');
        await exited;
      }
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    });

    it('says why Electron is not used and prints the URL with the secret', async () => {
      const start = Date.now();
      while (!/#token=/.test(out)) {
        if (launcher.exitCode !== null || Date.now() - start > 120_000) {
          throw new Error(`the launcher did not print a URL:\n${out}\n${err}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(out).toMatch(/Electron is not used: .+\./);
      expect(out).toContain(`Data: ${dataDir}`);
    }, 150_000);

    it('walks a first-time user to a working terminal on the demo target', async () => {
      const url = /http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]+/.exec(out)?.[0] as string;
      const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });
      await page.goto(url);
      await page.getByRole('button', { name: 'Create admin account' }).waitFor({ timeout: 60_000 });
      await page.screenshot({ path: path.join(shots, '01-create-admin.png') });
      await page.getByLabel('Username').fill('admin');
      await page.getByLabel('Password', { exact: true }).fill('first-admin-password');
      await page.getByLabel('Confirm password').fill('first-admin-password');
      await page.getByRole('button', { name: 'Create admin account' }).click();
      const open = page.getByRole('button', { name: 'Open terminal on demo-ssh' });
      await open.waitFor({ timeout: 60_000 }).catch(async (error: unknown) => {
        // CI keeps no screenshots: say what the page and the launcher showed instead.
        const shown = await page
          .locator('body')
          .textContent()
          .catch(() => '(no page text)');
        throw new Error(
          `the demo target never appeared (${String(error).split('\n')[0]})\npage:\n${shown}\nlauncher:\n${out}\n${err}`,
        );
      });
      await page.screenshot({ path: path.join(shots, '02-demo-resources.png') });
      await open.click();
      const rows = page.locator('[role="tabpanel"]:visible .xterm');
      await rows.waitFor({ timeout: 30_000 });
      await page.waitForTimeout(1000);
      await rows.click();
      await page.keyboard.type('echo $((6*7))');
      await page.keyboard.press('Enter');
      // Read through the app's Find bar: it works with the WebGL renderer too.
      await page.keyboard.press('Control+Shift+F');
      const box = page.getByLabel('Search terminal output');
      let found = false;
      for (let i = 0; i < 50 && !found; i++) {
        await box.fill('42');
        await box.press('Enter');
        await page.waitForTimeout(200);
        found = !(await page.getByText('No match').isVisible());
      }
      await page.screenshot({ path: path.join(shots, '03-demo-terminal.png') });
      expect(found).toBe(true);
      // Negative control: the Find bar does say when something is not there.
      await box.fill('4343');
      await box.press('Enter');
      await page.getByText('No match').waitFor({ timeout: 5_000 });
      await page.close();
    }, 150_000);

    it('stops on Ctrl+C, with the local gateway and the demo target', async () => {
      const children = await childrenOf(launcher.pid as number);
      expect(children.length).toBeGreaterThan(0);
      launcher.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(out).toContain('Stopping…');
      const start = Date.now();
      while (children.some(processAlive) && Date.now() - start < 15_000) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(children.filter(processAlive)).toEqual([]);
    }, 60_000);
  });
});
