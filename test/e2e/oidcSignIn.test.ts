/**
 * Desktop sign-in with an identity provider, end to end (issue #18): Chromium on the web host's
 * page, the real gateway binary, OpenSSH behind it and `oidc-provider` on loopback. The person
 * clicks "Sign in with Test IdP", completes the provider's development login page in the tab
 * the page opened, and lands in the workspace as the provider's user, with the resource granted
 * to the group the provider's claim names. main ran the loopback flow; the page only ever saw
 * the gateway's start URL. Then a provider whose ID token names another client is refused on
 * the sign-in screen with the gateway's sentence. Screenshots go to test-results/oidc-e2e/.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import type { CallerContext } from '../../main/ipc/contract.ts';
import { createDesktopApp, type DesktopApp } from '../../main/services/desktopApp.ts';
import { startWebHost, type WebHost } from '../../main/webhost/server.ts';
import { GATEWAY_BIN, type GatewayProcess } from '../harness/gatewayProcess.ts';
import { startTestOidcProvider, type TestOidcProvider } from '../harness/oidcProviderForTests.ts';
import { describeWithSshd } from '../harness/sshd.ts';
import {
  startWrongAudienceProvider,
  type WrongAudienceProvider,
} from '../harness/wrongAudienceProviderForTests.ts';
import { buildRendererForTests, type RendererBuild } from './buildRenderer.ts';
import { describeWithChromium, launchChromium } from './chromium.ts';
import { CleanupStack } from './cleanupStack.ts';
import { repoRoot } from './desktopTestBed.ts';
import { startGatewayWithSshTarget } from './gatewayWithSshTarget.ts';

const shots = path.join(repoRoot, 'test-results', 'oidc-e2e');
const RESOURCE = 'prod-web';
const ROOT_PASSWORD = 'root-oidc-e2e-password-4';

describeWithChromium('desktop sign-in with an identity provider e2e', () => {
  describeWithSshd('desktop sign-in with an identity provider e2e', () => {
    const cleanups = new CleanupStack();
    let renderer: RendererBuild | undefined;
    let gateway: GatewayProcess;
    let root: GatewayClient;
    let idp: TestOidcProvider;
    let rogue: WrongAudienceProvider;
    let app: DesktopApp;
    let host: WebHost;
    let browser: Browser;
    let context: BrowserContext;
    let page: Page;
    const logs: string[] = [];

    beforeAll(async () => {
      rmSync(shots, { recursive: true, force: true });
      mkdirSync(shots, { recursive: true });
      renderer = await buildRendererForTests();
      const gatewayDir = mkdtempSync(path.join(tmpdir(), 'witness-oidc-e2e-gw-'));
      cleanups.push(() => rmSync(gatewayDir, { recursive: true, force: true }));
      const started = await startGatewayWithSshTarget(
        {
          gatewayDir,
          rootPassword: ROOT_PASSWORD,
          resourceName: RESOURCE,
          resourceDescription: 'web servers, granted to the sre group',
        },
        cleanups,
      );
      gateway = started.gateway;
      root = started.admin;
      const callbackUrl = `${gateway.ready.api}/v1/oidc/callback`;
      idp = await startTestOidcProvider({ redirectUris: [callbackUrl] });
      cleanups.push(() => idp.close());
      idp.accounts.set('grace', { email: 'grace@example.com', groups: ['sre'] });
      const created = await root.createOidcProvider({
        name: 'testidp',
        displayName: 'Test IdP',
        issuer: idp.issuer,
        clientId: idp.clientId,
        clientSecret: idp.clientSecret,
      });
      expect(created.redirectUri).toBe(callbackUrl);
      rogue = await startWrongAudienceProvider();
      cleanups.push(() => rogue.close());
      await root.createOidcProvider({
        name: 'rogue',
        displayName: 'Rogue IdP',
        issuer: rogue.issuer,
        clientId: 'witness-gateway',
        clientSecret: 'rogue-client-secret-0123456789',
      });
      // The grant names the group, not grace: only the provider's claim puts her in it.
      await root.createGrant({
        subject: { kind: 'group', group: 'sre' },
        target: { kind: 'resource', resourceId: started.sshResourceId },
      });

      const dataDir = mkdtempSync(path.join(tmpdir(), 'witness-oidc-e2e-desktop-'));
      cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
      app = await createDesktopApp({
        appDataDir: dataDir,
        secretStore: 'memory',
        gatewayBin: GATEWAY_BIN,
        useLocalGatewayWhenNoneEnrolled: false,
        log: (line) => logs.push(line),
      });
      cleanups.push(() => app.dispose());
      // Pinning is the connect screen's job, tested elsewhere; here it is set-up.
      const setup: CallerContext = { clientId: 'test-setup', emit: () => {} };
      const inspected = await app.handlers['gateway.inspect']({ url: gateway.ready.api }, setup);
      await app.handlers['gateway.pin'](
        { url: inspected.url, caFingerprint: inspected.caFingerprint },
        setup,
      );
      host = await startWebHost({
        app,
        rendererDir: renderer.dir,
        port: 0,
        log: (line) => logs.push(line),
      });
      cleanups.push(() => host.close());
      browser = await launchChromium();
      // The gateway's TLS certificate comes from its own CA, which the desktop pins; this
      // Chromium profile has no way to trust it, and the page only follows redirects through it.
      context = await browser.newContext({
        viewport: { width: 1400, height: 900 },
        ignoreHTTPSErrors: true,
      });
      page = await context.newPage();
    }, 240_000);

    afterAll(async () => {
      await browser?.close();
      await cleanups.close();
      renderer?.remove();
    });

    it('signs in through the provider and lands in the workspace with the group’s resource', async () => {
      await page.goto(host.url);
      const button = page.getByRole('button', { name: 'Sign in with Test IdP' });
      await button.waitFor({ timeout: 30_000 });
      await page.screenshot({ path: path.join(shots, '01-sign-in-screen.png') });

      // Started, then cancelled from the desktop (the person closed the browser's tab): the
      // screen is back to its buttons, with nothing to report.
      const abandoned = context.waitForEvent('page');
      await button.click();
      await (await abandoned).close();
      await page.getByRole('button', { name: 'Cancel' }).click();
      await page.getByRole('status').filter({ hasText: 'in your browser' }).waitFor({
        state: 'detached',
      });
      expect(await button.isEnabled()).toBe(true);
      expect(await page.getByRole('alert').count()).toBe(0);

      const requested: URL[] = [];
      context.on('request', (request) => requested.push(new URL(request.url())));
      const opened = context.waitForEvent('page');
      await button.click();
      const tab = await opened;
      // oidc-provider's development pages: any login name, any password, then consent.
      await tab.locator('input[name="login"]').fill('grace', { timeout: 30_000 });
      await tab.locator('input[name="password"]').fill('anything');
      await tab.getByRole('button', { name: 'Sign-in' }).click();
      await tab.getByRole('button', { name: 'Continue' }).click({ timeout: 30_000 });
      // The last page is main's loopback listener saying how it went.
      await tab.getByText('Signed in to Witness as grace').waitFor({ timeout: 30_000 });
      expect(new URL(tab.url()).hostname).toBe('127.0.0.1');
      await tab.close();

      await page.getByRole('heading', { name: 'Resources' }).waitFor({ timeout: 30_000 });
      await page.getByText(RESOURCE, { exact: true }).first().waitFor({ timeout: 30_000 });
      // The header names who is signed in.
      await page
        .locator('strong', { hasText: /^grace$/ })
        .first()
        .waitFor();
      const grace = (await root.listUsers()).find((u) => u.username === 'grace');
      expect(grace?.role).toBe('engineer');
      const sre = (await root.listGroups()).find((g) => g.name === 'sre');
      expect(sre?.members.map((m) => m.username)).toContain('grace');
      await page.screenshot({ path: path.join(shots, '02-signed-in-workspace.png') });

      // The page never held the code or a token: nothing of the flow is in its storage, and
      // the one URL it was handed was the gateway's start URL (state and challenge only).
      const stored = await page.evaluate(() => [
        ...Object.keys(localStorage),
        ...Object.keys(sessionStorage),
      ]);
      expect(stored).toEqual(['witness.launchSecret']);
      const startUrl = requested.find((url) => url.pathname.endsWith('/start'));
      expect(startUrl?.pathname).toBe('/v1/oidc/testidp/start');
      expect(startUrl?.searchParams.get('code_challenge_method')).toBe('S256');
      expect([...(startUrl?.searchParams.keys() ?? [])]).not.toContain('code_verifier');
    }, 180_000);

    it('refuses an ID token issued for another client, with the gateway’s sentence', async () => {
      await app.handlers['account.logout']({}, { clientId: 'test-setup', emit: () => {} });
      await page.reload();
      const button = page.getByRole('button', { name: 'Sign in with Rogue IdP' });
      await button.waitFor({ timeout: 30_000 });
      const opened = context.waitForEvent('page');
      await button.click();
      const tab = await opened;
      await tab.getByText(/did not verify/).waitFor({ timeout: 30_000 });
      await tab.close();
      const alert = page.getByRole('alert');
      await alert.waitFor({ timeout: 30_000 });
      const message = await alert.textContent();
      expect(message).toMatch(/identity provider's answer did not verify/);
      expect(message).toMatch(/"aud" \(audience\)/);
      const state = await app.handlers['app.getState']({}, { clientId: 'x', emit: () => {} });
      expect(state.account).toBeNull();
      await page.screenshot({ path: path.join(shots, '03-wrong-audience-refused.png') });
    }, 120_000);

    it('lets an admin add a provider and a machine identity in the settings panel', async () => {
      // Signed out by the test before; the break-glass password still signs the admin in.
      await page.reload();
      await page.getByLabel('Username').fill('root');
      await page.getByLabel('Password').fill(ROOT_PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Resources' }).waitFor({ timeout: 30_000 });
      await page.getByRole('button', { name: 'Settings', exact: true }).click();
      const nav = (section: string) =>
        page
          .getByRole('navigation', { name: 'Settings' })
          .getByRole('button', { name: section, exact: true })
          .click();

      await nav('Identity providers');
      await page.getByRole('row', { name: 'testidp' }).waitFor({ timeout: 20_000 });
      await page.getByRole('button', { name: 'Add provider' }).click();
      const form = page.getByRole('form', { name: 'Add an identity provider' });
      await form.getByLabel('Name', { exact: true }).fill('corp');
      await form.getByLabel('Display name').fill('Corp SSO');
      await form.getByLabel('Issuer URL').fill(idp.issuer);
      await form.getByLabel('Client id').fill(idp.clientId);
      await form.getByLabel('Client secret').fill(idp.clientSecret);
      await form.getByLabel('Groups claim').fill('groups');
      await form.getByRole('button', { name: 'Add provider' }).click();
      await page.getByRole('row', { name: 'corp' }).waitFor({ timeout: 20_000 });
      const corp = (await root.listOidcProviders()).find((p) => p.name === 'corp');
      expect(corp).toMatchObject({ displayName: 'Corp SSO', issuer: idp.issuer });
      // The secret is write-only: nothing the page shows holds it.
      expect(await page.content()).not.toContain(idp.clientSecret);
      await page.screenshot({ path: path.join(shots, '04-identity-providers.png') });

      await nav('Machine identities');
      await page.getByRole('button', { name: 'Add machine identity' }).click();
      const machine = page.getByRole('form', { name: 'Add a machine identity' });
      await machine.getByLabel('Name', { exact: true }).fill('ci-deploy');
      await machine.getByLabel('Issuer URL').fill(idp.issuer);
      await machine.getByLabel('Audience').fill('witness');
      await machine.getByLabel('Required claims').fill('repository=acme/app\nref=refs/heads/main');
      await machine.getByRole('button', { name: 'Add identity' }).click();
      await page.getByRole('row', { name: 'ci-deploy' }).waitFor({ timeout: 20_000 });
      const identities = await root.listMachineIdentities();
      expect(identities.find((m) => m.name === 'ci-deploy')).toMatchObject({
        issuer: idp.issuer,
        audience: 'witness',
        claims: { repository: 'acme/app', ref: 'refs/heads/main' },
      });
      await page.screenshot({ path: path.join(shots, '05-machine-identities.png') });

      // A standard claim as a binding (aud) is the gateway's to refuse; the form shows its sentence.
      await page.getByRole('button', { name: 'Add machine identity' }).click();
      await machine.getByLabel('Name', { exact: true }).fill('ci-any');
      await machine.getByLabel('Issuer URL').fill(idp.issuer);
      await machine.getByLabel('Required claims').fill('aud=another-app');
      await machine.getByRole('button', { name: 'Add identity' }).click();
      await machine.getByRole('alert').waitFor({ timeout: 20_000 });
      expect(await machine.getByRole('alert').textContent()).toMatch(
        /Bind aud with issuer and audience/,
      );
      await machine.getByRole('button', { name: 'Cancel' }).click();

      await page.getByRole('button', { name: 'Remove ci-deploy' }).click();
      await page.getByRole('alertdialog').getByRole('button', { name: 'Remove identity' }).click();
      await page.getByRole('row', { name: 'ci-deploy' }).waitFor({ state: 'detached' });
      expect((await root.listMachineIdentities()).map((m) => m.name)).not.toContain('ci-deploy');
    }, 120_000);
  });
});
