#!/usr/bin/env node
// The `witness` CLI. The program itself is TypeScript (gateway-client/cli/witnessCli.ts), run
// through tsx's loader; paths are resolved from this file so it works from any directory.
import { register } from 'tsx/esm/api';

register();

const cliUrl = new URL('../gateway-client/cli/witnessCli.ts', import.meta.url);
const { runWitnessCli } = await import(cliUrl.href);

const exitCode = await runWitnessCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  isTTY: Boolean(process.stdin.isTTY),
});
// Exit explicitly: a keychain call that never answered (a locked keyring waiting for an unlock
// prompt) would otherwise keep the process alive after the command is done.
process.exit(exitCode);
