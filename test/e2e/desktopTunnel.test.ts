/**
 * Tunnels in the desktop (issue #15), as an engineer uses them: the real renderer in Debian's
 * Chromium through the web host, the desktop's services (createDesktopApp), the real gateway
 * binary with its PostgreSQL listener and the run's PostgreSQL 15. Open a tunnel from the
 * resource list on a port typed in the panel, connect the real `psql` to the port the panel
 * shows, see the live connection (with its session id) in the panel, copy the psql line and
 * check the clipboard holds it, and get a DBeaver/pgAdmin connection whose line psql uses.
 * Screenshots at 1400×900 go to test-results/desktop-tunnel/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { createDesktopApp } from '../../main/services/desktopApp.ts';
import { startWebHost, type WebHost } from '../../main/webhost/server.ts';
import {
  createAdmin,
  GATEWAY_BIN,
  type GatewayProcess,
  runCommand,
  signedInClient,
  spawnGateway,
} from '../harness/gatewayProcess.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import { addPostgresTarget } from '../harness/postgresTarget.ts';
import { PSQL_BIN } from '../harness/postgresTestBed.ts';
import { waitFor } from '../harness/waitFor.ts';
import { buildRendererForTests, type RendererBuild } from './buildRenderer.ts';
import { describeWithChromium, launchChromium } from './chromium.ts';
import { CleanupStack } from './cleanupStack.ts';
import { repoRoot } from './desktopTestBed.ts';

const shots = path.join(repoRoot, 'test-results', 'desktop-tunnel');
const ALICE_PASSWORD = 'alice-tunnel-password-3';
const TOOL_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  LANG: 'C.UTF-8',
  PGCONNECT_TIMEOUT: '20',
  HOME: tmpdir(),
};

/** A port nothing listens on right now (bound, read, released). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describeWithChromium('desktop tunnel e2e', () => {
  describeWithPostgres('desktop tunnel e2e: open from the UI, psql, live connection, copy', () => {
    const cleanups = new CleanupStack();
    let renderer: RendererBuild | undefined;
    let gateway: GatewayProcess;
    let admin: GatewayClient;
    let aliceId = '';
    let resourceId = '';
    let host: WebHost;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    const pageErrors: string[] = [];
    const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });
    const psql = (conninfo: string, sql: string) =>
      runCommand(PSQL_BIN, ['-X', '-A', '-t', conninfo, '-c', sql], { env: TOOL_ENV });

    beforeAll(async () => {
      rmSync(shots, { recursive: true, force: true });
      mkdirSync(shots, { recursive: true });
      renderer = await buildRendererForTests();
      const work = mkdtempSync(path.join(tmpdir(), 'witness-tunnel-e2e-'));
      cleanups.push(() => rmSync(work, { recursive: true, force: true }));
      const dataDir = path.join(work, 'gw');
      gateway = await spawnGateway([
        '--data',
        dataDir,
        '--api',
        '127.0.0.1:0',
        '--postgres',
        '127.0.0.1:0',
      ]);
      cleanups.push(() => gateway.stop());
      await createAdmin(dataDir, 'root', 'root-tunnel-password-1');
      admin = await signedInClient(gateway.ready.api, dataDir, {
        username: 'root',
        password: 'root-tunnel-password-1',
      });
      cleanups.push(() => admin.close());
      aliceId = (
        await admin.createUser({ username: 'alice', role: 'engineer', password: ALICE_PASSWORD })
      ).user.id;
      resourceId = (
        await addPostgresTarget(admin, { name: 'orders-db', grantTo: { userId: aliceId } })
      ).resourceId;
      const app = await createDesktopApp({
        appDataDir: path.join(work, 'desktop'),
        secretStore: 'memory',
        gatewayBin: GATEWAY_BIN,
        useLocalGatewayWhenNoneEnrolled: false,
        log: () => {},
      });
      host = await startWebHost({ app, rendererDir: renderer.dir, port: 0, log: () => {} });
      cleanups.push(() => host.close());
      browser = await launchChromium();
      cleanups.push(() => browser.close());
      context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
        origin: host.origin,
      });
      page = await context.newPage();
      page.setDefaultTimeout(20_000);
      page.on('pageerror', (e) => pageErrors.push(e.message));
    }, 240_000);

    afterAll(async () => {
      await cleanups.close();
      renderer?.remove();
    });

    it('signs in as alice', async () => {
      await page.goto(host.url);
      await page.getByRole('textbox', { name: 'Gateway URL' }).fill(gateway.ready.api);
      await page.getByRole('button', { name: 'Inspect gateway' }).click();
      await page.getByRole('heading', { name: 'Compare these fingerprints' }).waitFor();
      await page.getByRole('button', { name: 'Pin this gateway' }).click();
      await page.getByRole('textbox', { name: 'Username' }).fill('alice');
      await page.getByLabel('Password', { exact: true }).fill(ALICE_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Resources' }).waitFor();
    }, 90_000);

    it('opens a tunnel on a typed port, psql connects to the shown port, the connection shows live', async () => {
      const port = await freePort();
      await page.getByRole('button', { name: 'Open tunnel to orders-db' }).click();
      const form = page.getByRole('form', { name: 'Open a tunnel to orders-db' });
      await form.getByLabel('Local port').fill(String(port));
      await form.getByRole('button', { name: 'Open tunnel' }).click();
      const card = page.getByRole('listitem', { name: 'Tunnel to orders-db' });
      await card.getByText('Listening').waitFor();
      const shownPort = Number(await card.locator('.tunnel-port').textContent());
      expect(shownPort).toBe(port);
      const psqlLine = await card.getByRole('textbox', { name: 'psql' }).inputValue();
      const conninfo = /^psql "(.*)"$/.exec(psqlLine)?.[1] ?? '';
      expect(conninfo).toContain(`port=${port}`);
      expect(await card.getByRole('textbox', { name: 'JDBC URL' }).inputValue()).toMatch(
        new RegExp(`^jdbc:postgresql://127\\.0\\.0\\.1:${port}/`),
      );

      const before = (await admin.listSessions({ resourceId })).length;
      const running = psql(conninfo, 'SELECT pg_sleep(4), 6 * 7');
      const live = card.getByRole('list', { name: 'Live connections' }).locator('code');
      await live.first().waitFor();
      const sessionId = (await live.first().textContent()) ?? '';
      expect(sessionId).toMatch(/^ses_/);
      await expect
        .poll(async () => card.getByText(/1 live connection/).count(), { timeout: 10_000 })
        .toBe(1);
      await shot('tunnel-live-connection');
      const result = await running;
      expect(result.stderr).toBe('');
      expect(result.stdout.trim()).toBe('|42');
      const sessions = await waitFor(async () => {
        const all = await admin.listSessions({ resourceId });
        return all.length === before + 1 && all;
      }, 'the psql session');
      expect(sessions[0]).toMatchObject({ id: sessionId, username: 'alice', userId: aliceId });
      // Gone from the live list once psql left.
      await live.first().waitFor({ state: 'detached' });
      expect(pageErrors).toEqual([]);
    }, 120_000);

    it('copies the psql line to the clipboard', async () => {
      const card = page.getByRole('listitem', { name: 'Tunnel to orders-db' });
      const psqlLine = await card.getByRole('textbox', { name: 'psql' }).inputValue();
      await card.getByRole('button', { name: 'Copy psql' }).click();
      await card.getByRole('button', { name: 'Copy psql' }).getByText('Copied').waitFor();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(psqlLine);
      await card.getByRole('button', { name: 'Copy JDBC URL' }).click();
      expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(
        await card.getByRole('textbox', { name: 'JDBC URL' }).inputValue(),
      );
    });

    it('shows a DBeaver/pgAdmin connection whose line psql uses, straight to the gateway', async () => {
      await page
        .getByRole('button', { name: 'Copy connection for DBeaver/pgAdmin to orders-db' })
        .click();
      const dialog = page.getByRole('dialog', { name: /Connection for DBeaver or pgAdmin/ });
      const jdbc = dialog.getByRole('textbox', { name: 'JDBC URL (DBeaver)' });
      await jdbc.waitFor();
      expect(await jdbc.inputValue()).toMatch(/sslmode=verify-full&sslcert=.*client\.pk8/);
      const conninfo = await dialog
        .getByRole('textbox', { name: 'Connection string' })
        .inputValue();
      expect(conninfo).toContain('sslmode=verify-full');
      await shot('db-connection-dialog');
      const run = await psql(conninfo, 'SELECT current_user IS NOT NULL');
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe('t');
      await dialog.getByRole('button', { name: 'Close' }).click();
    }, 60_000);

    it('keeps the tunnel across a reload of the window, shown in the dark theme too', async () => {
      // The tunnel lives in main, not in the page: a reloaded window finds it in tunnels.list.
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.evaluate(() => localStorage.removeItem('witness.theme'));
      await page.reload();
      await page.getByRole('heading', { name: 'Resources' }).waitFor();
      await page.getByRole('button', { name: 'Tunnels (1)' }).click();
      const card = page.getByRole('listitem', { name: 'Tunnel to orders-db' });
      await card.getByText('Listening').waitFor();
      await shot('tunnel-dark');
    }, 60_000);

    it('stops the tunnel from the panel', async () => {
      const card = page.getByRole('listitem', { name: 'Tunnel to orders-db' });
      await card.getByRole('button', { name: 'Stop tunnel' }).click();
      await card.waitFor({ state: 'detached' });
      await page.getByText('No tunnels open.').waitFor();
    });
  });
});
