/**
 * The query console end to end (issue #15), as a person uses it: the real renderer in Debian's
 * Chromium through the web host, against the real gateway binary (its PostgreSQL listener) and
 * PostgreSQL 15 (test/e2e/replayTestBed.ts). Run a query and see its rows; complete a column
 * name; scroll a 100,000-row result to its end; cancel `select pg_sleep(30)` within a second;
 * see an error's position marked in the editor; see a masked column and a blocked statement
 * with its rule; export CSV and compare it byte for byte with psql's `\copy … with csv header`;
 * then find the same queries and rows in the recording, in the database player.
 * Screenshots go to test-results/console-e2e/.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
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

const shots = path.join(repoRoot, 'test-results', 'console-e2e');
const MASKED_RESOURCE = 'people-db';

/** Values that exercise every CSV rule: commas, quotes, newlines, NULL, the empty string. */
const SETUP_SQL = `
CREATE TABLE orders (id int PRIMARY KEY, item text, note text, doc jsonb, placed timestamptz);
INSERT INTO orders VALUES
  (1, 'widget', 'plain', '{"size": 3}', '2026-12-07 10:00:00+00'),
  (2, 'gadget', '', NULL, '2026-12-07 11:30:00+02'),
  (3, 'gizmo, large', 'say "hi"', '[1, 2]', NULL),
  (4, 'line
break', NULL, '{}', '2026-12-07 12:00:00+00');
CREATE TABLE people (id int, name text, ssn text);
INSERT INTO people VALUES (1, 'Alice', '123-45-6789');`;
const EXPORT_SQL = 'select id, item, note, doc, placed from orders order by id';

