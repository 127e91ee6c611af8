/**
 * The launcher's decisions, on real temp folders: which Electron binary (never downloading
 * one), which data folder, and when the renderer must be rebuilt.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { desktopDataDir } from './desktopDataDir.ts';
import { displayUnavailableReason, findElectronBinary } from './electronBinary.ts';
import { rendererBuildNeeded } from './rendererBuild.ts';

const dirs: string[] = [];
const tempRoot = () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'witness-launcher-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('findElectronBinary', () => {
  it('says the package is missing', () => {
    expect(findElectronBinary(tempRoot(), {})).toMatchObject({
      ok: false,
      reason: /not installed/,
    });
  });

  it('says the binary was never downloaded (no path.txt), without trying to download it', () => {
    const root = tempRoot();
    mkdirSync(path.join(root, 'node_modules', 'electron'), { recursive: true });
    writeFileSync(path.join(root, 'node_modules', 'electron', 'package.json'), '{}');
    // An index.js that would "download": if the launcher loaded it, this file would appear.
    writeFileSync(
      path.join(root, 'node_modules', 'electron', 'index.js'),
      `require('fs').writeFileSync(${JSON.stringify(path.join(root, 'downloaded'))}, '')`,
    );
    expect(findElectronBinary(root, {})).toMatchObject({ ok: false, reason: /never downloaded/ });
    expect(existsSync(path.join(root, 'downloaded'))).toBe(false);
  });

  it('finds a downloaded, executable binary', () => {
    const root = tempRoot();
    const pkg = path.join(root, 'node_modules', 'electron');
    mkdirSync(path.join(pkg, 'dist'), { recursive: true });
    writeFileSync(path.join(pkg, 'package.json'), '{}');
    writeFileSync(path.join(pkg, 'path.txt'), 'electron');
    writeFileSync(path.join(pkg, 'dist', 'electron'), '#!/bin/sh\n');
    expect(findElectronBinary(root, {})).toMatchObject({ ok: false, reason: /not executable/ });
    chmodSync(path.join(pkg, 'dist', 'electron'), 0o755);
    expect(findElectronBinary(root, {})).toEqual({
      ok: true,
      path: path.join(pkg, 'dist', 'electron'),
    });
  });

  it('reports this checkout’s real state without downloading', () => {
    const result = findElectronBinary(path.resolve(import.meta.dirname, '..', '..', '..'));
    if (!result.ok) expect(result.reason).toMatch(/never downloaded|missing/);
  });

  it('needs a display on Linux only', () => {
    expect(displayUnavailableReason({}, 'linux')).toMatch(/no display/);
    expect(displayUnavailableReason({ DISPLAY: ':0' }, 'linux')).toBeNull();
    expect(displayUnavailableReason({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux')).toBeNull();
    expect(displayUnavailableReason({}, 'darwin')).toBeNull();
  });
});

describe('desktopDataDir', () => {
  it('prefers --data, then WITNESS_DESKTOP_DATA, then XDG_DATA_HOME, then ~/.local/share', () => {
    expect(desktopDataDir('/x/flag', { WITNESS_DESKTOP_DATA: '/x/env' }, 'linux', '/home/a')).toBe(
      '/x/flag',
    );
    expect(desktopDataDir(undefined, { WITNESS_DESKTOP_DATA: '/x/env' }, 'linux', '/home/a')).toBe(
      '/x/env',
    );
    expect(desktopDataDir(undefined, { XDG_DATA_HOME: '/x/xdg' }, 'linux', '/home/a')).toBe(
      '/x/xdg/witness-desktop',
    );
    // A relative XDG_DATA_HOME is invalid per the XDG spec and ignored.
    expect(desktopDataDir(undefined, { XDG_DATA_HOME: 'rel' }, 'linux', '/home/a')).toBe(
      '/home/a/.local/share/witness-desktop',
    );
    expect(desktopDataDir(undefined, {}, 'darwin', '/Users/a')).toBe(
      '/Users/a/Library/Application Support/witness-desktop',
    );
  });
});

describe('rendererBuildNeeded', () => {
  it('builds when dist is missing or older than a source, not otherwise', () => {
    const root = tempRoot();
    mkdirSync(path.join(root, 'renderer', 'src'), { recursive: true });
    mkdirSync(path.join(root, 'main', 'ipc'), { recursive: true });
    writeFileSync(path.join(root, 'renderer', 'src', 'App.tsx'), 'x');
    writeFileSync(path.join(root, 'main', 'ipc', 'channels.ts'), 'x');
    expect(rendererBuildNeeded(root)).toMatch(/not been built/);
    mkdirSync(path.join(root, 'dist', 'renderer'), { recursive: true });
    writeFileSync(path.join(root, 'dist', 'renderer', 'index.html'), 'x');
    const past = new Date(Date.now() - 60_000);
    utimesSync(path.join(root, 'renderer', 'src', 'App.tsx'), past, past);
    utimesSync(path.join(root, 'main', 'ipc', 'channels.ts'), past, past);
    expect(rendererBuildNeeded(root)).toBeNull();
    const future = new Date(Date.now() + 60_000);
    writeFileSync(path.join(root, 'renderer', 'README.md'), 'docs');
    writeFileSync(path.join(root, 'renderer', 'src', 'App.test.tsx'), 'test');
    utimesSync(path.join(root, 'renderer', 'README.md'), future, future);
    utimesSync(path.join(root, 'renderer', 'src', 'App.test.tsx'), future, future);
    expect(rendererBuildNeeded(root)).toBeNull();
    utimesSync(path.join(root, 'main', 'ipc', 'channels.ts'), future, future);
    expect(rendererBuildNeeded(root)).toMatch(/main\/ipc\/channels.ts changed/);
  });
});
