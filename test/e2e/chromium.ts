/**
 * Debian's Chromium through playwright-core (DESIGN.md, Testing). Where it is missing, suites
 * skip with the reason printed (never silently); CI installs it (.ci/run).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { describe, it } from 'vitest';

export const CHROMIUM_PATH = process.env.WITNESS_CHROMIUM ?? '/usr/bin/chromium';

export function chromiumUnavailableReason(): string | undefined {
  return existsSync(CHROMIUM_PATH)
    ? undefined
    : `${CHROMIUM_PATH} is not installed (apt-get install chromium)`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

/** `describe` that needs Chromium: skipped with a printed reason where it is missing (fails in CI). */
export function describeWithChromium(name: string, body: () => void): void {
  const reason = chromiumUnavailableReason();
  if (reason === undefined) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => {
      it('needs Chromium, which CI must provide', () => {
        throw new Error(reason);
      });
    });
  } else {
    console.warn(`[e2e] skipping "${name}": ${reason}`);
    describe.skip(`${name} (skipped: ${reason})`, body);
  }
}
