/**
 * The built renderer in Debian's Chromium under the strict CSP, driven through a fake
 * DesktopApi (test/fixtures/fakeDesktopApi.ts) — the UI's own behaviour, without main: each
 * screen's accessible names (the ones renderer/README.md promises the e2e), validation and
 * error alerts, TOTP, terminal tabs with typed input, acked output, shortcuts, end-of-session
 * overlays and reconnect, expiry warning, Find, copy/paste, WebGL context loss falling back to
 * the DOM renderer, recordings verify, themes. Screenshots of every
 * screen in both themes go to test-results/renderer/.
 *
 * The full flow against real main services, a real gateway and sshd is Engineer D's e2e.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium } from '../e2e/chromium.ts';
import type { FakeOptions } from '../fixtures/fakeDesktopApi.ts';
import { type FakeDesktopInChromium, startFakeDesktopInChromium } from './fakeDesktopInChromium.ts';

type FakeWindow = {
  __witnessFake: {
    log: { name: string; request: unknown }[];
    acks: { terminalId: string; bytes: number }[];
    emitted: Record<string, number>;
    emit(name: string, payload: unknown): void;
    finishLocalStart(): void;
  };
};

describeWithChromium('renderer in Chromium (fake DesktopApi)', () => {
  let chromium: FakeDesktopInChromium;

  beforeAll(async () => {
    chromium = await startFakeDesktopInChromium('renderer');
  }, 120_000);

  afterAll(async () => {
    // Every page must have run with no CSP violation and no uncaught error.
    expect(await chromium?.close()).toEqual([]);
  });

  const open = (options: FakeOptions, theme: 'light' | 'dark' = 'light', gpu = true) =>
    chromium.openPage({
      fake: options,
      viewport: { width: 1280, height: 800 },
      theme,
      // The DOM renderer puts terminal text in the DOM, where the test can read it.
      domRenderer: !gpu,
    });

  const shot = (page: Page, name: string) => chromium.screenshot(page, name);

  /** A copy of what the fake recorded (calls, acks, bytes sent), to assert on in Node. */
  type FakeRecord = Pick<FakeWindow['__witnessFake'], 'log' | 'acks' | 'emitted'>;
  const fake = async <T>(page: Page, read: (f: FakeRecord) => T): Promise<T> =>
    read(
      await page.evaluate(() => {
        const f = (globalThis as unknown as FakeWindow).__witnessFake;
        return JSON.parse(JSON.stringify({ log: f.log, acks: f.acks, emitted: f.emitted }));
      }),
    );

  it('first run of the local gateway: starting, then create the admin account and land signed in', async () => {
    const page = await open({ scenario: 'local-first-run' });
    await expect
      .poll(() => page.getByRole('status').filter({ hasText: 'starting a gateway' }).count())
      .toBe(1);
    await shot(page, 'local-gateway-starting');
    await page.evaluate(() =>
      (globalThis as unknown as FakeWindow).__witnessFake.finishLocalStart(),
    );
    await page.getByRole('heading', { name: 'Create the admin account' }).waitFor();
    expect(await page.getByText('history here is only as safe as this machine').count()).toBe(1);
    await page.getByRole('textbox', { name: 'Username', exact: true }).fill('dana');
    await page.getByLabel('Password', { exact: true }).fill('short');
    await page.getByLabel('Confirm password').fill('short');
    await page.getByRole('button', { name: 'Create admin account' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('at least 10 characters');
    await page.getByLabel('Password', { exact: true }).fill('a-long-password');
    await page.getByLabel('Confirm password').fill('a-long-password');
    await shot(page, 'create-admin');
    await page.getByRole('button', { name: 'Create admin account' }).click();
    await page.getByRole('button', { name: 'Open terminal on demo-ssh', exact: true }).waitFor();
    expect(await page.getByText('local gateway — for evaluation').count()).toBeGreaterThan(0);
    expect(await fake(page, (f) => f.log.map((c) => c.name))).toContain('localGateway.createAdmin');
  });

  it('shows why the local gateway failed and offers another gateway', async () => {
    for (const theme of ['light', 'dark'] as const) {
      const page = await open({ scenario: 'local-failed' }, theme);
      await page.getByRole('heading', { name: 'The local gateway could not start' }).waitFor();
      expect(await page.getByRole('alert').textContent()).toContain('EADDRINUSE');
      await shot(page, `local-gateway-failed-${theme}`);
      if (theme === 'light') {
        await page.getByRole('button', { name: 'Connect to a gateway' }).click();
        await page.getByRole('heading', { name: 'Connect to a gateway' }).waitFor();
        // No call: forgetting would only restart the local gateway; pinning another replaces it.
        expect(await fake(page, (f) => f.log.map((c) => c.name))).toEqual(['app.getState']);
        await page.getByRole('button', { name: 'Back to the local gateway' }).click();
        await page.getByRole('heading', { name: 'The local gateway could not start' }).waitFor();
      }
    }
  });

  it('connect: inspect shows both fingerprints, pin leads to sign-in; errors are alerts', async () => {
    const page = await open({ scenario: 'connect' }, 'dark');
    await page.getByRole('textbox', { name: 'Gateway URL' }).fill('http://insecure.example');
    await page.getByRole('button', { name: 'Inspect gateway' }).click();
    expect(await page.getByRole('alert').textContent()).toContain('https:// only');
    await page.getByRole('textbox', { name: 'Gateway URL' }).fill('unreachable.example');
    await page.getByRole('button', { name: 'Inspect gateway' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('connection refused');
    await page.getByRole('textbox', { name: 'Gateway URL' }).fill('gateway.acme.internal:8443');
    await page.getByRole('button', { name: 'Inspect gateway' }).click();
    await page.getByRole('heading', { name: 'Compare these fingerprints' }).waitFor();
    expect(await page.getByText('SHA256:9f:2c:41').count()).toBe(1);
    expect(await page.getByText('SHA256:Jx4N0o1m').count()).toBe(1);
    await shot(page, 'connect-fingerprints-dark');
    await page.getByRole('button', { name: 'Pin this gateway' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const pin = await fake(page, (f) => f.log.find((c) => c.name === 'gateway.pin')?.request);
    expect(pin).toEqual({
      url: 'https://gateway.acme.internal:8443',
      caFingerprint: 'SHA256:9f:2c:41:aa:03:7e:5b:c1:88:d0:12:6f:e4:3b:90:71',
    });
  });

  it('enroll: a deep link opens the enroll screen with the link filled in', async () => {
    const page = await open({ scenario: 'connect' });
    await page.getByRole('heading', { name: 'Connect to a gateway' }).waitFor();
    const link = 'witness://enroll?gateway=https%3A%2F%2Fgw%3A8443&token=wen_x&fingerprint=ab';
    await page.evaluate(
      (l) =>
        (globalThis as unknown as FakeWindow).__witnessFake.emit('app.deepLink', {
          kind: 'enroll',
          link: l,
        }),
      link,
    );
    await page.getByRole('heading', { name: 'Enroll with a link' }).waitFor();
    expect(await page.getByRole('textbox', { name: 'Enroll link' }).inputValue()).toBe(link);
    await page.getByLabel('New password').fill('a-long-password');
    await page.getByLabel('Confirm password').fill('another-password');
    await page.getByRole('button', { name: 'Enroll', exact: true }).click();
    expect(await page.getByRole('alert').textContent()).toContain('do not match');
    await page.getByLabel('Confirm password').fill('a-long-password');
    await shot(page, 'enroll');
    await page.getByRole('button', { name: 'Enroll', exact: true }).click();
    await page.getByRole('searchbox', { name: 'Search resources' }).waitFor();
  });

  it('sign in: wrong password is an alert, then the TOTP step, with the secret-store notice', async () => {
    const page = await open({
      scenario: 'sign-in',
      secretNotice:
        'This browser session keeps your sign-in in memory only: you will sign in again after a restart.',
    });
    // Plain words up front; main's own account stays in the notice's details.
    const notice = page.getByRole('note', { name: 'Sign-in storage' });
    expect(await notice.textContent()).toContain('Sign-in not saved on this computer');
    expect(await notice.locator('details').textContent()).toContain('memory only');
    await page.getByRole('textbox', { name: 'Username' }).fill('totp');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toBe('Wrong username or password.');
    await shot(page, 'sign-in-error');
    await page.getByLabel('Password').fill('correct horse');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('textbox', { name: 'Authentication code' }).fill('123 456');
    await shot(page, 'sign-in-totp');
    await page.getByRole('button', { name: 'Verify code' }).click();
    await page.getByRole('searchbox', { name: 'Search resources' }).waitFor();
    const logins = await fake(page, (f) =>
      f.log.filter((c) => c.name === 'account.login').map((c) => c.request),
    );
    expect(logins.at(-1)).toEqual({
      username: 'totp',
      password: 'correct horse',
      totpCode: '123456',
    });
  });

  it('workspace: filters, terminal tabs, typed input, acked output, shortcuts, reconnect, verify', async () => {
    const page = await open({ scenario: 'workspace' }, 'light', false);
    const search = page.getByRole('searchbox', { name: 'Search resources' });
    await search.waitFor();
    // Postgres is listed without a terminal button; requestable ssh has none either.
    expect(await page.getByRole('button', { name: /^Open terminal on/ }).count()).toBe(2);
    await search.fill('orders');
    expect(await page.getByRole('listitem', { name: 'orders-db' }).count()).toBe(1);
    expect(await page.getByRole('listitem', { name: 'web-1' }).count()).toBe(0);
    await search.fill('');
    await page.getByLabel('Filter by kind').selectOption('postgres');
    expect(await page.getByRole('listitem', { name: 'web-1' }).count()).toBe(0);
    await page.getByLabel('Filter by kind').selectOption('all');
    await page.getByLabel('Filter by label').selectOption('env=prod');
    expect(await page.getByRole('listitem', { name: 'demo-ssh' }).count()).toBe(0);
    await page.getByLabel('Filter by label').selectOption('');
    await shot(page, 'workspace-empty');

    await page.getByRole('button', { name: 'Open terminal on web-1', exact: true }).click();
    await page.getByRole('tab', { name: 'web-1' }).waitFor();
    const region = page.getByRole('region', { name: 'Terminal web-1' });
    await region.getByRole('status', { name: 'Recorded' }).waitFor();
    await expect.poll(() => region.locator('.xterm-rows').textContent()).toContain('$');
    await page.keyboard.type('echo $((6*7))');
    await page.keyboard.press('Enter');
    await expect.poll(() => region.locator('.xterm-rows').textContent()).toContain('42');
    // Back-pressure loop: everything main sent is acked, and only after xterm parsed it.
    await page.keyboard.type('seq 20000');
    await page.keyboard.press('Enter');
    await expect.poll(() => region.locator('.xterm-rows').textContent()).toContain('20000');
    await expect
      .poll(() =>
        fake(page, (f) => {
          const acked = f.acks.filter((a) => a.terminalId === 'term-1');
          return acked.reduce((n, a) => n + a.bytes, 0) - (f.emitted['term-1'] ?? 0);
        }),
      )
      .toBe(0);
    expect(await region.locator('.terminal-host').getAttribute('data-renderer')).toBe('dom');
    await page.keyboard.type('clear-me');
    await shot(page, 'workspace-terminal');

    // A second tab; Ctrl+PageUp goes back, Ctrl+Shift+W closes the active tab.
    await page.getByRole('button', { name: 'Open terminal on demo-ssh', exact: true }).click();
    await page
      .getByRole('region', { name: 'Terminal demo-ssh' })
      .getByRole('status', { name: 'Recorded' })
      .waitFor();
    expect(await page.getByRole('tab', { name: 'demo-ssh' }).getAttribute('aria-selected')).toBe(
      'true',
    );
    await page.keyboard.press('Control+PageUp');
    expect(await page.getByRole('tab', { name: 'web-1' }).getAttribute('aria-selected')).toBe(
      'true',
    );
    await page.keyboard.press('Control+PageDown');
    await page.keyboard.press('Control+Shift+W');
    await expect.poll(() => page.getByRole('tab').count()).toBe(1);
    expect(await fake(page, (f) => f.log.filter((c) => c.name === 'terminals.close').length)).toBe(
      1,
    );
    await page.keyboard.press('Control+Shift+T');
    expect(await search.evaluate((el) => el === el.ownerDocument.activeElement)).toBe(true);

    // exit -> overlay with the exit message -> Reconnect opens a new session in the same tab.
    await region.locator('.xterm').click();
    await page.keyboard.press('Backspace');
    for (let i = 0; i < 8; i++) await page.keyboard.press('Backspace');
    await page.keyboard.type('exit');
    await page.keyboard.press('Enter');
    const ended = page.getByRole('alertdialog', { name: 'Session ended' });
    await ended.waitFor();
    expect(await ended.textContent()).toContain('The remote shell on web-1 exited.');
    await shot(page, 'terminal-ended');
    await ended.getByRole('button', { name: 'Reconnect' }).click();
    await region.getByRole('status', { name: 'Recorded' }).waitFor();
    await expect.poll(() => page.getByRole('alertdialog').count()).toBe(0);
    const opens = await fake(page, (f) => f.log.filter((c) => c.name === 'terminals.open').length);
    expect(opens).toBe(3);

    // The gateway revokes access: a clear message.
    const live = await fake(page, (f) => Object.keys(f.emitted).at(-1));
    await page.evaluate(
      (terminalId) =>
        (globalThis as unknown as FakeWindow).__witnessFake.emit('terminal.ended', {
          terminalId,
          reason: { kind: 'gateway', cause: 'revoked', message: 'Grant g-17 was revoked by sam.' },
        }),
      live,
    );
    const revoked = page.getByRole('alertdialog', { name: 'Access revoked' });
    await revoked.waitFor();
    expect(await revoked.textContent()).toContain('Grant g-17 was revoked by sam.');

    // Recordings: each verdict badge.
    await page.getByRole('button', { name: 'Verify recording ses_01HZX4K7Q2' }).click();
    await page.getByRole('button', { name: 'Verify recording ses_01HZX2B9M1' }).click();
    await page.getByRole('button', { name: 'Verify recording ses_01HZWZZ0T5' }).click();
    const recordings = page.getByRole('region', { name: 'Recent recordings' });
    await recordings.getByText('Verified', { exact: true }).waitFor();
    await recordings.getByText('Partial: verified to seq 96').waitFor();
    await recordings.getByText('Failed at seq 18').waitFor();
    await shot(page, 'workspace-revoked-and-verified');

    // Theme toggle flips and persists.
    await page.getByRole('button', { name: 'Switch to dark theme' }).click();
    expect(
      await page.evaluate(
        () =>
          (
            globalThis as unknown as {
              document: { documentElement: { dataset: { theme?: string } } };
            }
          ).document.documentElement.dataset.theme,
      ),
    ).toBe('dark');
    await page.reload();
    await page.getByRole('searchbox', { name: 'Search resources' }).waitFor();
    await page.getByRole('button', { name: 'Switch to light theme' }).waitFor();
  });

  it('a deep link over the workspace keeps its terminals; a sign-out by main is explained', async () => {
    const page = await open({ scenario: 'workspace' });
    await page.getByRole('button', { name: 'Open terminal on web-1', exact: true }).click();
    const region = page.getByRole('region', { name: 'Terminal web-1' });
    await region.getByRole('status', { name: 'Recorded' }).waitFor();
    await page.evaluate(() =>
      (globalThis as unknown as FakeWindow).__witnessFake.emit('app.deepLink', {
        kind: 'enroll',
        link: 'witness://enroll?gateway=x&token=y&fingerprint=z',
      }),
    );
    await page.getByRole('heading', { name: 'Enroll with a link' }).waitFor();
    await page.getByRole('button', { name: 'Back' }).click();
    await region.getByRole('status', { name: 'Recorded' }).waitFor();
    expect(await fake(page, (f) => f.log.filter((c) => c.name === 'terminals.close').length)).toBe(
      0,
    );
    expect(await fake(page, (f) => f.log.filter((c) => c.name === 'terminals.open').length)).toBe(
      1,
    );
    // A second tab on the same resource gets its own name.
    await page.getByRole('button', { name: 'Open terminal on web-1', exact: true }).click();
    await page.getByRole('tab', { name: 'web-1 (2)' }).waitFor();
    expect(await page.title()).toBe('web-1 (2) — Witness');
    await page.getByRole('button', { name: 'Close tab web-1 (2)', exact: true }).click();
    await expect.poll(() => page.getByRole('tab').count()).toBe(1);

    // Main signs the user out (the refresh token expired): the sign-in screen says why.
    await page.evaluate(async () => {
      const g = globalThis as unknown as FakeWindow & {
        witness: { call(name: string, request: unknown): Promise<Record<string, unknown>> };
      };
      const state = await g.witness.call('app.getState', {});
      g.__witnessFake.emit('app.stateChanged', { ...state, account: null });
    });
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.getByRole('status').filter({ hasText: 'You were signed out' }).count()).toBe(
      1,
    );
    await shot(page, 'signed-out-by-gateway');
  });

  it('warns five minutes before the session ends; WebGL terminal, find with Ctrl+Shift+F', async () => {
    const page = await open({ scenario: 'workspace', sessionMinutes: 4 }, 'dark');
    await page.getByRole('button', { name: 'Open terminal on demo-ssh', exact: true }).click();
    const region = page.getByRole('region', { name: 'Terminal demo-ssh' });
    const warning = region.getByRole('alert');
    await warning.waitFor();
    expect(await warning.textContent()).toContain('ends in less than 5 minutes');
    await region.getByRole('status', { name: 'Recorded' }).waitFor();
    // Chromium's software GL (SwiftShader) runs WebGL even with --disable-gpu; where it does
    // not, the fallback must have kicked in instead of failing.
    const renderer = await region.locator('.terminal-host').getAttribute('data-renderer');
    expect(['webgl', 'dom']).toContain(renderer);
    await expect
      .poll(() => fake(page, (f) => f.acks.reduce((n, a) => n + a.bytes, 0)))
      .toBeGreaterThan(0);
    await page.keyboard.type('echo $((6*7))');
    await page.keyboard.press('Enter');
    await expect
      .poll(() =>
        fake(page, (f) => f.acks.reduce((n, a) => n + a.bytes, 0) - (f.emitted['term-1'] ?? 0)),
      )
      .toBe(0);
    // The canvas holds the text, so look for the answer the way a person would: find it.
    const resizes = () =>
      fake(page, (f) => f.log.filter((c) => c.name === 'terminals.resize').length);
    const resizesBeforeFind = await resizes();
    await page.keyboard.press('Control+Shift+F');
    const find = region.getByRole('searchbox', { name: 'Search terminal output' });
    await find.waitFor();
    await find.fill('no-such-text');
    await region.getByText('No match').waitFor();
    await find.fill('42');
    await expect.poll(() => region.getByText('No match').count()).toBe(0);
    await page.getByRole('button', { name: 'Verify recording ses_01HZX4K7Q2' }).click();
    await page
      .getByRole('region', { name: 'Recent recordings' })
      .getByText('Verified', { exact: true })
      .waitFor();
    await shot(page, 'workspace-terminal-dark');
    await find.press('Escape');
    await expect.poll(() => find.count()).toBe(0);
    await page.waitForTimeout(200); // past the resize debounce
    expect(await resizes(), 'Find floats over the terminal: no pty resize').toBe(resizesBeforeFind);

    // The match stays selected: Ctrl+Shift+C copies it, Ctrl+Shift+V pastes it back as input
    // (through the browser's paste event, which xterm handles).
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write']);
    await page.keyboard.press('Control+Shift+C');
    const readClipboard = () =>
      page.evaluate(() =>
        (
          globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
        ).navigator.clipboard.readText(),
      );
    await expect.poll(readClipboard).toBe('42');
    await page.keyboard.press('Control+Shift+V');
    await expect
      .poll(() =>
        fake(page, (f) =>
          f.log
            .filter((c) => c.name === 'terminals.write')
            .map((c) => (c.request as { data: string }).data)
            .at(-1),
        ),
      )
      .toBe('42');

    // The GPU context goes away (driver reset): xterm falls back to its DOM renderer and the
    // session carries on. xterm waits 3 s for a restore before it gives up on WebGL.
    if (renderer === 'webgl') {
      await region.locator('.xterm-screen canvas').evaluateAll((canvases) => {
        for (const canvas of canvases as unknown as {
          getContext(kind: string): { getExtension(n: string): { loseContext(): void } | null };
        }[]) {
          canvas.getContext('webgl2')?.getExtension('WEBGL_lose_context')?.loseContext();
        }
      });
      await expect
        .poll(() => region.locator('.terminal-host').getAttribute('data-renderer'), {
          timeout: 10_000,
        })
        .toBe('dom');
      await page.keyboard.type('echo after-gpu-loss');
      await expect
        .poll(() => region.locator('.xterm-rows').textContent())
        .toContain('echo after-gpu-loss');
    }
  });
});
