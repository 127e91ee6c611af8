/**
 * The Recordings view and players (issue #6) in Debian's Chromium under the strict CSP, driven
 * through the fake DesktopApi (test/fixtures/fakeDesktopApi.ts): virtualized paged list and
 * filters, search with highlighted hits that open the player at the hit, the terminal player
 * (commands, seek, speed, resize, keystrokes), the failed-verification gate (nothing is asked
 * of main before the user chooses to look), the database player, exports with progress, an
 * offline bundle sent in pieces, and live watch. Screenshots go to test-results/replay/.
 *
 * The terminal is read from xterm's DOM renderer (WebGL off through the app's preference).
 * The same flows against real main services, gateway and sshd: test/e2e/replay.test.ts.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithChromium } from '../e2e/chromium.ts';
import type { FakeOptions } from '../fixtures/fakeDesktopApi.ts';
import { type FakeDesktopInChromium, startFakeDesktopInChromium } from './fakeDesktopInChromium.ts';

type Logged = { name: string; request: Record<string, unknown> };
type FakeWindow = {
  __witnessFake: { log: Logged[] };
};

describeWithChromium('replay UI in Chromium (fake DesktopApi)', () => {
  let chromium: FakeDesktopInChromium;

  beforeAll(async () => {
    chromium = await startFakeDesktopInChromium('replay');
  }, 120_000);

  afterAll(async () => {
    // Every page must have run with no CSP violation and no uncaught error.
    expect(await chromium?.close()).toEqual([]);
  });

  /** The workspace with the Recordings view open; the terminal drawn in the DOM to be read. */
  async function open(
    options: Partial<FakeOptions> = {},
    theme: 'light' | 'dark' = 'light',
  ): Promise<Page> {
    const page = await chromium.openPage({
      fake: { ...options, scenario: 'workspace' },
      viewport: { width: 1360, height: 860 },
      theme,
      domRenderer: true,
    });
    await page.getByRole('button', { name: 'All recordings' }).click();
    await page.getByRole('heading', { name: 'Recordings', exact: true }).waitFor();
    return page;
  }

  const shot = (page: Page, name: string) => chromium.screenshot(page, name);
  const calls = (page: Page): Promise<Logged[]> =>
    page.evaluate(() =>
      JSON.parse(JSON.stringify((globalThis as unknown as FakeWindow).__witnessFake.log)),
    );
  const screen = (page: Page) =>
    page
      .getByRole('region', { name: 'Recorded terminal' })
      .locator('.xterm-rows > div')
      .allTextContents()
      .then((rows) => rows.join('\n'));
  async function waitForScreen(page: Page, pattern: RegExp): Promise<string> {
    let text = '';
    for (let i = 0; i < 100; i++) {
      text = await screen(page).catch(() => '');
      if (pattern.test(text)) return text;
      await page.waitForTimeout(100);
    }
    throw new Error(`${pattern} not on the player's screen:\n${text}`);
  }

  it('lists thousands of recordings virtualized, pages as it scrolls, filters', async () => {
    const page = await open({ extraRecordings: 2500 });
    const list = page.getByRole('list', { name: 'Recordings', exact: true });
    await list.getByRole('listitem', { name: 'Recorded session ses_01HZX4K7Q2' }).waitFor();
    // Only what is on screen (plus overscan) is in the DOM.
    expect(await list.getByRole('listitem').count()).toBeLessThan(60);
    await shot(page, 'recordings-list-light');
    const firstPage = (await calls(page)).filter((c) => c.name === 'recordings.list').length;
    await page.locator('.virtual-scroll').evaluate((el) => {
      el.scrollTop = el.scrollHeight;
    });
    await expect
      .poll(async () => (await calls(page)).filter((c) => c.request.cursor !== undefined).length)
      .toBeGreaterThan(0);
    expect((await calls(page)).filter((c) => c.name === 'recordings.list').length).toBeGreaterThan(
      firstPage,
    );
    await page.getByRole('combobox', { name: 'Filter by protocol' }).selectOption('postgres');
    await list.getByRole('listitem', { name: 'Recorded session ses_01HZX2B9M1' }).waitFor();
    expect(
      await list.getByRole('listitem', { name: 'Recorded session ses_01HZX4K7Q2' }).count(),
    ).toBe(0);
    const filtered = (await calls(page)).filter((c) => c.name === 'recordings.list').pop();
    expect(filtered?.request.filters).toEqual({ protocol: 'postgres' });
  }, 60_000);

  it('badges each recording with its last verdict and when it was checked; flags contradicted values', async () => {
    const page = await open();
    const list = page.getByRole('list', { name: 'Recordings', exact: true });
    const row = (id: string) => list.getByRole('listitem', { name: `Recorded session ${id}` });
    await row('ses_01HZX4K7Q2').waitFor();
    expect(await row('ses_01HZX4K7Q2').locator('.verdict').textContent()).toMatch(
      /^Verified · checked \S/,
    );
    // A row edited behind the gateway's back (issue #12): failed, and the value is marked.
    expect(await row('ses_01HZWZZ0T5').locator('.verdict').textContent()).toMatch(
      /^Failed: record altered · checked \S/,
    );
    const flag = row('ses_01HZWZZ0T5').getByRole('img', {
      name: `The gateway's user is "usr_sam", but the signed recording says "usr_dana".`,
    });
    expect(await flag.count()).toBe(1);
    expect(await row('ses_01HZX4K7Q2').locator('.differs-flag').count()).toBe(0);
    expect(await row('ses_01HZX2B9M1').locator('.verdict').textContent()).toBe('Not verified yet');
    await shot(page, 'recordings-list-verdicts');
  });

  it('search highlights the hit; clicking it opens the player at that moment, verified', async () => {
    const page = await open();
    await page.getByRole('searchbox', { name: 'Search recordings' }).fill('deploy');
    await page.getByRole('searchbox', { name: 'Search recordings' }).press('Enter');
    const results = page.getByRole('list', { name: 'Search results' });
    await results.getByRole('button').first().waitFor();
    expect(await results.locator('mark').first().textContent()).toBe('deploy');
    await shot(page, 'search-hits-light');
    await results.getByRole('button', { name: /ses_01HZX4K7Q2 at 0:04: \.\/deploy\.sh/ }).click();
    await page
      .getByRole('status', { name: 'Integrity' })
      .getByText('Verified', { exact: true })
      .waitFor();
    await waitForScreen(page, /Deploying release 42/);
    const text = await screen(page);
    expect(text).not.toContain('step 1/10');
    expect(await page.getByRole('status', { name: 'Playback time' }).textContent()).toContain(
      '0:04',
    );
    const seek = (await calls(page)).find((c) => c.name === 'playback.seek');
    expect(seek?.request).toMatchObject({ atMs: 4000, afterSeq: expect.any(Number) });
    await shot(page, 'player-at-hit-light');
  }, 60_000);

  it('terminal player: commands to jump to, play at 16× to the end with the resize, keystrokes', async () => {
    const page = await open({}, 'dark');
    await page.getByRole('button', { name: 'Open recording ses_01HZX4K7Q2' }).click();
    await page.getByRole('status', { name: 'Integrity' }).waitFor();
    await waitForScreen(page, /Welcome to web-1/);
    const commands = page.getByRole('navigation', { name: 'Commands' });
    expect(await commands.getByRole('button').count()).toBe(3);
    await commands.getByRole('button', { name: 'Jump to 0:01: ls -la' }).click();
    await waitForScreen(page, /total 8/);
    expect(await screen(page)).not.toContain('Deploying');
    await page.getByRole('checkbox', { name: 'Show keystrokes' }).check();
    await page.getByRole('combobox', { name: 'Playback speed' }).selectOption('16');
    await page.getByRole('button', { name: 'Play', exact: true }).click();
    await page
      .getByRole('log', { name: 'Keystrokes' })
      .getByText(/deploy\.sh --prod⏎/)
      .waitFor();
    await waitForScreen(page, /logout/);
    // Idle-skip: the 8 s of silence before the end pass in well under 8 s even at 16×.
    await page.getByRole('button', { name: 'Play', exact: true }).waitFor({ timeout: 5000 });
    const slider = page.getByRole('slider', { name: 'Playback position' });
    expect(await slider.getAttribute('aria-valuetext')).toBe('0:20 of 0:20');
    // The recorded resize to 100×30 reached the player's terminal.
    expect(await page.locator('.player-screen .xterm-rows > div').count()).toBe(30);
    await shot(page, 'terminal-player-dark');
    // Seek through the slider (keyboard): back to the start.
    await slider.focus();
    await page.keyboard.press('Home');
    await expect.poll(() => screen(page)).not.toContain('logout');
    // The player's own keys, after a click on the screen: '<' slows down, Space plays/pauses.
    await page.getByRole('region', { name: 'Recorded terminal' }).click();
    await page.keyboard.press('<');
    expect(await page.getByRole('combobox', { name: 'Playback speed' }).inputValue()).toBe('8');
    await page.keyboard.press(' ');
    await page.getByRole('button', { name: 'Pause', exact: true }).waitFor();
    await page.keyboard.press(' ');
    await page.getByRole('button', { name: 'Play', exact: true }).waitFor();
    // Space on the Play button presses it once (the player does not toggle it back).
    await page.getByRole('button', { name: 'Play', exact: true }).focus();
    await page.keyboard.press(' ');
    await page.getByRole('button', { name: 'Pause', exact: true }).waitFor();
  }, 60_000);

  it('a second shell of the same connection plays when chosen', async () => {
    const page = await open();
    await page.getByRole('button', { name: 'Open recording ses_01HZX4K7Q2' }).click();
    await waitForScreen(page, /Welcome to web-1/);
    const channel = page.getByRole('combobox', { name: 'Terminal channel' });
    expect(await channel.inputValue()).toBe('1');
    await channel.selectOption('2');
    await waitForScreen(page, /Second shell on web-1/);
    expect(await screen(page)).not.toContain('Welcome to web-1');
    expect(await page.getByRole('combobox', { name: 'Terminal channel' }).inputValue()).toBe('2');
    const opens = (await calls(page)).filter((c) => c.name === 'recordings.open');
    expect(opens.map((c) => c.request)).toEqual([
      { sessionId: 'ses_01HZX4K7Q2' },
      { sessionId: 'ses_01HZX4K7Q2', channel: 2 },
    ]);
    // The first channel's playback was closed when the second was opened.
    expect((await calls(page)).some((c) => c.name === 'playback.close')).toBe(true);
    await shot(page, 'second-channel');
  }, 60_000);

  it('a recording that failed verification shows the failure and a warning before anything plays', async () => {
    const page = await open();
    await page.getByRole('button', { name: 'Open recording ses_01HZWZZ0T5' }).click();
    const alert = page.getByRole('alert', { name: 'Integrity' });
    await alert.getByText('Failed at seq 18', { exact: true }).waitFor();
    expect(await alert.textContent()).toContain('not what the gateway signed');
    expect(await page.getByRole('region', { name: 'Recorded terminal' }).count()).toBe(0);
    const before = (await calls(page)).map((c) => c.name);
    expect(before).not.toContain('playback.frames');
    expect(before).not.toContain('playback.seek');
    await shot(page, 'failed-gate-light');
    await alert.getByRole('button', { name: 'Show the recording anyway' }).click();
    await waitForScreen(page, /Welcome to web-1/);
    const frames = (await calls(page)).filter((c) => c.name === 'playback.frames');
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.every((c) => c.request.acceptFailedVerification === true)).toBe(true);
    // The failure stays on screen while it plays.
    expect(await alert.getByText('Failed at seq 18').isVisible()).toBe(true);
    // Opening it again (from the sidebar) asks again: the choice does not carry over.
    await page.getByRole('button', { name: 'Play recording ses_01HZWZZ0T5' }).click();
    await alert.getByRole('button', { name: 'Show the recording anyway' }).waitFor();
    expect(await page.getByRole('region', { name: 'Recorded terminal' }).count()).toBe(0);
  }, 60_000);

  it('database player: queries with duration, rows, errors, blocked, masked; result table', async () => {
    const page = await open();
    await page.getByRole('button', { name: 'Open recording ses_01HZX2B9M1' }).click();
    await page
      .getByRole('status', { name: 'Integrity' })
      .getByText('Interrupted: verified to seq 96', { exact: true })
      .waitFor();
    const timeline = page.getByRole('region', { name: 'Query timeline' });
    await timeline.getByRole('button', { name: /^Query 1 at 0:00: SELECT id, email/ }).waitFor();
    expect(await timeline.getByRole('listitem').count()).toBe(3);
    const table = page.getByRole('table', { name: 'Result of query 1' });
    expect(await table.getByRole('columnheader').allTextContents()).toEqual([
      'id',
      'email (masked)',
      'total',
    ]);
    expect(await table.getByRole('cell', { name: '340.50' }).count()).toBe(1);
    expect(await table.getByRole('cell', { name: 'NULL' }).count()).toBe(1);
    await shot(page, 'database-player-light');
    await timeline.getByRole('button', { name: /^Query 2/ }).click();
    expect(await page.getByRole('note', { name: 'Query error' }).textContent()).toContain(
      'relation "ordrs" does not exist',
    );
    await timeline.getByRole('button', { name: /^Query 3/ }).click();
    expect(await page.getByRole('note', { name: 'Blocked' }).textContent()).toContain(
      'no-ddl-in-prod',
    );
  }, 60_000);

  it('exports with progress and says where the file went', async () => {
    const page = await open();
    await page.getByRole('button', { name: 'Open recording ses_01HZX4K7Q2' }).click();
    await page.getByRole('button', { name: 'Export .cast' }).click();
    await page.getByRole('progressbar', { name: 'Export progress' }).waitFor();
    const saved = page.getByRole('status').filter({ hasText: 'Saved' });
    await saved.waitFor();
    expect(await saved.textContent()).toContain(
      '/home/dana/.config/Witness/downloads/ses_01HZX4K7Q2.cast',
    );
    const exported = (await calls(page)).find((c) => c.name === 'recordings.export');
    expect(exported?.request).toMatchObject({ sessionId: 'ses_01HZX4K7Q2', format: 'cast' });
    // Output only unless asked; asking shows why it is risky.
    expect(exported?.request).not.toHaveProperty('includeInput');
    const warning = page.getByRole('note', { name: 'Typed input warning' });
    expect(await warning.count()).toBe(0);
    await page.getByRole('checkbox', { name: 'Include typed input in .cast' }).check();
    expect(await warning.textContent()).toContain('may contain secrets');
    await shot(page, 'export-with-input');
    await page.getByRole('button', { name: 'Export .cast' }).click();
    await page.getByRole('progressbar', { name: 'Export progress' }).waitFor();
    await saved.waitFor();
    const withInput = (await calls(page)).filter((c) => c.name === 'recordings.export')[1];
    expect(withInput?.request).toMatchObject({ format: 'cast', includeInput: true });
    // Cancel while it runs: main is told, and it reads as cancelled, not as a failure.
    await page.getByRole('button', { name: 'Export bundle' }).click();
    await page.getByRole('button', { name: 'Cancel export' }).click();
    await page.getByRole('status').filter({ hasText: 'Export cancelled.' }).waitFor();
    expect(await page.getByRole('alert').count()).toBe(0);
    const log = await calls(page);
    const second = log.filter((c) => c.name === 'recordings.export')[2];
    expect(log.find((c) => c.name === 'recordings.cancelExport')?.request).toEqual({
      exportId: second?.request.exportId,
    });
  }, 60_000);

  it('opens a bundle offline: sent in pieces, verified with the typed fingerprint', async () => {
    const page = await open();
    await page.getByRole('button', { name: 'Open bundle…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Open a recording bundle' });
    await dialog.getByLabel('Bundle file').setInputFiles({
      name: 'ses_01HZX4K7Q2.witness-bundle',
      mimeType: 'application/octet-stream',
      buffer: Buffer.alloc(200_000, 7),
    });
    await dialog
      .getByLabel('Key fingerprint (optional)')
      .fill('SHA256:Jx4N0o1mQv8aLr2s5YtKp0ZbW3cX9dE7fG6hI1jK2lM');
    await shot(page, 'open-bundle-light');
    await dialog.getByRole('button', { name: 'Open and verify' }).click();
    await page.getByText('Offline bundle').waitFor();
    const integrity = page.getByRole('status', { name: 'Integrity' });
    await integrity.getByText('Verified', { exact: true }).waitFor();
    expect(await integrity.textContent()).toContain('the key you gave');
    const log = await calls(page);
    // 200 000 bytes in 64 KiB pieces.
    expect(log.filter((c) => c.name === 'bundles.uploadChunk')).toHaveLength(4);
    expect(log.find((c) => c.name === 'recordings.openBundle')?.request).toEqual({
      uploadId: 'up-1',
      fingerprint: 'SHA256:Jx4N0o1mQv8aLr2s5YtKp0ZbW3cX9dE7fG6hI1jK2lM',
    });
    // Offline: no export of what came from disk.
    expect(await page.getByRole('button', { name: 'Export .cast' }).count()).toBe(0);
    await waitForScreen(page, /Welcome to web-1/);
  }, 60_000);

  it('live watch for admins: frames as they come, then the session ends', async () => {
    const page = await open({}, 'dark');
    await page.getByRole('button', { name: 'Watch live ses_live_01' }).click();
    await page.getByRole('status').filter({ hasText: 'Live' }).first().waitFor();
    // Frames sent before live.watch answered are not lost.
    await waitForScreen(page, /Live session on web-1/);
    await waitForScreen(page, /live line 3/);
    expect(await page.getByRole('heading', { name: 'web-1' }).count()).toBe(1);
    await shot(page, 'live-dark');
    await page.getByRole('status', { name: 'Live session ended' }).waitFor({ timeout: 5000 });
    expect(await screen(page)).toContain('live line 8');
    await page.getByRole('button', { name: 'Back to recordings', exact: true }).click();
    await expect.poll(async () => (await calls(page)).map((c) => c.name)).toContain('live.stop');
  }, 60_000);

  it('live watch of a database session: queries appear as they complete, newest shown', async () => {
    const page = await open();
    await page.getByRole('button', { name: 'Watch live ses_live_db' }).click();
    const timeline = page.getByRole('region', { name: 'Query timeline' });
    await timeline.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    // The query sent before live.watch answered is not lost.
    await timeline.getByRole('button', { name: /^Query 1 at 0:00: SELECT id, email/ }).waitFor();
    await timeline.getByRole('button', { name: /^Query 3 / }).waitFor({ timeout: 5000 });
    expect(await timeline.getByRole('listitem').count()).toBe(3);
    // The newest is shown as it arrives.
    await page.getByRole('note', { name: 'Blocked' }).waitFor();
    await shot(page, 'live-database');
    await page.getByRole('status', { name: 'Live session ended' }).waitFor({ timeout: 5000 });
    await timeline.getByRole('button', { name: /^Query 1 / }).click();
    expect(await page.getByRole('table', { name: 'Result of query 1' }).count()).toBe(1);
  }, 60_000);

  it('terminal tabs keep working beside the view: a resize sends only cols and rows', async () => {
    const page = await open();
    await page
      .getByRole('navigation', { name: 'Views' })
      .getByRole('button', { name: /^Terminals/ })
      .click();
    await page.getByRole('button', { name: 'Open terminal on web-1', exact: true }).click();
    await page.locator('[role="tabpanel"]:visible .xterm-rows').waitFor();
    await page.setViewportSize({ width: 1600, height: 1000 });
    await expect
      .poll(async () => (await calls(page)).filter((c) => c.name === 'terminals.resize').length)
      .toBeGreaterThan(0);
    // xterm 6's resize event also carries colsChanged/rowsChanged, which main refuses.
    for (const c of (await calls(page)).filter((x) => x.name === 'terminals.resize')) {
      expect(Object.keys(c.request.size as object).sort()).toEqual(['cols', 'rows']);
    }
    // Switching to Recordings and back keeps the tab (and its session).
    await page
      .getByRole('navigation', { name: 'Views' })
      .getByRole('button', { name: 'Recordings' })
      .click();
    await page
      .getByRole('navigation', { name: 'Views' })
      .getByRole('button', { name: /^Terminals/ })
      .click();
    expect(await page.getByRole('tab', { name: 'web-1' }).count()).toBe(1);
    expect((await calls(page)).filter((c) => c.name === 'terminals.open')).toHaveLength(1);
  }, 60_000);

  it('engineers get no Watch live button', async () => {
    const page = await open({ role: 'engineer' });
    await page.getByRole('button', { name: 'Open recording ses_01HZX4K7Q2' }).waitFor();
    expect(await page.getByRole('button', { name: /^Watch live/ }).count()).toBe(0);
  }, 60_000);
});
