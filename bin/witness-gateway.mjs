#!/usr/bin/env node
// Runs the TypeScript sources through tsx's loader, so `npx witness-gateway` works from a
// checkout without a build step. Paths resolve from this file, so any cwd works.
import { register } from 'tsx/esm/api';

register();
const { runGatewayCli } = await import(
  new URL('../gateway/cli/gatewayCli.ts', import.meta.url).href
);

// Resolves with the signal's name: SIGTERM drains (issue #17), SIGINT stops at once.
const stopped = new Promise((resolve) => {
  process.once('SIGINT', () => resolve('SIGINT'));
  process.once('SIGTERM', () => resolve('SIGTERM'));
});
const code = await runGatewayCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  readStdin: async () => {
    const chunks = [];
    for await (const chunk of process.stdin) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  },
  env: process.env,
  untilStopped: () => stopped,
  // Only `serve --exit-with-parent` calls this; reading stdin is harmless otherwise.
  stdinClosed: () =>
    new Promise((resolve) => {
      process.stdin.once('end', resolve);
      process.stdin.once('close', resolve);
      process.stdin.once('error', resolve);
      process.stdin.resume();
    }),
});
process.exit(code);
