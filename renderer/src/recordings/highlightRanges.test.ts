import { describe, expect, it } from 'vitest';
import { highlightRanges } from './highlightRanges.ts';

describe('highlightRanges', () => {
  it('splits the snippet at the hit ranges', () => {
    expect(highlightRanges('run deploy now', [[4, 10]])).toEqual([
      { text: 'run ', hit: false },
      { text: 'deploy', hit: true },
      { text: ' now', hit: false },
    ]);
  });
  it('sorts, merges overlapping and touching ranges', () => {
    expect(
      highlightRanges('abcdefgh', [
        [5, 7],
        [0, 2],
        [1, 3],
        [3, 4],
      ]),
    ).toEqual([
      { text: 'abcd', hit: true },
      { text: 'e', hit: false },
      { text: 'fg', hit: true },
      { text: 'h', hit: false },
    ]);
  });
  it('drops empty, reversed and out-of-range parts', () => {
    expect(
      highlightRanges('abc', [
        [2, 1],
        [5, 9],
        [-3, 1],
        [Number.NaN, 2],
      ]),
    ).toEqual([
      { text: 'a', hit: true },
      { text: 'bc', hit: false },
    ]);
  });
  it('a snippet with no hits is one plain piece; an empty one too', () => {
    expect(highlightRanges('abc', [])).toEqual([{ text: 'abc', hit: false }]);
    expect(highlightRanges('', [])).toEqual([{ text: '', hit: false }]);
  });
  it('never cuts a surrogate pair', () => {
    const s = 'a😀b';
    const pieces = highlightRanges(s, [[2, 3]]);
    expect(pieces.map((p) => p.text).join('')).toBe(s);
    expect(pieces.find((p) => p.hit)?.text).toBe('😀');
  });
});
