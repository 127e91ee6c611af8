import { describe, expect, it } from 'vitest';
import { codePointCount, codeUnitIndex, tokenEnd } from './textPositions.ts';

describe('text positions', () => {
  it('maps PostgreSQL character positions to editor offsets past astral characters', () => {
    const sql = "select '😀', nosuch";
    // PostgreSQL: position 13 is the 'n' of nosuch (characters, 1-based).
    const index = codeUnitIndex(sql, 13);
    expect(sql.slice(index, tokenEnd(sql, index))).toBe('nosuch');
    expect(codePointCount('a😀b')).toBe(3);
  });

  it('clamps past the end', () => {
    expect(codeUnitIndex('abc', 99)).toBe(3);
    expect(tokenEnd('abc', 3)).toBe(3);
  });
});
