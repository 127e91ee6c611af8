/**
 * Splits a search hit's snippet into plain and highlighted pieces from the gateway's
 * `highlights` ([start, end) character ranges into the snippet). The ranges come over the wire,
 * so they are not trusted to be sorted, disjoint or in bounds: out-of-range parts are dropped,
 * overlapping or touching ranges merge, and a range never splits a surrogate pair.
 */
export interface SnippetPiece {
  text: string;
  hit: boolean;
}

export function highlightRanges(
  snippet: string,
  ranges: readonly (readonly [number, number])[],
): SnippetPiece[] {
  const clean = mergeRanges(snippet, ranges);
  const pieces: SnippetPiece[] = [];
  let at = 0;
  for (const [start, end] of clean) {
    if (start > at) pieces.push({ text: snippet.slice(at, start), hit: false });
    pieces.push({ text: snippet.slice(start, end), hit: true });
    at = end;
  }
  if (at < snippet.length || pieces.length === 0) {
    pieces.push({ text: snippet.slice(at), hit: false });
  }
  return pieces;
}

function mergeRanges(
  snippet: string,
  ranges: readonly (readonly [number, number])[],
): [number, number][] {
  const n = snippet.length;
  const bounded: [number, number][] = [];
  for (const range of ranges) {
    let start = Math.max(0, Math.min(n, Math.floor(range[0])));
    let end = Math.max(0, Math.min(n, Math.ceil(range[1])));
    if (!Number.isFinite(start) || !Number.isFinite(end) || end <= start) continue;
    // Widen rather than cut a surrogate pair in half.
    if (start > 0 && isLowSurrogate(snippet.charCodeAt(start))) start -= 1;
    if (end < n && isLowSurrogate(snippet.charCodeAt(end))) end += 1;
    bounded.push([start, end]);
  }
  bounded.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const range of bounded) {
    const last = merged[merged.length - 1];
    if (last !== undefined && range[0] <= last[1]) last[1] = Math.max(last[1], range[1]);
    else merged.push(range);
  }
  return merged;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
