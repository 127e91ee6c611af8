/**
 * Icons come from one set, lucide-react (issue #15): no Unicode glyph stands in for an icon in
 * the renderer's components. Glyphs in comments and in keystroke labels (keystrokeLabel.ts shows
 * "⏎" as the key that was pressed, which is text) are not icons and are not checked.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '..', 'renderer', 'src');
/** The glyphs the renderer used as icons before, and their usual neighbours. */
const GLYPH_ICONS = /[▶▷◀◁⏸⏵⏹✕✖✗✘✓✔⚠☰⟳↻↺●○◉▲▼⌕⚙☾☀❚×←]/u;

function componentFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return componentFiles(full);
    return entry.name.endsWith('.tsx') ? [full] : [];
  });
}

/** Drops block and line comments, keeping line numbers. */
function withoutComments(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ' '))
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

describe('one icon set', () => {
  const files = componentFiles(SRC);

  it('finds the components', () => {
    expect(files.length).toBeGreaterThan(50);
  });

  it('no component draws an icon with a Unicode glyph', () => {
    const found: string[] = [];
    for (const file of files) {
      withoutComments(readFileSync(file, 'utf8'))
        .split('\n')
        .forEach((line, i) => {
          const glyph = GLYPH_ICONS.exec(line);
          if (glyph) found.push(`${path.relative(SRC, file)}:${i + 1} ${glyph[0]}`);
        });
    }
    expect(found).toEqual([]);
  });

  it('the check would see one', () => {
    expect(GLYPH_ICONS.test(withoutComments('<span aria-hidden="true">✕</span> // ok ✓'))).toBe(
      true,
    );
    expect(GLYPH_ICONS.test(withoutComments('/* ← comment */ const a = 1; // ✓ noted'))).toBe(
      false,
    );
  });
});
