/**
 * Replay end to end (issue #6), as an auditor would use it: the real renderer in Debian's
 * Chromium through the web host, against the real gateway binary (SSH + PostgreSQL listeners),
 * a real OpenSSH sshd and the run's PostgreSQL 15 (test/e2e/replayTestBed.ts).
 *
 * Record an SSH session with known commands, find it by searching a command's text, play it from
 * the hit, seek to the middle, see the verified badge; export the signed bundle; a database
 * session (witness tunnel + psql) shows its queries and rows; a recording whose segment file was
 * altered in the gateway's data folder shows "Failed at seq N" for the frame that was altered
 * (found independently by reading the segment) and nothing of it plays; with the gateway
 * stopped, the exported bundle opens offline and verifies.
 *
 * WebGL is made unavailable so xterm uses its DOM renderer and the screen is readable text.
 * Screenshots go to test-results/replay-e2e/.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { RecordingReader } from '../../shared/recording/recordingFormat.ts';
import { runCommand } from '../harness/gatewayProcess.ts';
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
import { WITHOUT_WEBGL } from './withoutWebgl.ts';

const shots = path.join(repoRoot, 'test-results', 'replay-e2e');

describeWithChromium('replay e2e', () => {
  describeWithSshd('replay e2e (sshd)', () => {
    describeWithPostgres(
      'replay e2e: record, search, play, seek, verify, tamper, export, offline',
      () => {
        let bed: ReplayTestBed;
        let renderer: RendererBuild | undefined;
        let browser: Browser;
        let page: Page;
        const pageErrors: string[] = [];
        /** Requests the page sent over the web host's WebSocket (call names and arguments). */
        const sent: string[] = [];
        /** Calls main refused, as the page received them: shown when a step fails. */
        const refused: string[] = [];
        let firstSessionId = '';
        let bundlePath = '';

        beforeAll(async () => {
          rmSync(shots, { recursive: true, force: true });
          mkdirSync(shots, { recursive: true });
          renderer = await buildRendererForTests();
          bed = await startReplayTestBed({ rendererDir: renderer.dir });
          browser = await launchChromium();
          page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
          page.setDefaultTimeout(20_000);
          await page.addInitScript({ content: WITHOUT_WEBGL });
          page.on('pageerror', (e) => pageErrors.push(e.message));
          page.on('websocket', (ws) => {
            ws.on('framesent', (frame) => sent.push(String(frame.payload)));
            ws.on('framereceived', (frame) => {
              const text = String(frame.payload);
              if (text.includes('"ok":false')) refused.push(text.slice(0, 500));
            });
          });
        }, 240_000);

        afterAll(async () => {
          await browser?.close();
          await bed?.close();
          renderer?.remove();
        });

        const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });
        const terminalText = () =>
          page
            .locator('[role="tabpanel"]:visible .xterm-rows > div')
            .allTextContents()
            .then((rows) => rows.join('\n'));
        const playerText = () =>
          page
            .getByRole('region', { name: 'Recorded terminal' })
            .locator('.xterm-rows > div')
            .allTextContents()
            .then((rows) => rows.join('\n'));
        async function waitFor(read: () => Promise<string>, pattern: RegExp, what: string) {
          let text = '';
          for (let i = 0; i < 300; i++) {
            text = await read().catch(() => '');
            if (pattern.test(text)) return text;
            await page.waitForTimeout(100);
          }
          await shot(`failed-${what.replace(/\W+/g, '-')}`);
          // The screenshot stays on the machine that ran; CI logs keep only this message.
          const around = await page
            .getByRole('region', { name: 'Recording player' })
            .textContent({ timeout: 1_000 })
            .catch(() => '(no player)');
          throw new Error(
            `${what} did not appear; screen:\n${text.trimEnd()}\nplayer:\n${around}\nrefused calls:\n${refused.join('\n')}`,
          );
        }
        async function runInTerminal(command: string, expect: RegExp) {
          await page.keyboard.type(command);
          await page.keyboard.press('Enter');
          await waitFor(terminalText, expect, command);
        }
        /** Opens an SSH tab, runs the commands, exits, closes the tab; returns the session id. */
        async function recordSshSession(commands: [string, RegExp][], pauseMs: number) {
          const before = new Set((await bed.admin.listRecordings({})).map((r) => r.sessionId));
          await page.getByRole('button', { name: 'Terminals', exact: false }).first().click();
          await page
            .getByRole('button', { name: `Open terminal on ${bed.sshResourceName}` })
            .click();
          await page.locator('[role="tabpanel"]:visible .xterm-rows').waitFor();
          await waitFor(terminalText, /\$\s*$|#\s*$/m, 'a shell prompt');
          await page.locator('[role="tabpanel"]:visible .xterm').click();
          for (const [i, [command, expected]] of commands.entries()) {
            // Pauses between commands only: a pause after the last one would move the middle
            // of the recording towards its end, and a slow exit under load moves it further.
            if (i > 0) await page.waitForTimeout(pauseMs);
            await runInTerminal(command, expected);
          }
          await page.keyboard.type('exit');
          await page.keyboard.press('Enter');
          await page.getByRole('alertdialog').waitFor();
          await page.getByRole('button', { name: 'Close tab' }).last().click();
          let sessionId = '';
          for (let i = 0; i < 100 && sessionId === ''; i++) {
            const done = (await bed.admin.listRecordings({})).find(
              (r) => !before.has(r.sessionId) && r.protocol === 'ssh' && r.status === 'complete',
            );
            if (done) sessionId = done.sessionId;
            else await page.waitForTimeout(200);
          }
          expect(sessionId, 'the session was recorded and completed').not.toBe('');
          return sessionId;
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

        it('pins the gateway and signs in as the admin', async () => {
          await page.goto(bed.host.url);
          await page.getByRole('textbox', { name: 'Gateway URL' }).fill(bed.gateway.ready.api);
          await page.getByRole('button', { name: 'Inspect gateway' }).click();
          await page.getByRole('heading', { name: 'Compare these fingerprints' }).waitFor();
          await page.getByRole('button', { name: 'Pin this gateway' }).click();
          await page.getByRole('textbox', { name: 'Username' }).fill('root');
          await page.getByLabel('Password', { exact: true }).fill(ROOT_PASSWORD);
          await page.getByRole('button', { name: 'Sign in', exact: true }).click();
          await page.getByRole('heading', { name: 'Resources' }).waitFor();
        }, 90_000);

        it('records an SSH session with known commands', async () => {
          firstSessionId = await recordSshSession(
            [
              ['echo alphaquartz $((6*7))', /^alphaquartz 42\s*$/m],
              ["printf 'middle %s\\n' bravoquill", /^middle bravoquill\s*$/m],
              ['echo charlieverse done', /^charlieverse done\s*$/m],
            ],
            2500,
          );
          await shot('01-recorded-session');
        }, 120_000);

        it("finds it by searching a command's text and plays it from the hit, verified", async () => {
          await showRecordings();
          const search = page.getByRole('searchbox', { name: 'Search recordings' });
          await search.fill('bravoquill');
          await search.press('Enter');
          const results = page.getByRole('list', { name: 'Search results' });
          // The command's hit, not an output hit: output is gathered into entries at
          // checkpoints, so an output entry with 'bravoquill' may begin after the command ran.
          const hit = results
            .getByRole('button', { name: new RegExp(`^Play ${firstSessionId} at`) })
            .filter({ hasText: 'command' });
          await hit.first().waitFor();
          expect(await results.locator('mark').first().textContent()).toMatch(/bravoquill/i);
          await shot('02-search-hits');
          await hit.first().click();
          const integrity = page.getByRole('status', { name: 'Integrity' });
          await integrity.getByText('Verified', { exact: true }).waitFor({ timeout: 60_000 });
          // At the hit (the moment its command line began): the command before it has run,
          // its own output has not appeared yet.
          const atHit = await waitFor(playerText, /^alphaquartz 42\s*$/m, 'the screen at the hit');
          expect(atHit).not.toMatch(/^middle bravoquill/m);
          expect(sent.some((f) => f.includes('"playback.seek"'))).toBe(true);
          await shot('03-player-at-hit');
          await page.getByRole('button', { name: 'Play', exact: true }).click();
          await waitFor(playerText, /^middle bravoquill\s*$/m, "the hit command's output");
          await waitFor(playerText, /^charlieverse done\s*$/m, 'the rest of the session');
        }, 120_000);

        it('seeks to the middle', async () => {
          // Paused first: the previous step left it playing the session's tail, and a seek
          // keeps playing — under load the screen could move on before it is read.
          const pause = page.getByRole('button', { name: 'Pause', exact: true });
          if ((await pause.count()) > 0) await pause.click();
          await page.getByRole('button', { name: 'Play', exact: true }).waitFor();
          const slider = page.getByRole('slider', { name: 'Playback position' });
          const max = Number(await slider.getAttribute('max'));
          expect(max).toBeGreaterThan(5000);
          const box = await slider.boundingBox();
          if (box === null) throw new Error('the timeline is not visible');
          const seeksBefore = sent.filter((f) => f.includes('"playback.seek"')).length;
          await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
          await expect
            .poll(() => sent.filter((f) => f.includes('"playback.seek"')).length)
            .toBeGreaterThan(seeksBefore);
          const value = Number(await slider.inputValue());
          expect(value).toBeGreaterThan(max * 0.3);
          expect(value).toBeLessThan(max * 0.7);
          // The middle of the session: its first command ran, its last one has not. Waited
          // for as a whole: until the seek's snapshot arrives the screen still shows where the
          // player was paused (past the last command), which also holds the first one.
          const middle = await waitFor(
            playerText,
            /^(?![\s\S]*charlieverse done)[\s\S]*alphaquartz 42/,
            'the first command at mid-point, and not the last',
          );
          expect(middle).not.toContain('charlieverse done');
          expect(
            await page.getByRole('status', { name: 'Integrity' }).getByText('Verified').count(),
          ).toBe(1);
          await shot('04-seek-middle');
        }, 90_000);

        it('exports the signed bundle with progress', async () => {
          await page.getByRole('button', { name: 'Export bundle' }).click();
          const saved = page.getByRole('status').filter({ hasText: 'Saved' });
          await saved.waitFor({ timeout: 60_000 });
          bundlePath = (await saved.locator('code').textContent()) ?? '';
          expect(bundlePath.startsWith(path.join(bed.desktopDataDir, 'downloads'))).toBe(true);
          expect(existsSync(bundlePath)).toBe(true);
          await shot('05-exported');
        }, 90_000);

        it('a database session shows its queries and rows', async () => {
          const setup = await runCommand(PSQL_BIN, [
            '-X',
            bed.pgDirectUrl,
            '-c',
            "CREATE TABLE orders (id int PRIMARY KEY, item text); INSERT INTO orders VALUES (1, 'widget'), (2, 'gadget');",
          ]);
          expect(setup.code, setup.stderr).toBe(0);
          const before = new Set((await bed.admin.listRecordings({})).map((r) => r.sessionId));
          const psql = await bed.psqlThroughTunnel('SELECT id, item FROM orders ORDER BY id');
          expect(psql.stdout).toContain('widget');
          let sessionId = '';
          for (let i = 0; i < 100 && sessionId === ''; i++) {
            const done = (await bed.admin.listRecordings({})).find(
              (r) =>
                !before.has(r.sessionId) && r.protocol === 'postgres' && r.status !== 'recording',
            );
            if (done) sessionId = done.sessionId;
            else await page.waitForTimeout(200);
          }
          expect(sessionId, 'the database session was recorded').not.toBe('');
          await showRecordings();
          await page.getByRole('searchbox', { name: 'Search recordings' }).fill('');
          await page.getByRole('button', { name: `Open recording ${sessionId}` }).click();
          const timeline = page.getByRole('region', { name: 'Query timeline' });
          await timeline
            .getByRole('button', { name: /SELECT id, item FROM orders ORDER BY id/ })
            .first()
            .waitFor({ timeout: 60_000 });
          await timeline
            .getByRole('button', { name: /SELECT id, item FROM orders ORDER BY id/ })
            .first()
            .click();
          const table = page.getByRole('table').first();
          await table.waitFor();
          expect(await table.getByRole('columnheader').allTextContents()).toEqual(['id', 'item']);
          expect(await table.getByRole('cell', { name: 'widget' }).count()).toBe(1);
          expect(await table.getByRole('cell', { name: 'gadget' }).count()).toBe(1);
          await shot('06-database-session');
        }, 120_000);

        it('a tampered recording shows failed at the right seq, before anything plays', async () => {
          const sessionId = await recordSshSession(
            [['echo deltaforge payload', /^deltaforge payload\s*$/m]],
            300,
          );
          // Flip one byte of the command's output in the gateway's segment file, and find the
          // seq of the frame holding it by reading the recording ourselves.
          const dir = path.join(bed.gatewayDir, 'recordings', sessionId);
          const segments = readdirSync(dir)
            .filter((f) => f.endsWith('.seg'))
            .sort();
          const files = segments.map((f) => ({
            file: path.join(dir, f),
            bytes: readFileSync(path.join(dir, f)),
          }));
          const stream = Buffer.concat(files.map((f) => f.bytes));
          // The command's output line, found in the output frames' data (the pty may split it
          // across frames, with frame heads between the pieces in the file). The last
          // occurrence: the echo of the typed command line ends with the same text.
          const reader = new RecordingReader();
          const outputs = reader
            .push(stream)
            .flatMap((r) => (r.type === 'frame' && r.event.kind === 'o' ? [r] : []));
          const joined = Buffer.concat(outputs.map((r) => r.event.data));
          const inOutput = joined.lastIndexOf('deltaforge payload\r\n');
          expect(inOutput, 'the output is in the recording').toBeGreaterThan(0);
          let skipped = 0;
          const holding = outputs.find((r) => {
            if (inOutput < skipped + r.event.data.length) return true;
            skipped += r.event.data.length;
            return false;
          });
          if (holding?.type !== 'frame') throw new Error('no frame holds the output');
          const expectedSeq = holding.event.seq;
          // The frame's data ends just before its 32-byte stored hash.
          const dataStart = holding.offset + holding.frame.length + 5 - holding.event.data.length;
          const at = dataStart + (inOutput - skipped);
          expect(stream.subarray(at, at + 5).toString()).toBe(
            joined.subarray(inOutput, inOutput + 5).toString(),
          );
          let local = at;
          for (const f of files) {
            if (local < f.bytes.length) {
              f.bytes.writeUInt8(f.bytes.readUInt8(local) ^ 0x20, local);
              writeFileSync(f.file, f.bytes);
              break;
            }
            local -= f.bytes.length;
          }

          await showRecordings();
          await page.getByRole('button', { name: `Open recording ${sessionId}` }).click();
          const alert = page.getByRole('alert', { name: 'Integrity' });
          await alert
            .getByText(`Failed at seq ${expectedSeq}`, { exact: true })
            .waitFor({ timeout: 60_000 });
          expect(await alert.textContent()).toContain('not what the gateway signed');
          expect(await page.getByRole('region', { name: 'Recorded terminal' }).count()).toBe(0);
          expect(
            sent.filter((f) => f.includes(sessionId) && f.includes('"playback.frames"')),
          ).toEqual([]);
          await shot('07-tampered-failed');
        }, 120_000);

        it('an admin watches a live session read-only as it happens, until it ends', async () => {
          // Another window types in a terminal; this one watches.
          const typist = await browser.newPage({ viewport: { width: 1100, height: 700 } });
          try {
            await typist.addInitScript({ content: WITHOUT_WEBGL });
            await typist.goto(bed.host.url);
            const before = new Set((await bed.admin.listRecordings({})).map((r) => r.sessionId));
            await typist
              .getByRole('button', { name: `Open terminal on ${bed.sshResourceName}` })
              .click();
            const typed = () =>
              typist
                .locator('[role="tabpanel"]:visible .xterm-rows > div')
                .allTextContents()
                .then((rows) => rows.join('\n'));
            await waitFor(typed, /\$\s*$|#\s*$/m, 'a shell prompt in the other window');
            let sessionId = '';
            for (let i = 0; i < 100 && sessionId === ''; i++) {
              const active = (await bed.admin.listRecordings({})).find(
                (r) => !before.has(r.sessionId) && r.status === 'recording',
              );
              if (active) sessionId = active.sessionId;
              else await page.waitForTimeout(100);
            }
            expect(sessionId, 'the new session is recording').not.toBe('');

            await showRecordings();
            await page.getByRole('searchbox', { name: 'Search recordings' }).fill('');
            await page.getByRole('button', { name: `Watch live ${sessionId}` }).click();
            await page.getByRole('status').filter({ hasText: 'Live' }).first().waitFor();
            await waitFor(playerText, /\$\s*$|#\s*$/m, 'the prompt, watched live');

            await typist.locator('[role="tabpanel"]:visible .xterm').click();
            await typist.keyboard.type('echo foxtrotlive $((2+3))');
            await typist.keyboard.press('Enter');
            await waitFor(playerText, /^foxtrotlive 5\s*$/m, 'the command, watched live');
            // Read-only: typing into the watching window reaches no one.
            await page.getByRole('region', { name: 'Recorded terminal' }).click();
            await page.keyboard.type('echo intruder');
            await page.waitForTimeout(500);
            expect(await typed()).not.toContain('intruder');
            await shot('08-live-watch');

            await typist.keyboard.type('exit');
            await typist.keyboard.press('Enter');
            await page
              .getByRole('status', { name: 'Live session ended' })
              .waitFor({ timeout: 30_000 });
          } finally {
            await typist.close();
          }
        }, 120_000);

        it('with the gateway stopped, the exported bundle opens offline and verifies', async () => {
          expect(bundlePath).not.toBe('');
          await bed.gateway.stop();
          await showRecordings();
          await page.getByRole('button', { name: 'Open bundle…' }).click();
          const dialog = page.getByRole('dialog', { name: 'Open a recording bundle' });
          await dialog.getByLabel('Bundle file').setInputFiles(bundlePath);
          await dialog.getByRole('button', { name: 'Open and verify' }).click();
          await page.getByText('Offline bundle').waitFor({ timeout: 60_000 });
          await page
            .getByRole('status', { name: 'Integrity' })
            .getByText('Verified', { exact: true })
            .waitFor();
          // Opens on the first output (the prompt); played at 16×, the session follows.
          await waitFor(playerText, /root@|\$\s*$|#\s*$/m, 'the first output of the bundle');
          await page.getByRole('combobox', { name: 'Playback speed' }).selectOption('16');
          await page.getByRole('button', { name: 'Play', exact: true }).click();
          await waitFor(playerText, /^charlieverse done\s*$/m, 'the bundle plays to its end');
          await shot('09-offline-bundle');
          expect(pageErrors).toEqual([]);
          // The bundle's bytes are what the file holds (sent in pieces, nothing else read).
          expect(sent.some((f) => f.includes('"bundles.uploadChunk"'))).toBe(true);
        }, 120_000);
      },
    );
  });
});
