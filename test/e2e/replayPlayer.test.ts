/**
 * The player at any size, and its rough edges (issue #16), in Debian's Chromium through the web
 * host against the real gateway binary, OpenSSH sshd and PostgreSQL 15 (replayTestBed.ts).
 * Sessions are recorded by an SSH client (ssh2) and psql through the gateway — outside the
 * desktop, as another engineer's sessions would be — and the desktop is signed in through a
 * relay that can slow its downloads (throttledProxy.ts), so a large recording is watched while
 * it is still downloading.
 *
 * - a recording of tens of MiB: the first frame and "Verified up to …" while the download
 *   runs, a seek to the end before it finishes, then the final verdict;
 * - a 160×48 recording at 1400×900: every row and column visible without an inner scroll;
 *   100 % shows the normal font and scrolls the pane;
 * - the recent recordings list shows sessions started elsewhere, without signing in again;
 * - the commands list keeps top's quit key out of the next command;
 * - a three-line search snippet fits its row, starting at a word boundary;
 * - a database session's result rows are found by a word only in a row;
 * - a live watch's clock and header duration run while no output arrives;
 * - an offline bundle's title names the resource and the user.
 *
 * WebGL is made unavailable so xterm uses its DOM renderer and the screen is readable text.
 * Screenshots go to test-results/replay-player-e2e/.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCommand, splitHostPort } from '../harness/gatewayProcess.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import { PSQL_BIN } from '../harness/postgresTestBed.ts';
import { describeWithSshd } from '../harness/sshd.ts';
import { buildRendererForTests, type RendererBuild } from './buildRenderer.ts';
import { describeWithChromium, launchChromium } from './chromium.ts';
import {
  type ReplayTestBed,
  ROOT_PASSWORD,
  repoRoot,
  startReplayTestBed,
} from './replayTestBed.ts';
import { startThrottledProxy, type ThrottledProxy } from './throttledProxy.ts';

const shots = path.join(repoRoot, 'test-results', 'replay-player-e2e');

/** Same as desktop.test.ts: no WebGL, so xterm draws rows as DOM text. */
const WITHOUT_WEBGL = `(() => {
  const original = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    if (kind === 'webgl' || kind === 'webgl2' || kind === 'experimental-webgl') return null;
    return original.call(this, kind, ...rest);
  };
})();`;

/** 160 characters: `L07` … `R07`, so both edges of every row are recognisable. */
const gridRow = (n: number) => {
  const id = String(n).padStart(2, '0');
  return `L${id}${'.'.repeat(154)}R${id}`;
};
/** Prints the 48 rows, the last without a line break (no scroll), then holds the screen. */
const GRID_COMMAND = `clear; for i in $(seq 1 48); do printf 'L%02d' $i; printf '%.0s.' $(seq 1 154); printf 'R%02d' $i; [ $i -lt 48 ] && printf '\\n'; done; sleep 1.5`;
/** ~30 MiB of output over ~10 s (so checkpoints split it into many stretches), then a marker. */
const LARGE_COMMAND =
  'for i in $(seq 1 30); do head -c 786432 /dev/urandom | base64 -w 120; sleep 0.3; done; echo FINALMARKER done; sleep 0.5';

