/**
 * Whether dist/renderer must be (re)built before it is served: missing, or older than any
 * renderer source (or the channel names it imports from main/ipc).
 */
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/** Why a build is needed, or null when dist/renderer is up to date. */
export function rendererBuildNeeded(repoRoot: string): string | null {
  const built = path.join(repoRoot, 'dist', 'renderer', 'index.html');
  let builtAt: number;
  try {
    builtAt = statSync(built).mtimeMs;
  } catch {
    return 'dist/renderer has not been built yet';
  }
  const sources = [path.join(repoRoot, 'renderer'), path.join(repoRoot, 'main', 'ipc')];
  const newer = sources
    .flatMap((dir) => filesUnder(dir))
    .find((f) => statSync(f).mtimeMs > builtAt);
  return newer ? `${path.relative(repoRoot, newer)} changed since the last build` : null;
}

function filesUnder(dir: string): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) return [];
    // Docs and tests are not part of the bundle.
    if (/\.(md|test\.tsx?)$/.test(entry.name)) return [];
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : [full];
  });
}