describeWithChromium('query console e2e', () => {
  describeWithSshd('query console e2e (sshd)', () => {
    describeWithPostgres('query console e2e: run, complete, stream, cancel, export, replay', () => {
      let bed: ReplayTestBed;
      let renderer: RendererBuild | undefined;
      let browser: Browser;
      let page: Page;
      const pageErrors: string[] = [];
      const refused: string[] = [];

      beforeAll(async () => {
        rmSync(shots, { recursive: true, force: true });
        mkdirSync(shots, { recursive: true });
        renderer = await buildRendererForTests();
        bed = await startReplayTestBed({ rendererDir: renderer.dir });
        const setup = await runCommand(PSQL_BIN, [
          '-X',
          '-v',
          'ON_ERROR_STOP=1',
          bed.pgDirectUrl,
          '-c',
          SETUP_SQL,
        ]);
        if (setup.code !== 0) throw new Error(setup.stderr);
        // A second resource on the same database, with a column mask and a guardrail.
        const target = new URL(bed.pgDirectUrl);
        const masked = await bed.admin.createResource({
          name: MASKED_RESOURCE,
          description: 'the same database, with policies',
          target: {
            kind: 'postgres',
            host: target.hostname,
            port: Number(target.port),
            database: target.pathname.slice(1),
            username: decodeURIComponent(target.username),
            tlsMode: 'disable',
          },
          secret: { password: decodeURIComponent(target.password) },
          policy: {
            maskingMode: 'basic',
            masking: [{ name: 'ssn', match: { kind: 'column', pattern: '^ssn$' }, style: 'full' }],
            guardrails: [{ kind: 'statement', name: 'no-drop', classes: ['drop'] }],
          },
        });
        const me = await bed.admin.me();
        await bed.admin.createGrant({
          subject: { kind: 'user', userId: me.id },
          target: { kind: 'resource', resourceId: masked.id },
          maxSessionSeconds: 3600,
        });
        browser = await launchChromium();
        page = await browser.newPage({
          viewport: { width: 1400, height: 900 },
          acceptDownloads: true,
        });
        page.setDefaultTimeout(20_000);
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
        await bed?.close();
        renderer?.remove();
      });

      const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });
      const panel = () => page.locator('.console-panel:visible');
      const status = () => panel().getByTestId('console-status');

      async function typeSql(sql: string) {
        const editor = panel().locator('.cm-content');
        // Focus rather than click: an open completion list would take the click.
        await editor.focus();
        await page.keyboard.press('Escape');
        await page.keyboard.press('Control+a');
        await page.keyboard.press('Delete');
        // insertText: no auto-closed brackets; the completion it may open is closed again.
        await page.keyboard.insertText(sql);
        await page.keyboard.press('Escape');
      }

      async function run(sql: string, until: RegExp) {
        await typeSql(sql);
        await page.keyboard.press('Control+Enter');
        await expect.poll(() => status().textContent(), { timeout: 60_000 }).toMatch(until);
      }

      async function openConsole(resourceName: string) {
        await page.getByRole('button', { name: `Open console on ${resourceName}` }).click();
        await panel().locator('.cm-content').waitFor();
        await expect
          .poll(() => panel().getByRole('button', { name: 'Run', exact: true }).isEnabled())
          .toBe(true);
      }

      it('signs in and opens a console on the PostgreSQL resource', async () => {
        await page.goto(bed.host.url);
        await page.getByRole('textbox', { name: 'Gateway URL' }).fill(bed.gateway.ready.api);
        await page.getByRole('button', { name: 'Inspect gateway' }).click();
        await page.getByRole('heading', { name: 'Compare these fingerprints' }).waitFor();
        await page.getByRole('button', { name: 'Pin this gateway' }).click();
        await page.getByRole('textbox', { name: 'Username' }).fill('root');
        await page.getByLabel('Password', { exact: true }).fill(ROOT_PASSWORD);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.getByRole('heading', { name: 'Resources' }).waitFor();
        await openConsole(bed.pgResourceName);
        await expect(
          panel().getByRole('status', { name: 'Transaction state' }).textContent(),
        ).resolves.toBe('Idle');
      }, 90_000);

      it('runs a query and shows its rows, NULL apart from the empty string', async () => {
        await run('select id, item, note from orders order by id', /4 rows/);
        const grid = panel().getByTestId('result-grid');
        await expect(grid.locator('.result-head').allTextContents()).resolves.toEqual([
          'id',
          'item',
          'note',
        ]);
        await expect(grid.getByRole('button', { name: 'widget' }).count()).resolves.toBe(1);
        const row4 = grid.locator('[data-row="3"] .result-cell');
        await expect(row4.nth(3).textContent()).resolves.toBe('NULL');
        await expect(row4.nth(3).getAttribute('class')).resolves.toContain('cell-null');
        const row2 = grid.locator('[data-row="1"] .result-cell');
        await expect(row2.nth(3).getAttribute('class')).resolves.toContain('cell-empty');
        await shot('01-rows');
      }, 90_000);

      it('completes a column name from the catalog read through the session', async () => {
        await typeSql('select orders.it');
        await page.keyboard.press('Control+Space');
        const option = page.locator('.cm-tooltip-autocomplete li', { hasText: 'item' });
        await option.first().waitFor();
        await shot('02-completion');
        await page.keyboard.press('Enter');
        await expect(panel().locator('.cm-content').textContent()).resolves.toBe(
          'select orders.item',
        );
      }, 60_000);

      it('streams 100,000 rows and scrolls to the last', async () => {
        await run('select g, md5(g::text) from generate_series(1, 100000) g', /^100,000 rows/);
        const grid = panel().getByTestId('result-grid');
        await grid.evaluate((el) => {
          el.scrollTop = el.scrollHeight;
        });
        await grid.locator('.result-rownum', { hasText: /^100000$/ }).waitFor();
        // Only the rows in view are in the DOM.
        expect(await grid.locator('[data-row]').count()).toBeLessThan(200);
        await shot('03-100k');
      }, 120_000);

      it('cancels select pg_sleep(30) within a second', async () => {
        await typeSql('select pg_sleep(30)');
        await page.keyboard.press('Control+Enter');
        await expect.poll(() => status().textContent()).toMatch(/Running/);
        await page.waitForTimeout(300);
        const cancel = panel().getByRole('button', { name: 'Cancel', exact: true });
        const clicked = Date.now();
        await cancel.click();
        await status()
          .filter({ hasText: /Cancelled/ })
          .waitFor({ timeout: 10_000 });
        const tookMs = Date.now() - clicked;
        expect(tookMs).toBeLessThan(1_000);
        await expect(panel().getByTestId('console-error').textContent()).resolves.toContain(
          '57014',
        );
        await shot('04-cancelled');
      }, 60_000);

      it("marks an error's position in the editor", async () => {
        await run('select id,\n  nosuchcolumn from orders', /^Failed after/);
        await expect(panel().getByTestId('console-error').textContent()).resolves.toMatch(/42703/);
        await expect(panel().locator('.sql-error-mark').textContent()).resolves.toBe(
          'nosuchcolumn',
        );
        await shot('05-error-position');
      }, 60_000);

      it('exports CSV equal to psql \\copy … with csv header', async () => {
        await run(EXPORT_SQL, /4 rows/);
        const [download] = await Promise.all([
          page.waitForEvent('download'),
          panel().getByRole('button', { name: 'Export CSV' }).click(),
        ]);
        const exported = readFileSync(await download.path(), 'utf8');
        const file = path.join(shots, 'psql-copy.csv');
        // Same database, same server defaults (DateStyle, TimeZone) as the console's session.
        const copy = await runCommand(PSQL_BIN, [
          '-X',
          bed.pgDirectUrl,
          '-c',
          `\\copy (${EXPORT_SQL}) to '${file}' with csv header`,
        ]);
        expect(copy.code, copy.stderr).toBe(0);
        expect(exported).toBe(readFileSync(file, 'utf8'));
      }, 90_000);

      it('shows a masked column and a blocked statement with its rule', async () => {
        await openConsole(MASKED_RESOURCE);
        await run('select id, name, ssn from people', /1 row/);
        const grid = panel().getByTestId('result-grid');
        const ssnHead = grid.locator('.result-head').nth(2);
        await expect(ssnHead.textContent()).resolves.toContain('masked');
        await expect(
          grid.locator('[data-row="0"] .result-cell').nth(3).getAttribute('class'),
        ).resolves.toContain('cell-masked');
        await expect(grid.getByRole('button', { name: '123-45-6789' }).count()).resolves.toBe(0);
        await run('drop table people', /^Failed after/);
        await expect(panel().getByTestId('console-error').textContent()).resolves.toContain(
          'Blocked by rule “no-drop”',
        );
        await shot('06-masked-blocked');
      }, 90_000);

      it('replays the same queries and rows in the database player', async () => {
        // Closing the console tabs ends their sessions, so their recordings complete.
        for (let i = 0; i < 2; i++) {
          await page
            .getByRole('button', { name: /^Close tab/ })
            .first()
            .click();
        }
        const recordings = await waitForConsoleRecording();
        await page
          .getByRole('navigation', { name: 'Views' })
          .getByRole('button', { name: 'Recordings' })
          .click();
        await page.getByRole('heading', { name: 'Recordings', exact: true }).waitFor();
        await page.getByRole('button', { name: `Open recording ${recordings}` }).click();
        const timeline = page.getByRole('region', { name: 'Query timeline' });
        const query = timeline
          .getByRole('button', { name: /select id, item, note from orders order by id/ })
          .first();
        await query.waitFor({ timeout: 60_000 });
        await query.click();
        const table = page.getByRole('table').first();
        await table.waitFor();
        expect(await table.getByRole('columnheader').allTextContents()).toEqual([
          'id',
          'item',
          'note',
        ]);
        expect(await table.getByRole('cell', { name: 'widget' }).count()).toBe(1);
        await expect(
          timeline.getByRole('button', { name: /select pg_sleep\(30\)/ }).count(),
        ).resolves.toBeGreaterThan(0);
        await shot('07-replayed');
        expect(pageErrors).toEqual([]);
        expect(refused.filter((r) => !r.includes('consoles.'))).toEqual([]);
      }, 120_000);

      /** The orders-db console's session, once its recording is complete. */
      async function waitForConsoleRecording(): Promise<string> {
        for (let i = 0; i < 150; i++) {
          const found = (await bed.admin.listRecordings({})).find(
            (r) =>
              r.protocol === 'postgres' &&
              r.resourceName === bed.pgResourceName &&
              r.status !== 'recording',
          );
          if (found) return found.sessionId;
          await page.waitForTimeout(200);
        }
        throw new Error('the console session was not recorded');
      }
    });
  });
});