describeWithChromium('replay player e2e', () => {
  describeWithSshd('replay player e2e (sshd)', () => {
    describeWithPostgres('replay player e2e: any size, and the rough edges', () => {
      let bed: ReplayTestBed;
      let proxy: ThrottledProxy;
      let renderer: RendererBuild | undefined;
      let browser: Browser;
      let page: Page;
      const pageErrors: string[] = [];
      const refused: string[] = [];
      const ids = { grid: '', top: '', large: '', database: '' };

      beforeAll(async () => {
        rmSync(shots, { recursive: true, force: true });
        mkdirSync(shots, { recursive: true });
        renderer = await buildRendererForTests();
        bed = await startReplayTestBed({ rendererDir: renderer.dir });
        proxy = await startThrottledProxy(new URL(bed.gateway.ready.api));
        browser = await launchChromium();
        page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
        page.setDefaultTimeout(20_000);
        await page.addInitScript({ content: WITHOUT_WEBGL });
        page.on('pageerror', (e) => pageErrors.push(e.message));
        page.on('websocket', (ws) => {
          ws.on('framereceived', (frame) => {
            const text = String(frame.payload);
            if (text.includes('"ok":false')) refused.push(text.slice(0, 500));
          });
        });
      }, 240_000);

      afterAll(async () => {
        await browser?.close();
        await proxy?.close();
        await bed?.close();
        renderer?.remove();
      });

      const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });
      const playerText = () =>
        page
          .getByRole('region', { name: 'Recorded terminal' })
          .locator('.xterm-rows > div')
          .allTextContents()
          .then((rows) => rows.join('\n'));
      async function waitFor(read: () => Promise<string>, pattern: RegExp, what: string) {
        let text = '';
        for (let i = 0; i < 600; i++) {
          text = await read().catch(() => '');
          if (pattern.test(text)) return text;
          await page.waitForTimeout(100);
        }
        await shot(`failed-${what.replace(/\W+/g, '-')}`);
        throw new Error(
          `${what} did not appear; screen:\n${text.trimEnd().slice(-3000)}\nrefused calls:\n${refused.join('\n')}`,
        );
      }

      /** An SSH session through the gateway, as any SSH client opens one. */
      async function connect(): Promise<{ client: ssh2.Client; sessionId: string }> {
        const session = await bed.admin.createSession(bed.sshResourceId);
        const { host, port } = splitHostPort(bed.gateway.ready.ssh as string);
        const client = new ssh2.Client();
        await new Promise<void>((resolve, reject) => {
          client.once('ready', () => resolve());
          client.once('error', reject);
          client.connect({
            host,
            port,
            username: session.sessionId,
            password: session.ticket,
            readyTimeout: 20_000,
          });
        });
        return { client, sessionId: session.sessionId };
      }

      /** Runs `command` under a pty of the given size; resolves when it ended. */
      async function execWithPty(command: string, size: { cols: number; rows: number }) {
        const { client, sessionId } = await connect();
        await new Promise<void>((resolve, reject) => {
          client.exec(
            command,
            { pty: { term: 'xterm-256color', cols: size.cols, rows: size.rows } },
            (error, stream) => {
              if (error) return reject(error);
              stream.on('data', () => {});
              stream.stderr.on('data', () => {});
              stream.on('close', () => resolve());
            },
          );
        });
        client.end();
        return sessionId;
      }

      /** An interactive shell: `send` types, `until` waits for output matching a pattern. */
      async function shell() {
        const { client, sessionId } = await connect();
        const stream = await new Promise<ssh2.ClientChannel>((resolve, reject) =>
          client.shell({ term: 'xterm-256color', cols: 100, rows: 30 }, (error, s) =>
            error ? reject(error) : resolve(s),
          ),
        );
        let output = '';
        stream.on('data', (chunk: Buffer) => {
          output += chunk.toString('utf8');
        });
        const closed = new Promise<void>((resolve) => stream.on('close', () => resolve()));
        return {
          sessionId,
          send: (text: string) => stream.write(text),
          async until(pattern: RegExp, from = 0) {
            const deadline = Date.now() + 30_000;
            while (!pattern.test(output.slice(from))) {
              if (Date.now() > deadline)
                throw new Error(`no ${pattern} in:\n${output.slice(-2000)}`);
              await new Promise((r) => setTimeout(r, 50));
            }
            return output.length;
          },
          mark: () => output.length,
          async end() {
            stream.write('exit\r');
            await closed;
            client.end();
          },
        };
      }

      async function completed(sessionId: string) {
        for (let i = 0; i < 300; i++) {
          const found = (await bed.admin.listRecordings({})).find((r) => r.sessionId === sessionId);
          if (found && found.status !== 'recording') return;
          await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error(`${sessionId} did not complete`);
      }

      async function showRecordings() {
        await page
          .getByRole('navigation', { name: 'Views' })
          .getByRole('button', { name: 'Recordings' })
          .click();
        const back = page.getByRole('button', { name: 'Back to recordings', exact: true });
        if ((await back.count()) > 0) await back.first().click();
        await page.getByRole('heading', { name: 'Recordings', exact: true }).waitFor();
      }

      async function openRecording(sessionId: string) {
        await showRecordings();
        await page.getByRole('searchbox', { name: 'Search recordings' }).fill('');
        await page.getByRole('button', { name: `Open recording ${sessionId}` }).click();
      }

      async function search(words: string) {
        await showRecordings();
        const box = page.getByRole('searchbox', { name: 'Search recordings' });
        await box.fill(words);
        await box.press('Enter');
        return page.getByRole('list', { name: 'Search results' });
      }

      it('signs in through the relay', async () => {
        await page.goto(bed.host.url);
        await page.getByRole('textbox', { name: 'Gateway URL' }).fill(proxy.url);
        await page.getByRole('button', { name: 'Inspect gateway' }).click();
        await page.getByRole('heading', { name: 'Compare these fingerprints' }).waitFor();
        await page.getByRole('button', { name: 'Pin this gateway' }).click();
        await page.getByRole('textbox', { name: 'Username' }).fill('root');
        await page.getByLabel('Password', { exact: true }).fill(ROOT_PASSWORD);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.getByRole('heading', { name: 'Resources' }).waitFor();
        await page.getByRole('heading', { name: 'Recent recordings' }).waitFor();
      }, 90_000);

      it('records sessions outside the desktop; the recent list shows them without signing in again', async () => {
        ids.grid = await execWithPty(GRID_COMMAND, { cols: 160, rows: 48 });

        const sh = await shell();
        ids.top = sh.sessionId;
        await sh.until(/[$#] $/);
        sh.send('top\r');
        await sh.until(/load average/);
        await new Promise((r) => setTimeout(r, 800));
        let at = sh.mark();
        sh.send('q');
        await sh.until(/[$#] \S*$/, at);
        at = sh.mark();
        // Output of three lines, for a three-line search snippet.
        sh.send("printf 'alpha one\\nbravo mangosteen two\\ncharlie three\\n'\r");
        await sh.until(/charlie three\r\n/, at);
        at = sh.mark();
        sh.send('echo after-top\r');
        await sh.until(/after-top\r\n/, at);
        await sh.end();

        const setup = await runCommand(PSQL_BIN, [
          '-X',
          bed.pgDirectUrl,
          '-c',
          'CREATE TABLE fruit (id int PRIMARY KEY, name text)',
        ]);
        expect(setup.code, setup.stderr).toBe(0);
        const before = new Set((await bed.admin.listRecordings({})).map((r) => r.sessionId));
        // The row's value is built in the query: "kiwanofruit" is in the row, not in the SQL.
        const psql = await bed.psqlThroughTunnel(
          "INSERT INTO fruit VALUES (1, 'kiw' || 'anofruit'); SELECT name FROM fruit",
        );
        expect(psql.stdout).toContain('kiwanofruit');
        for (let i = 0; i < 100 && ids.database === ''; i++) {
          const done = (await bed.admin.listRecordings({})).find(
            (r) =>
              !before.has(r.sessionId) && r.protocol === 'postgres' && r.status !== 'recording',
          );
          if (done) ids.database = done.sessionId;
          else await page.waitForTimeout(200);
        }
        expect(ids.database, 'the database session was recorded').not.toBe('');
        await completed(ids.grid);
        await completed(ids.top);

        // No reload, no sign-in: the sidebar lists them as they complete.
        const recent = page.getByRole('list', { name: 'Recording list' });
        for (const id of [ids.grid, ids.top]) {
          await recent
            .getByRole('listitem', { name: `Recording ${id}` })
            .getByText('complete')
            .waitFor({ timeout: 30_000 });
        }
        await shot('01-recent-recordings');
      }, 240_000);

      it('shows every line and column of a 160×48 recording at 1400×900; 100 % scrolls', async () => {
        await openRecording(ids.grid);
        await page
          .getByRole('status', { name: 'Integrity' })
          .getByText('Verified', { exact: true })
          .waitFor({ timeout: 60_000 });
        await page.getByRole('combobox', { name: 'Playback speed' }).selectOption('16');
        await page.getByRole('button', { name: 'Play', exact: true }).click();
        await waitFor(playerText, /L48\.+R48/, 'the last row');
        const rows = (await playerText()).split('\n');
        expect(rows).toHaveLength(48);
        expect(rows[0]?.trimEnd()).toBe(gridRow(1));
        expect(rows[47]?.trimEnd()).toBe(gridRow(48));
        const region = page.getByRole('region', { name: 'Recorded terminal' });
        const pane = await region.evaluate((host) => {
          const wrap = host.parentElement as HTMLElement;
          const box = wrap.getBoundingClientRect();
          const rowEls = host.querySelectorAll('.xterm-rows > div');
          const last = (rowEls[rowEls.length - 1] as HTMLElement).getBoundingClientRect();
          const screen = (
            host.querySelector('.xterm-screen') as HTMLElement
          ).getBoundingClientRect();
          // The last character cell of the last row: a range over its text's last character.
          const lastRow = rowEls[rowEls.length - 1] as HTMLElement;
          const walker = document.createTreeWalker(lastRow, NodeFilter.SHOW_TEXT);
          let lastText: Text | null = null;
          for (let n = walker.nextNode(); n; n = walker.nextNode()) {
            if ((n.textContent ?? '').trim() !== '') lastText = n as Text;
          }
          const range = document.createRange();
          const textLength = lastText?.textContent?.trimEnd().length ?? 0;
          if (lastText) range.setStart(lastText, textLength - 1);
          if (lastText) range.setEnd(lastText, textLength);
          const lastChar = range.getBoundingClientRect();
          return {
            wrap: { top: box.top, bottom: box.bottom, left: box.left, right: box.right },
            lastRowBottom: last.bottom,
            screenRight: screen.right,
            lastCharRight: lastChar.right,
            scrolls:
              wrap.scrollHeight > wrap.clientHeight + 1 || wrap.scrollWidth > wrap.clientWidth + 1,
            fontSize: Number(host.dataset.fontSize ?? '13'),
          };
        });
        await shot('02-grid-160x48-fit');
        console.log(`[replay-player e2e] 160×48 fits the 1400×900 window at ${pane.fontSize} px`);
        expect(pane.scrolls, 'no inner scroll').toBe(false);
        expect(pane.lastRowBottom).toBeLessThanOrEqual(pane.wrap.bottom);
        expect(pane.screenRight).toBeLessThanOrEqual(pane.wrap.right);
        expect(pane.lastCharRight).toBeGreaterThan(pane.wrap.left);
        expect(pane.lastCharRight).toBeLessThanOrEqual(pane.wrap.right);
        expect(pane.fontSize).toBeLessThan(13);

        await page.getByRole('button', { name: '100 %' }).click();
        await expect.poll(() => region.evaluate((host) => host.dataset.fontSize)).toBe('13');
        const scrolls = await region.evaluate((host) => {
          const wrap = host.parentElement as HTMLElement;
          return wrap.scrollWidth > wrap.clientWidth || wrap.scrollHeight > wrap.clientHeight;
        });
        expect(scrolls, 'at 100 % the pane scrolls to the rest').toBe(true);
        await shot('03-grid-160x48-100-percent');
        await page.getByRole('button', { name: 'Fit' }).click();
      }, 120_000);

      it("keeps top's quit key out of the next command", async () => {
        await openRecording(ids.top);
        const commands = page.getByRole('navigation', { name: 'Commands' });
        await commands
          .getByRole('button', { name: /: echo after-top$/ })
          .waitFor({ timeout: 60_000 });
        const texts = await commands.locator('code').allTextContents();
        expect(texts).toContain('top');
        expect(texts).toContain('echo after-top');
        expect(texts.some((t) => t.startsWith('q'))).toBe(false);
        await shot('04-commands-after-top');
      }, 90_000);

      it('a three-line snippet fits its row and starts at a word boundary', async () => {
        const results = await search('mangosteen');
        const hit = results
          .getByRole('button', { name: new RegExp(`^Play ${ids.top} at`) })
          .filter({ hasText: 'output' })
          .first();
        await hit.waitFor({ timeout: 30_000 });
        const snippet = hit.locator('.hit-snippet');
        const text = (await snippet.textContent()) ?? '';
        // The output entry holds the echoed command line and its output: three lines are shown
        // from the first match on (the command line), the rest cut with "…".
        expect(text).toMatch(/mangosteen/);
        expect(text).toContain('alpha one\nbravo mangosteen two');
        // Starts at a word boundary: a cut start is followed by a whole line here.
        expect(text.startsWith('…root@') || text.startsWith('root@')).toBe(true);
        expect(text.split('\n').length).toBeGreaterThanOrEqual(3);
        const fits = await hit.evaluate((button) => {
          const row = button.closest('li') as HTMLElement;
          const code = button.querySelector('.hit-snippet') as HTMLElement;
          return {
            clipped: code.scrollHeight > code.clientHeight + 1,
            inside: code.getBoundingClientRect().bottom <= row.getBoundingClientRect().bottom + 0.5,
          };
        });
        await shot('05-search-three-lines');
        expect(fits).toEqual({ clipped: false, inside: true });
      }, 90_000);

      it('finds a word that is only in a database result row, and opens on its query', async () => {
        const results = await search('kiwanofruit');
        const hit = results
          .getByRole('button', { name: new RegExp(`^Play ${ids.database} at`) })
          .filter({ hasText: 'output' })
          .first();
        await hit.waitFor({ timeout: 30_000 });
        expect(await hit.locator('mark').first().textContent()).toMatch(/kiwanofruit/i);
        await shot('06-database-row-hit');
        // The hit opens on the query whose result holds the row (the SELECT, not a later one).
        await hit.click();
        const timeline = page.getByRole('region', { name: 'Query timeline' });
        await timeline
          .locator('[aria-current="true"]')
          .filter({ hasText: 'SELECT name FROM fruit' })
          .waitFor({ timeout: 60_000 });
        await page.getByRole('table').first().getByRole('cell', { name: 'kiwanofruit' }).waitFor();
        await shot('06b-database-row-hit-opened');
      }, 90_000);

      it('opens a large recording verified up to a point, seeks to the end before the download ends, then verifies it all', async () => {
        ids.large = await execWithPty(LARGE_COMMAND, { cols: 120, rows: 30 });
        await completed(ids.large);
        const size = (await bed.admin.listRecordings({})).find(
          (r) => r.sessionId === ids.large,
        )?.bytes;
        expect(size ?? 0, 'tens of MiB').toBeGreaterThan(20 * 1024 * 1024);
        await showRecordings();
        proxy.setRate(2 * 1024 * 1024);
        try {
          const opened = Date.now();
          await page.getByRole('searchbox', { name: 'Search recordings' }).fill('');
          await page.getByRole('button', { name: `Open recording ${ids.large}` }).click();
          const integrity = page.getByRole('status', { name: 'Integrity' });
          await integrity.getByText(/Verified up to/).waitFor({ timeout: 30_000 });
          await waitFor(playerText, /[A-Za-z0-9+/]{100}/, 'the first frame');
          const firstFrameMs = Date.now() - opened;
          await shot('07-large-first-frame');
          const slider = page.getByRole('slider', { name: 'Playback position' });
          // The whole length arrives with the seek table, before the download ends.
          await expect
            .poll(async () => Number(await slider.getAttribute('max')), { timeout: 30_000 })
            .toBeGreaterThan(5_000);
          const box = await slider.boundingBox();
          if (box === null) throw new Error('the timeline is not visible');
          await page.mouse.click(box.x + box.width - 2, box.y + box.height / 2);
          await waitFor(playerText, /FINALMARKER done/, 'the end of the recording');
          const grid = await page
            .getByRole('region', { name: 'Recorded terminal' })
            .evaluate((host) => ({
              rows: host.querySelectorAll('.xterm-rows > div').length,
              font: host.dataset.fontSize,
            }));
          console.log(
            `[replay-player e2e] large recording grid after the seek: ${JSON.stringify(grid)}`,
          );
          // Still downloading: the badge has not reached its final verdict.
          expect(await integrity.getByText(/Verified up to/).count()).toBe(1);
          await shot('08-large-seek-end');
          await integrity.getByText('Verified', { exact: true }).waitFor({ timeout: 120_000 });
          await shot('09-large-verified');
          console.log(
            `[replay-player e2e] ${((size ?? 0) / 1048576).toFixed(1)} MiB at 2 MiB/s: first frame ${firstFrameMs} ms, final verdict ${Date.now() - opened} ms`,
          );
        } finally {
          proxy.setRate(null);
        }
      }, 240_000);

      it("a live watch's clock and duration run while no output arrives", async () => {
        const sh = await shell();
        try {
          await sh.until(/[$#] $/);
          await showRecordings();
          await page.getByRole('searchbox', { name: 'Search recordings' }).fill('');
          await page.getByRole('button', { name: `Watch live ${sh.sessionId}` }).click();
          await page.getByRole('status').filter({ hasText: 'Live' }).first().waitFor();
          await waitFor(playerText, /[$#]\s*$/m, 'the prompt, watched live');
          const clock = page.getByLabel('Playback time');
          const duration = page.getByLabel('Live duration');
          const clockBefore = await clock.textContent();
          const durationBefore = await duration.textContent();
          await page.waitForTimeout(3_000);
          expect(await clock.textContent()).not.toBe(clockBefore);
          expect(await duration.textContent()).not.toBe(durationBefore);
          await shot('10-live-clock');
        } finally {
          await sh.end();
        }
        await page.getByRole('status', { name: 'Live session ended' }).waitFor({ timeout: 30_000 });
      }, 120_000);

      it("an offline bundle's title names the resource and the user", async () => {
        await openRecording(ids.grid);
        await page.getByRole('button', { name: 'Export bundle' }).click();
        const saved = page.getByRole('status').filter({ hasText: 'Saved' });
        await saved.waitFor({ timeout: 60_000 });
        const bundlePath = (await saved.locator('code').textContent()) ?? '';
        await showRecordings();
        await page.getByRole('button', { name: 'Open bundle…' }).click();
        const dialog = page.getByRole('dialog', { name: 'Open a recording bundle' });
        await dialog.getByLabel('Bundle file').setInputFiles(bundlePath);
        await dialog.getByRole('button', { name: 'Open and verify' }).click();
        await page.getByText('Offline bundle').waitFor({ timeout: 60_000 });
        const title = page.locator('.player-title');
        expect(await title.textContent()).toContain(bed.sshResourceName);
        const head = (await page.locator('.player-head').textContent()) ?? '';
        expect(head).toContain('root');
        await shot('11-offline-bundle-title');
        expect(pageErrors).toEqual([]);
      }, 120_000);
    });
  });
});
