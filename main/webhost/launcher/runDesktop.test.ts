/**
 * The launcher's Electron-or-web-host decision with stand-in Electron binaries (the real one
 * cannot be downloaded here): ELECTRON_OVERRIDE_DIST_PATH points the lookup at a script that
 * either fails at once, like Electron missing a system library, or runs like the app would.
 * The real launcher (bin/witness-desktop.mjs) runs as a child process.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const dirs: string[] = [];
const children: ChildProcess[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function launch(electronScript: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'witness-fake-electron-'));
  dirs.push(dir);
  const binary = path.join(dir, 'electron');
  writeFileSync(binary, `#!/bin/sh\n${electronScript}\n`);
  chmodSync(binary, 0o755);
  const child = spawn(
    process.execPath,
    [
      path.join(repoRoot, 'bin', 'witness-desktop.mjs'),
      '--data',
      path.join(dir, 'data'),
      '--no-open',
    ],
    {
      env: {
        ...process.env,
        ELECTRON_OVERRIDE_DIST_PATH: dir,
        DISPLAY: ':99',
        ELECTRON_RUN_AS_NODE: '1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  const output = { out: '', err: '' };
  child.stdout?.on('data', (c: Buffer) => {
    output.out += c.toString();
  });
  child.stderr?.on('data', (c: Buffer) => {
    output.err += c.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { dir, child, output, exited };
}

describe('launcher: Electron or the web host', () => {
  it('falls back to the web host, saying why, when Electron fails at once', async () => {
    const run = launch(
      'echo "electron: error while loading shared libraries: libgtk-3.so.0: cannot open shared object file" >&2\nexit 127',
    );
    const start = Date.now();
    while (!/#token=/.test(run.output.out)) {
      if (run.child.exitCode !== null || Date.now() - start > 120_000) {
        throw new Error(`no web host URL:\n${run.output.out}\n${run.output.err}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(run.output.out).toMatch(
      /Electron is not used: Electron exited at once \(code 127\): electron: error while loading shared libraries: libgtk-3\.so\.0/,
    );
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 150_000);

  it('runs Electron with the app folder and a clean environment, and exits with its code', async () => {
    // Outlives the start-up window, then exits 3; writes what it was given for the checks.
    const run = launch(
      'echo "$1" > "$(dirname "$0")/argv"\nif [ -z "$ELECTRON_RUN_AS_NODE" ]; then echo unset; else echo set; fi > "$(dirname "$0")/env"\nsleep 6\nexit 3',
    );
    expect(await run.exited).toBe(3);
    expect(path.resolve(readFileSync(path.join(run.dir, 'argv'), 'utf8').trim())).toBe(repoRoot);
    expect(readFileSync(path.join(run.dir, 'env'), 'utf8').trim()).toBe('unset');
    expect(run.output.out).not.toContain('#token=');
  }, 150_000);
});
