/**
 * Where the Electron binary is, or why it cannot be used — without `require('electron')`, whose
 * index.js *downloads* the binary when it is missing (node_modules/electron/index.js), which
 * must never happen from `npm start` (and cannot, on machines without network access).
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export type ElectronBinary = { ok: true; path: string } | { ok: false; reason: string };

export function findElectronBinary(
  repoRoot: string,
  env: NodeJS.ProcessEnv = process.env,
): ElectronBinary {
  const packageDir = path.join(repoRoot, 'node_modules', 'electron');
  if (!existsSync(path.join(packageDir, 'package.json'))) {
    return { ok: false, reason: 'the electron package is not installed (npm install)' };
  }
  const pathFile = path.join(packageDir, 'path.txt');
  const relative = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  // Same lookup as electron's index.js, minus the download.
  const distDir = env.ELECTRON_OVERRIDE_DIST_PATH ?? path.join(packageDir, 'dist');
  if (!env.ELECTRON_OVERRIDE_DIST_PATH && !relative) {
    return {
      ok: false,
      reason:
        "the Electron binary was never downloaded (node_modules/electron/path.txt is missing; npm's allowScripts keeps electron's install script off)",
    };
  }
  const binary = path.join(distDir, relative || 'electron');
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    return { ok: false, reason: `the Electron binary ${binary} is missing or not executable` };
  }
  return { ok: true, path: binary };
}

/** Electron needs a display on Linux; without one it exits at once. */
export function displayUnavailableReason(
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string | null {
  if (platform !== 'linux') return null;
  if (env.DISPLAY || env.WAYLAND_DISPLAY) return null;
  return 'there is no display (neither DISPLAY nor WAYLAND_DISPLAY is set)';
}
