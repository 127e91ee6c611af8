/**
 * Tests that need a program the machine may lack (OpenSSH, PostgreSQL, …). `npm test` installs
 * them first (scripts/testPrerequisites.mjs), so normally they simply run. Where one is still
 * missing: under CI the test runs and fails saying what is missing (a skipped test there would
 * hide a missing install step); elsewhere — a single file run with vitest directly, say — it
 * is skipped with the reason printed.
 */
import { describe, it } from 'vitest';

type TestBody = () => unknown;

/** `it` for a test that needs what `reason` says is missing (undefined: nothing is). */
export function itNeeding(
  reason: string | undefined,
): (name: string, body: TestBody, timeout?: number) => void {
  if (reason === undefined) return (name, body, timeout) => it(name, body, timeout);
  if (process.env.CI) {
    return (name) =>
      it(name, () => {
        throw new Error(`CI must provide what this test needs: ${reason}`);
      });
  }
  return (name, body, timeout) => {
    console.warn(`[test harness] skipping "${name}": ${reason}`);
    it.skip(`${name} (skipped: ${reason})`, body, timeout);
  };
}

/** `describe` for a suite that needs what `reason` says is missing (undefined: nothing is). */
export function describeNeeding(reason: string | undefined, name: string, body: () => void) {
  if (reason === undefined) describe(name, body);
  else if (process.env.CI) {
    describe(name, () => {
      it('has what it needs', () => {
        throw new Error(`CI must provide what this suite needs: ${reason}`);
      });
    });
  } else {
    console.warn(`[test harness] skipping "${name}": ${reason}`);
    describe.skip(`${name} (skipped: ${reason})`, body);
  }
}
