/**
 * The import rules that keep the security model visible in the code (DESIGN.md, Layout):
 * the renderer never reaches main's services or the gateway; the desktop never imports the
 * gateway (so it has no path to the recorder or the store); gateway-client imports nothing
 * from the gateway; the recorder knows no protocol; the store knows no transport.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');

function sourceFiles(dir: string): string[] {
  const full = path.join(root, dir);
  let entries: string[];
  try {
    entries = readdirSync(full);
  } catch {
    return [];
  }
  return entries.flatMap((name) => {
    const rel = path.join(dir, name);
    if (name === 'node_modules' || name === 'dist') return [];
    if (statSync(path.join(root, rel)).isDirectory()) return sourceFiles(rel);
    return /\.(ts|tsx|mts)$/.test(name) ? [rel] : [];
  });
}

/** Every module specifier a file imports, resolved to a repo-relative path when relative. */
function importsOf(file: string): string[] {
  const text = readFileSync(path.join(root, file), 'utf8');
  const specifiers = [
    ...text.matchAll(
      /(?:import|export)[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g,
    ),
  ].map((m) => (m[1] ?? m[2])!);
  return specifiers.map((s) =>
    s.startsWith('.')
      ? path.relative(root, path.resolve(path.dirname(path.join(root, file)), s))
      : s,
  );
}

function violations(fromDir: string, forbidden: (target: string) => boolean): string[] {
  return sourceFiles(fromDir).flatMap((file) =>
    importsOf(file)
      .filter(forbidden)
      .map((target) => `${file} imports ${target}`),
  );
}

const under = (dir: string) => (target: string) => target === dir || target.startsWith(`${dir}/`);

describe('layering', () => {
  it('finds the source files it checks', () => {
    expect(sourceFiles('gateway').length).toBeGreaterThan(10);
    expect(importsOf('gateway/index.ts')).toContain('gateway/api/apiServer.ts');
  });

  it('gateway-client imports nothing from the gateway', () => {
    expect(violations('gateway-client', under('gateway'))).toEqual([]);
  });

  it('the desktop (main, renderer) never imports the gateway', () => {
    expect(violations('main', under('gateway'))).toEqual([]);
    expect(violations('renderer', under('gateway'))).toEqual([]);
  });

  it('the renderer imports only the IPC contract (and its channel names) from main, and nothing from gateway-client', () => {
    const allowed = (t: string) =>
      t.startsWith('main/ipc/contract') || t.startsWith('main/ipc/channels');
    const bad = (t: string) => (under('main')(t) && !allowed(t)) || under('gateway-client')(t);
    expect(violations('renderer', bad)).toEqual([]);
  });

  it('the recorder knows no protocol and the store knows no transport', () => {
    expect(
      violations('gateway/recorder', (t) => under('gateway/proxy')(t) || under('gateway/api')(t)),
    ).toEqual([]);
    const transports = (t: string) =>
      under('gateway/api')(t) ||
      under('gateway/proxy')(t) ||
      ['fastify', 'ssh2', 'node:http', 'node:https', 'node:net', 'node:tls'].includes(t);
    expect(violations('gateway/store', transports)).toEqual([]);
  });
});
