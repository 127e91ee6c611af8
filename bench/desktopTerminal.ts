/**
 * `npm run bench:desktop`: terminal output through the whole desktop path — real sshd → gateway
 * (recording on) → desktop services → web host WebSocket → the real renderer's xterm in Debian's
 * Chromium — with `seq 1 2000000` (~16.9 MB with the pty's CR LF).
 *
 * Measured per renderer xterm picks (the default — WebGL, on SwiftShader in headless Chromium —
 * and the DOM fallback, forced by hiding WebGL from the page):
 * - MB/s from Enter until the last line has been parsed by xterm (the renderer acks a batch
 *   only after xterm parsed it, so "all bytes acked after the frame holding 2000000" is that
 *   moment; it is painted on the next animation frame);
 * - nothing lost: the byte count main sent equals seq's output, and the last lines are in the
 *   xterm buffer (read from the DOM rows, and found with the app's own Find bar);
 * - input echo mid-flood: a letter typed every 250 ms, timed from the key press until its echo
 *   reaches the page (seq prints only digits, so the letter is unambiguous);
 * - first paint: navigation start → first contentful paint of the app's first screen.
 *
 * Last line: RESULT terminal_mb_per_s=<default renderer> first_paint_ms=<n>
 */
import type { Browser, Page } from 'playwright-core';
import { buildRendererForTests } from '../test/e2e/buildRenderer.ts';
import { chromiumUnavailableReason, launchChromium } from '../test/e2e/chromium.ts';
import {
  ALICE_PASSWORD,
  type DesktopTestBed,
  startDesktopTestBed,
} from '../test/e2e/desktopTestBed.ts';

const LINES = Number(process.env.WITNESS_BENCH_SEQ_LINES ?? 2_000_000);
/** Bytes of `seq 1 LINES` through a pty (each line ends CR LF). */
const EXPECTED_BYTES = seqBytes(LINES);
const ECHO_INTERVAL_MS = 250;

const WITHOUT_WEBGL = `(() => {
  const original = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (kind, ...rest) {
    if (kind === 'webgl' || kind === 'webgl2' || kind === 'experimental-webgl') return null;
    return original.call(this, kind, ...rest);
  };
})();`;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function seqBytes(n: number): number {
  let total = 0;
  for (let digits = 1, low = 1; low <= n; digits++, low *= 10) {
    const high = Math.min(n, low * 10 - 1);
    total += (high - low + 1) * (digits + 2);
  }
  return total;
}

interface RunResult {
  renderer: string;
  mbPerSecond: number;
  seconds: number;
  bytes: number;
  /** seq lines received (line feeds after the Enter's own). */
  lines: number;
  echoMs: number[];
  /** Of each echo: key press until the page sent the input (the UI's share). */
  inputMs: number[];
  /** Output bytes that reached the page between each probe's input and its echo. */
  queuedAhead: number[];
  tailOk: boolean;
  findOk: boolean;
}

/**
 * Frame accounting from the page's own WebSocket (CDP reports every frame); attached before
 * navigation, since the bridge connects while the page loads.
 */
interface FrameTracker {
  counting: boolean;
  receivedBytes: number;
  ackedBytes: number;
  lastFrameSeen: boolean;
  /** Line feeds received while counting: seq's lines plus the Enter's echo. */
  newlines: number;
  /** The end of the previous frame, so a marker split across frames is still found. */
  tail: string;
  /** Everything received before counting starts (to see the typed command echoed). */
  before: string;
  echoWaiters: Map<string, (at: number) => void>;
  /** When each probe letter left the page in a terminals.write (key press → app → WebSocket). */
  writtenAt: Map<string, number>;
  /** Output bytes received when each probe letter was sent: what arrives before its echo queued ahead of it. */
  receivedAtWrite: Map<string, number>;
  /** Bytes that arrived between each probe's write and its echo. */
  queuedAhead: number[];
}

