import { describe, expect, it } from 'vitest';
import { columnWidths } from './columnWidths.ts';

describe('columnWidths', () => {
  it('makes room for the widest of the first rows, not only the name', () => {
    const [id, hash] = columnWidths(
      [{ name: 'g' }, { name: 'md5' }],
      [['1', 'd846dd64b0d7a0f8d5c4a0b2b5ab3a61']],
    );
    expect(hash).toBeGreaterThan(32 * 7);
    expect(id).toBeLessThan(hash as number);
  });

  it('keeps one long text from taking the screen, and a short column readable', () => {
    const [long, short] = columnWidths(
      [{ name: 'body' }, { name: 'x' }],
      [['a'.repeat(5000), null]],
    );
    expect(long).toBe(420);
    expect(short).toBe(70);
  });

  it('measures a multi-line value by its first line', () => {
    const [json] = columnWidths([{ name: 'doc' }], [['{\n  "a": 1\n}']]);
    expect(json).toBe(70);
  });
});
