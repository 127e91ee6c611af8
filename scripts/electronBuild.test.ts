/**
 * The Electron build without Electron: the main process and preload bundle (esbuild), and
 * electron-builder.yml is valid against electron-builder's own JSON schema and keeps the
 * settings the app depends on (native modules outside the asar, the witness:// scheme, the
 * installer targets from issue #5). The Electron binary itself cannot run here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
// ajv and js-yaml come with electron-builder (app-builder-lib uses them to check this file).
import Ajv from 'ajv';
// @ts-expect-error: js-yaml ships no type declarations (only load() is used)
import yaml from 'js-yaml';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

interface BuildScript {
  buildMain(o: {
    write: boolean;
  }): Promise<{ errors: unknown[]; outputFiles?: { path: string; text: string }[] }>;
}

describe('Electron build', () => {
  it('bundles main/index.ts as ESM with packages (electron, native modules) left external', async () => {
    // @ts-expect-error: a plain .mjs build script without type declarations
    const script = (await import('./build-electron.mjs')) as BuildScript;
    const result = await script.buildMain({ write: false });
    expect(result.errors).toEqual([]);
    const bundle = result.outputFiles?.find((f) => f.path.endsWith('index.mjs'))?.text ?? '';
    expect(bundle).toMatch(/from "electron"/);
    expect(bundle).toContain('contextIsolation: true');
    expect(bundle).toContain('sandbox: true');
    expect(bundle).toContain('nodeIntegration: false');
    // Native modules are not inlined (they load from node_modules, unpacked from the asar).
    expect(bundle).not.toMatch(/better_sqlite3\.node|keytar\.node/);
  });

  it('electron-builder.yml is valid and keeps what the app needs', () => {
    const config = yaml.load(
      readFileSync(path.join(root, 'electron-builder.yml'), 'utf8'),
    ) as Record<
      string,
      // biome-ignore lint/suspicious/noExplicitAny: free-form YAML checked field by field below
      any
    >;
    const schema = JSON.parse(
      readFileSync(path.join(root, 'node_modules', 'app-builder-lib', 'scheme.json'), 'utf8'),
    );
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    expect(validate(config), JSON.stringify(validate.errors)).toBe(true);
    expect(config.productName).toBe('Witness');
    for (const native of ['better-sqlite3', 'keytar', 'ssh2', 'cpu-features']) {
      expect(config.asarUnpack).toContain(`node_modules/${native}/**`);
    }
    // Worker threads load their script from disk, outside the archive (backgroundVerifier.ts).
    expect(config.asarUnpack).toContain('dist/main/verifyWorker.mjs');
    expect(config.protocols[0].schemes).toEqual(['witness']);
    expect(config.linux.target).toEqual(['AppImage', 'deb']);
    expect(config.mac.target).toBe('dmg');
    expect(config.win.target).toBe('nsis');
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(config.files).toContain('dist/main/**');
    expect(pkg.main).toBe('dist/main/index.mjs');
  });
});