function trackFrames(page: Page): FrameTracker {
  const t: FrameTracker = {
    counting: false,
    receivedBytes: 0,
    ackedBytes: 0,
    lastFrameSeen: false,
    newlines: 0,
    tail: '',
    before: '',
    echoWaiters: new Map(),
    writtenAt: new Map(),
    receivedAtWrite: new Map(),
    queuedAhead: [],
  };
  const onFrame = (payload: string | Buffer, sent: boolean) => {
    const text = String(payload);
    if (sent) {
      if (t.counting && text.includes('"terminals.ack"')) {
        t.ackedBytes += (JSON.parse(text) as { request: { bytes: number } }).request.bytes;
      } else if (t.counting && text.includes('"terminals.write"')) {
        const { data } = (JSON.parse(text) as { request: { data: string } }).request;
        for (const letter of t.echoWaiters.keys()) {
          if (data.includes(letter)) {
            t.writtenAt.set(letter, performance.now());
            t.receivedAtWrite.set(letter, t.receivedBytes);
          }
        }
      }
      return;
    }
    if (!text.includes('"terminal.data"')) return;
    const message = JSON.parse(text) as { payload: { data: string; bytes: number } };
    const data = message.payload.data;
    if (t.counting) {
      t.receivedBytes += message.payload.bytes;
      for (let i = data.indexOf('\n'); i !== -1; i = data.indexOf('\n', i + 1)) t.newlines++;
      if (`${t.tail}${data}`.includes(`\n${LINES}\r\n`)) t.lastFrameSeen = true;
      t.tail = data.slice(-16);
    } else {
      t.before = (t.before + data).slice(-200);
    }
    for (const [letter, resolve] of t.echoWaiters) {
      if (message.payload.data.includes(letter)) {
        t.echoWaiters.delete(letter);
        const before = t.receivedAtWrite.get(letter);
        if (before !== undefined) t.queuedAhead.push(t.receivedBytes - before);
        resolve(performance.now());
      }
    }
  };
  page.on('websocket', (socket) => {
    socket.on('framereceived', (f) => onFrame(f.payload, false));
    socket.on('framesent', (f) => onFrame(f.payload, true));
  });
  return t;
}

async function openTerminal(page: Page, bed: DesktopTestBed): Promise<void> {
  await page.getByRole('button', { name: `Open terminal on ${bed.resourceName}` }).click();
  await page.locator('[role="tabpanel"]:visible .xterm').waitFor({ timeout: 20_000 });
  // A prompt: the output so far has been acked and the shell waits.
  await page.waitForTimeout(1500);
  await page.locator('[role="tabpanel"]:visible .xterm').click();
}

