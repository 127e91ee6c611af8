/**
 * Reset from the Users page end to end (issue #14): Chromium with two contexts, each on its own
 * desktop (web host), against the real gateway binary. The admin (ada) invites eve, eve
 * enrolls; ada resets eve's password from the panel, confirms, and gets a new one-time link
 * shown once; eve's desktop no longer signs in with what it held, and the new link sets a new
 * password that signs her in. Screenshots go to test-results/user-reset-e2e/.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithSshd } from '../harness/sshd.ts';
import { buildRendererForTests, type RendererBuild } from './buildRenderer.ts';
import { describeWithChromium, launchChromium } from './chromium.ts';
import { repoRoot } from './desktopTestBed.ts';
import { type SettingsTestBed, startSettingsTestBed } from './settingsTestBed.ts';

const shots = path.join(repoRoot, 'test-results', 'user-reset-e2e');
const ADA_PASSWORD = 'ada-reset-password-5';
const EVE_PASSWORD = 'eve-reset-password-8';
const EVE_NEW_PASSWORD = 'eve-reset-password-9';

describeWithChromium('users page reset e2e', () => {
  describeWithSshd('users page reset e2e', () => {
    let bed: SettingsTestBed;
    let renderer: RendererBuild | undefined;
    let browser: Browser;
    let ada: { context: BrowserContext; page: Page };
    let eve: { context: BrowserContext; page: Page };

    const open = async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 760 } });
      return { context, page: await context.newPage() };
    };
    async function enroll(page: Page, url: string, link: string, password: string) {
      await page.goto(url);
      await page.getByRole('button', { name: 'Enroll with a link' }).click();
      await page.getByLabel('Enroll link').fill(link);
      await page.getByLabel('New password').fill(password);
      await page.getByLabel('Confirm password').fill(password);
      await page.getByRole('button', { name: 'Enroll', exact: true }).click();
      await page.getByRole('heading', { name: 'Resources' }).waitFor({ timeout: 20_000 });
    }

    beforeAll(async () => {
      rmSync(shots, { recursive: true, force: true });
      mkdirSync(shots, { recursive: true });
      renderer = await buildRendererForTests();
      bed = await startSettingsTestBed(renderer.dir);
      browser = await launchChromium();
      ada = await open();
      eve = await open();
    }, 180_000);
    afterAll(async () => {
      await browser?.close();
      await bed?.close();
      renderer?.remove();
    });

    it('resets a password from the panel; the new link enrolls, the old sign-in is gone', async () => {
      await enroll(ada.page, bed.adminHost.url, bed.adminEnrollLink, ADA_PASSWORD);
      await ada.page.getByRole('button', { name: 'Settings', exact: true }).click();
      await ada.page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
      await ada.page.getByRole('button', { name: 'Invite user' }).click();
      const form = ada.page.getByRole('form', { name: 'Invite a user' });
      await form.getByLabel('Username').fill('eve');
      await form.getByRole('button', { name: 'Create and get link' }).click();
      const linkBox = ada.page.getByRole('textbox', { name: 'Enrollment link for eve' });
      await linkBox.waitFor({ timeout: 10_000 });
      const firstLink = await linkBox.inputValue();
      await ada.page.getByRole('button', { name: 'Done' }).click();
      await enroll(eve.page, bed.engineerHost.url, firstLink, EVE_PASSWORD);

      await ada.page.getByRole('button', { name: 'Reset password or TOTP of eve' }).click();
      const dialog = ada.page.getByRole('alertdialog', { name: "Reset eve's sign-in?" });
      await dialog.getByText(/live sessions go on/).waitFor();
      await expect(dialog.getByRole('checkbox', { name: /Password/ }).isChecked()).resolves.toBe(
        true,
      );
      // eve has no TOTP: nothing to reset there, so it starts unticked.
      await expect(dialog.getByRole('checkbox', { name: /TOTP/ }).isChecked()).resolves.toBe(false);
      await ada.page.screenshot({ path: path.join(shots, '01-reset-confirm.png') });
      await dialog.getByRole('button', { name: 'Reset for eve' }).click();
      await ada.page.getByRole('heading', { name: "eve's password was reset" }).waitFor();
      const newLink = await linkBox.inputValue();
      expect(newLink).toMatch(/^witness:\/\/enroll\?gateway=/);
      expect(newLink).not.toBe(firstLink);
      await ada.page.screenshot({ path: path.join(shots, '02-reset-link.png') });
      await ada.page.getByRole('button', { name: 'Done' }).click();
      await expect(linkBox.count()).resolves.toBe(0);

      // eve's desktop held a sign-in the reset revoked: opening it again asks her to sign in.
      await eve.page.reload();
      await eve.page
        .getByRole('button', { name: 'Enroll with a link' })
        .waitFor({ timeout: 20_000 });
      await enroll(eve.page, bed.engineerHost.url, newLink, EVE_NEW_PASSWORD);
      await eve.page.screenshot({ path: path.join(shots, '03-eve-enrolled-again.png') });
    }, 120_000);
  });
});
