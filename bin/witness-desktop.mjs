#!/usr/bin/env node
// `npm start`: the Witness desktop app — Electron where its binary can start, otherwise the web
// host in this process (main/webhost/launcher/runDesktop.ts says which and why). TypeScript runs
// through tsx's loader; paths resolve from this file, so any cwd works.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register();
const { runDesktop } = await import(
  new URL('../main/webhost/launcher/runDesktop.ts', import.meta.url).href
);

const stopped = new Promise((resolve) => {
  process.once('SIGINT', resolve);
  process.once('SIGTERM', resolve);
});
const code = await runDesktop(
  process.argv.slice(2),
  fileURLToPath(new URL('..', import.meta.url)),
  {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    env: process.env,
    untilStopped: () => stopped,
  },
);
process.exit(code);
