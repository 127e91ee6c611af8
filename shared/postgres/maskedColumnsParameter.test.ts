import { describe, expect, it } from 'vitest';
import { formatMaskedColumns, parseMaskedColumns } from './maskedColumnsParameter.ts';

describe('masked columns parameter', () => {
  it('round-trips column indexes', () => {
    expect([...parseMaskedColumns(formatMaskedColumns([0, 3, 12]))]).toEqual([0, 3, 12]);
  });

  it('ignores what is not a plain index', () => {
    expect([...parseMaskedColumns('')]).toEqual([]);
    expect([...parseMaskedColumns('1,-2,x,3.5,04,7')]).toEqual([1, 7]);
  });
});
