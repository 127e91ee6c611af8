/**
 * Builds the real renderer (renderer/vite.config.ts) into a temp folder for one test run, so the
 * tests never race `npm start` or a developer over dist/renderer and always serve current code.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'vite';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');

export async function buildRendererForTests(): Promise<string> {
  const outDir = mkdtempSync(path.join(tmpdir(), 'witness-renderer-'));
  await build({
    configFile: path.join(repoRoot, 'renderer', 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}
