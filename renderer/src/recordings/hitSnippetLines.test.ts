import { describe, expect, it } from 'vitest';
import {
  hitRowHeight,
  hitSnippetLines,
  MAX_SNIPPET_LINES,
  SNIPPET_LINE_PX,
} from './hitSnippetLines.ts';

describe('hitSnippetLines', () => {
  it('keeps a snippet of three lines whole, with its highlights', () => {
    const snippet = 'one\nfound mangosteen\nthree';
    const shown = hitSnippetLines(snippet, [[10, 20]]);
    expect(shown).toEqual({ snippet, highlights: [[10, 20]], lines: 3 });
  });

  it('shows the lines from the match on when there are more than three', () => {
    const snippet = 'a\nb\nc\nd mangosteen\ne\nf';
    const at = snippet.indexOf('mangosteen');
    const shown = hitSnippetLines(snippet, [[at, at + 10]]);
    expect(shown.snippet).toBe('…d mangosteen\ne\nf');
    expect(shown.lines).toBe(MAX_SNIPPET_LINES);
    const [[from, to]] = shown.highlights as [[number, number]];
    expect(shown.snippet.slice(from, to)).toBe('mangosteen');
  });

  it('marks a cut end and drops highlights outside what is shown', () => {
    const snippet = 'x mangosteen\nb\nc\nd\nmangosteen again';
    const shown = hitSnippetLines(snippet, [
      [2, 12],
      [20, 30],
    ]);
    expect(shown.snippet).toBe('x mangosteen\nb\nc…');
    expect(shown.highlights).toEqual([[2, 12]]);
  });

  it('a row is tall enough for the lines it shows', () => {
    expect(hitRowHeight(3) - hitRowHeight(1)).toBe(2 * SNIPPET_LINE_PX);
    expect(hitRowHeight(9)).toBe(hitRowHeight(3));
    expect(hitRowHeight(0)).toBe(hitRowHeight(1));
  });
});
