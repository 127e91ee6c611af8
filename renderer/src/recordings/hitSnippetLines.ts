/**
 * The lines of a search hit's snippet that its row shows, and the row's height (issue #16: a
 * snippet of output holds line breaks, and a three-line snippet was clipped by a one-line
 * row). At most `MAX_SNIPPET_LINES` lines are shown: those from the first highlighted one on
 * (earlier ones when the snippet ends sooner), so the match is always among them; the row is
 * as tall as the lines it shows.
 */
export const MAX_SNIPPET_LINES = 3;
/** Pixel height of one snippet line (`.hit-snippet` sets this line-height). */
export const SNIPPET_LINE_PX = 17;
/** The row without its snippet: padding, the title line, the gap, the border. */
const ROW_CHROME_PX = 46;

export interface ShownSnippet {
  snippet: string;
  highlights: [number, number][];
  lines: number;
}

export function hitSnippetLines(
  snippet: string,
  highlights: readonly (readonly [number, number])[],
): ShownSnippet {
  const starts = [0];
  for (let i = snippet.indexOf('\n'); i >= 0; i = snippet.indexOf('\n', i + 1)) starts.push(i + 1);
  const firstHit = highlights.reduce(
    (min, [from]) => (from >= 0 && from < snippet.length ? Math.min(min, from) : min),
    snippet.length,
  );
  let hitLine = 0;
  while (hitLine + 1 < starts.length && (starts[hitLine + 1] as number) <= firstHit) hitLine++;
  const firstLine = Math.max(0, Math.min(hitLine, starts.length - MAX_SNIPPET_LINES));
  const lastLine = Math.min(starts.length, firstLine + MAX_SNIPPET_LINES);
  const from = starts[firstLine] as number;
  const to = lastLine < starts.length ? (starts[lastLine] as number) - 1 : snippet.length;
  const shown: [number, number][] = [];
  for (const [start, end] of highlights) {
    if (start >= from && end <= to) shown.push([start - from, end - from]);
  }
  return {
    snippet: `${from > 0 ? '…' : ''}${snippet.slice(from, to)}${to < snippet.length ? '…' : ''}`,
    highlights: from > 0 ? shown.map(([s, e]) => [s + 1, e + 1]) : shown,
    lines: lastLine - firstLine,
  };
}

/** The height of a hit's row that shows `lines` snippet lines. */
export function hitRowHeight(lines: number): number {
  return ROW_CHROME_PX + SNIPPET_LINE_PX * Math.max(1, Math.min(MAX_SNIPPET_LINES, lines));
}
