import { describe, expect, it } from 'vitest';
import { queryAtSeq } from './queryAtSeq.ts';

describe('queryAtSeq', () => {
  const entries = [{ seq: 3 }, { seq: 10 }, { seq: 20 }];

  it("a query's own hit selects that query", () => {
    expect(queryAtSeq(entries, 10, false)).toBe(1);
  });

  it('a hit in the rows after a query selects that query, not the next one', () => {
    expect(queryAtSeq(entries, 12, false)).toBe(1);
    expect(queryAtSeq(entries, 25, false)).toBe(2);
  });

  it('a hit before the first query selects the first', () => {
    expect(queryAtSeq(entries, 1, false)).toBe(0);
  });

  it('past the loaded page, more is loaded first', () => {
    expect(queryAtSeq(entries, 25, true)).toBe('load-more');
    expect(queryAtSeq([], 25, false)).toBe(0);
  });
});
