/**
 * Polls `check` until it returns something truthy, and returns that; fails with "timed out
 * waiting for <what>" after `timeoutMs`. For conditions that have no event to await (a row
 * written by another process, a recording closed by the gateway).
 */
export async function waitFor<T>(
  check: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