async function floodRun(
  page: Page,
  bed: DesktopTestBed,
  tracker: FrameTracker,
): Promise<RunResult> {
  await openTerminal(page, bed);
  const renderer =
    (await page
      .locator('[role="tabpanel"]:visible .terminal-host')
      .getAttribute('data-renderer')) ?? '?';

  const t = tracker;
  await page.keyboard.type(`seq 1 ${LINES}`);
  // Count from the Enter on: wait until the typed command has been echoed.
  while (!t.before.includes(`seq 1 ${LINES}`)) await new Promise((r) => setTimeout(r, 10));
  t.counting = true;
  const started = performance.now();
  await page.keyboard.press('Enter');

  // Echo probes while the flood runs.
  const echoMs: number[] = [];
  const inputMs: number[] = [];
  const letters = 'QWXZJKVBYP';
  let probe = 0;
  const probes: Promise<void>[] = [];
  const prober = setInterval(() => {
    if (t.lastFrameSeen || probe >= letters.length) return;
    const letter = letters[probe++] as string;
    const sentAt = performance.now();
    probes.push(
      new Promise<void>((resolve) => {
        t.echoWaiters.set(letter, (at) => {
          echoMs.push(at - sentAt);
          inputMs.push((t.writtenAt.get(letter) ?? Number.NaN) - sentAt);
          resolve();
        });
        void page.keyboard.type(letter);
      }),
    );
  }, ECHO_INTERVAL_MS);

  const deadline = started + 600_000;
  while (!(t.lastFrameSeen && t.ackedBytes >= t.receivedBytes)) {
    if (performance.now() > deadline) throw new Error('seq did not finish within 10 minutes');
    await new Promise((r) => setTimeout(r, 5));
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(prober);
  await Promise.race([Promise.all(probes), new Promise((r) => setTimeout(r, 5_000))]);
  // Clear the probe letters the shell will now read as a command line.
  await page.keyboard.press('Control+U');
  await page.waitForTimeout(300);

  // The last lines, from the DOM rows where xterm renders text (DOM renderer only).
  let tailOk = false;
  if (renderer === 'dom') {
    const rows = (
      await page.locator('[role="tabpanel"]:visible .xterm-rows > div').allTextContents()
    ).map((r) => r.trim());
    const numbers = rows.filter((r) => /^\d+$/.test(r)).map(Number);
    const tail = numbers.slice(-5);
    tailOk = tail.length === 5 && tail.every((n, i) => n === LINES - 4 + i);
  }
  // The app's Find bar searches the whole buffer, scrollback included, whatever the renderer.
  let findOk = true;
  await page.keyboard.press('Control+Shift+F');
  const box = page.getByLabel('Search terminal output');
  for (const wanted of [String(LINES), String(LINES - 5000)]) {
    await box.fill(wanted);
    await box.press('Enter');
    await page.waitForTimeout(200);
    if (await page.getByText('No match').isVisible()) findOk = false;
  }
  await page.getByRole('button', { name: 'Close search' }).click();
  await page
    .getByRole('button', { name: /^Close tab / })
    .first()
    .click();

  return {
    renderer,
    seconds,
    bytes: t.receivedBytes,
    lines: t.newlines - 1,
    mbPerSecond: t.receivedBytes / 1e6 / seconds,
    echoMs,
    inputMs,
    queuedAhead: t.queuedAhead,
    tailOk: renderer === 'dom' ? tailOk : findOk,
    findOk,
  };
}

async function main(): Promise<void> {
  const unavailable = chromiumUnavailableReason();
  if (unavailable) throw new Error(`bench:desktop needs Chromium: ${unavailable}`);
  log(`seq 1 ${LINES}: ${(EXPECTED_BYTES / 1e6).toFixed(1)} MB through the pty`);
  const renderer = await buildRendererForTests();
  let bed: DesktopTestBed | undefined;
  let browser: Browser | undefined;
  try {
    // Profiling aid: WITNESS_BENCH_HIGH_WATER / _LOW_WATER (bytes) override the terminal's
    // back-pressure marks, to see how much of the echo delay queues on the desktop side.
    const highWater = Number(process.env.WITNESS_BENCH_HIGH_WATER ?? Number.NaN);
    const lowWater = Number(process.env.WITNESS_BENCH_LOW_WATER ?? Number.NaN);
    bed = await startDesktopTestBed({
      rendererDir: renderer.dir,
      terminalFlow: {
        ...(Number.isFinite(highWater) ? { highWaterBytes: highWater } : {}),
        ...(Number.isFinite(lowWater) ? { lowWaterBytes: lowWater } : {}),
      },
    });
    browser = await launchChromium();
    const results: RunResult[] = [];
    let firstPaintMs = Number.NaN;
    for (const mode of ['default', 'dom'] as const) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      if (mode === 'dom') await page.addInitScript({ content: WITHOUT_WEBGL });
      const tracker = trackFrames(page);
      await page.goto(bed.host.url);
      if (mode === 'default') {
        await page.getByRole('button', { name: 'Enroll with a link' }).waitFor();
        firstPaintMs = await page.evaluate(
          () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
        );
        await page.getByRole('button', { name: 'Enroll with a link' }).click();
        await page.getByLabel('Enroll link').fill(bed.enrollLink);
        await page.getByLabel('New password').fill(ALICE_PASSWORD);
        await page.getByLabel('Confirm password').fill(ALICE_PASSWORD);
        await page.getByRole('button', { name: 'Enroll', exact: true }).click();
      }
      await page.getByRole('heading', { name: 'Resources' }).waitFor({ timeout: 20_000 });
      const result = await floodRun(page, bed, tracker);
      results.push(result);
      const sorted = [...result.echoMs].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
      const inputSorted = [...result.inputMs].sort((a, b) => a - b);
      const inputMedian = inputSorted[Math.floor(inputSorted.length / 2)] ?? Number.NaN;
      const aheadSorted = [...result.queuedAhead].sort((a, b) => a - b);
      const aheadMedian = aheadSorted[Math.floor(aheadSorted.length / 2)] ?? Number.NaN;
      log(
        `${mode} (xterm ${result.renderer} renderer): ${result.mbPerSecond.toFixed(2)} MB/s, ` +
          `${result.seconds.toFixed(2)} s, ${result.lines} of ${LINES} lines (${result.bytes} bytes), ` +
          `last lines ${result.tailOk ? 'present' : 'MISSING'}, find ${result.findOk ? 'ok' : 'FAILED'}, ` +
          `echo mid-flood median ${median.toFixed(0)} ms max ${(sorted.at(-1) ?? Number.NaN).toFixed(0)} ms ` +
          `(${sorted.length} probes; key press → input sent: median ${inputMedian.toFixed(0)} ms; ` +
          `output queued ahead of an echo: median ${(aheadMedian / 1e6).toFixed(2)} MB)`,
      );
      if (
        result.lines !== LINES ||
        result.bytes < EXPECTED_BYTES ||
        !result.tailOk ||
        !result.findOk
      ) {
        throw new Error(`${mode}: output was lost or not on screen`);
      }
      await context.close();
    }
    log(`first contentful paint: ${firstPaintMs.toFixed(0)} ms`);
    console.log(
      `RESULT terminal_mb_per_s=${results[0]?.mbPerSecond.toFixed(2)} first_paint_ms=${firstPaintMs.toFixed(0)}`,
    );
  } finally {
    await browser?.close();
    await bed?.close();
    renderer.remove();
  }
}

await main();
