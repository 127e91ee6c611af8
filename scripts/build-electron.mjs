#!/usr/bin/env node
// Bundles the Electron main process and the preload (esbuild, which vite and tsx already bring).
//
// - dist/main/index.mjs: main/index.ts and our own sources (and verifyWorker.mjs, its worker thread), ESM (Electron 28+ loads ESM main, and
//   our modules use import.meta). Packages stay external: electron-builder ships node_modules, so
//   native modules (better-sqlite3, keytar, ssh2's cpu-features) load from there unchanged.
// - dist/main/preload.cjs: a sandboxed preload cannot require anything but 'electron', so it is
//   one CommonJS file; the build fails if anything else is left to require at run time.
import path from 'node:path';
import { build } from 'esbuild';

const root = path.resolve(import.meta.dirname, '..');
const outdir = path.join(root, 'dist', 'main');

const common = (write) => ({
  absWorkingDir: root,
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  write,
});

export async function buildPreload({ write = true } = {}) {
  const result = await build({
    ...common(write),
    entryPoints: ['main/preload.ts'],
    outfile: path.join(outdir, 'preload.cjs'),
    format: 'cjs',
    external: ['electron'],
    metafile: true,
  });
  const requires = Object.values(result.metafile.outputs)
    .flatMap((output) => output.imports)
    .filter((i) => i.external)
    .map((i) => i.path);
  const unexpected = requires.filter((p) => p !== 'electron');
  if (unexpected.length > 0) {
    throw new Error(`the preload must import only electron, found: ${unexpected.join(', ')}`);
  }
  return { result, requires, inputs: Object.keys(result.metafile.inputs) };
}

export async function buildMain({ write = true } = {}) {
  return build({
    ...common(write),
    // The verification worker (backgroundVerifier.ts) loads verifyWorker.mjs beside index.mjs.
    entryPoints: {
      index: 'main/index.ts',
      verifyWorker: 'main/services/recordings/verifyWorker.ts',
    },
    outdir,
    outExtension: { '.js': '.mjs' },
    format: 'esm',
    packages: 'external',
    // Bundled CommonJS helpers may call require(); give the ESM bundle one.
    banner: {
      js: "import { createRequire as __witnessCreateRequire } from 'node:module'; const require = __witnessCreateRequire(import.meta.url);",
    },
  });
}

if (process.argv[1] === import.meta.filename) {
  await buildPreload();
  await buildMain();
  console.log(`built ${path.relative(root, outdir)}/index.mjs and preload.cjs`);
}
