/**
 * Builds the real renderer (renderer/vite.config.ts) into a temp folder for one test run, so the
 * tests never race `npm start` or a developer over dist/renderer and always serve current code.
 * WITNESS_E2E_RENDERER_DIR points the e2e tests and bench:desktop at an existing build instead
 * (for checking a given build; it is left in place).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'vite';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');

export interface RendererBuild {
  dir: string;
  /** Removes the temp build (a no-op for WITNESS_E2E_RENDERER_DIR). */
  remove(): void;
}

export async function buildRendererForTests(): Promise<RendererBuild> {
  const given = process.env.WITNESS_E2E_RENDERER_DIR;
  if (given) return { dir: path.resolve(given), remove: () => {} };
  const outDir = mkdtempSync(path.join(tmpdir(), 'witness-renderer-'));
  await build({
    configFile: path.join(repoRoot, 'renderer', 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  return { dir: outDir, remove: () => rmSync(outDir, { recursive: true, force: true }) };
}
