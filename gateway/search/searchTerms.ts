/**
 * How text becomes words for search, in one place for both stores and for highlighting.
 *
 * A word is a run of letters and digits (Unicode L* and N*), lower-cased; everything else
 * separates words. That is what SQLite FTS5's unicode61 tokenizer does (with
 * remove_diacritics 0), and the PostgreSQL store indexes exactly the words this module
 * returns (array_to_tsvector), so both deployments find the same hits. A query word matches
 * an indexed word it is a prefix of: `ngin` finds `nginx.conf`, `etc passwd` finds
 * `/etc/passwd`.
 */

import { indexWords, WORD_PATTERN } from '../store/indexedText.ts';

/** More query words than this are ignored (a pasted paragraph is not a search). */
export const MAX_QUERY_WORDS = 16;
/** Query words are cut to this many characters (the prefix still matches). */
export const MAX_QUERY_WORD_LENGTH = 64;
/** The distinct words of `text`, in order of first appearance: as the index splits them. */
export const searchWords = indexWords;

/** The words of a search query, bounded in number and length; empty when it has none. */
export function queryWords(query: string): string[] {
  const words = new Set<string>();
  for (const word of searchWords(query)) {
    if (words.size >= MAX_QUERY_WORDS) break;
    words.add(word.slice(0, MAX_QUERY_WORD_LENGTH));
  }
  return [...words];
}

export interface Snippet {
  snippet: string;
  /** [start, end) ranges in `snippet` of words that match a query word. */
  highlights: [number, number][];
}

/**
 * A window of `text` around its first matching word, at most `maxLength` characters, with the
 * matching words' ranges (the part of each word the query word is a prefix of).
 */
export function snippetOf(text: string, terms: readonly string[], maxLength = 160): Snippet {
  const matches: [number, number][] = [];
  for (const match of text.matchAll(WORD_PATTERN)) {
    const word = match[0].toLowerCase();
    const term = terms.find((t) => word.startsWith(t));
    if (term !== undefined) matches.push([match.index, match.index + term.length]);
  }
  const first = matches[0]?.[0] ?? 0;
  const firstEnd = matches[0]?.[1] ?? 0;
  // Start a little before the first match, on a word boundary (issue #16: a snippet began
  // mid-word whenever no space was within 20 characters — output lines break with '\n').
  const start = wordStartNear(text, Math.max(0, first - Math.floor(maxLength / 4)), first);
  let end = Math.min(text.length, start + maxLength);
  if (end < text.length) {
    const blank = lastBlankIn(text, Math.max(firstEnd, end - BOUNDARY_REACH), end);
    if (blank > 0) end = blank;
  }
  const prefix = start > 0 ? '…' : '';
  const suffix = end < text.length ? '…' : '';
  const snippet = `${prefix}${text.slice(start, end)}${suffix}`;
  const shift = prefix.length - start;
  const highlights: [number, number][] = [];
  for (const [from, to] of matches) {
    if (from >= start && to <= end) highlights.push([from + shift, to + shift]);
  }
  return { snippet, highlights };
}

/** How far a snippet's edge moves to reach a word boundary. */
const BOUNDARY_REACH = 20;
const BLANK = /\s/u;

/**
 * Where a snippet wanted at `wanted` starts so that it begins a word: after the last blank at
 * most BOUNDARY_REACH before it, else after the first blank between it and the match, else at
 * the match (which begins a word).
 */
function wordStartNear(text: string, wanted: number, match: number): number {
  if (wanted === 0) return 0;
  const below = lastBlankIn(text, Math.max(0, wanted - BOUNDARY_REACH), wanted + 1);
  if (below >= 0) return below + 1;
  const after = firstBlankIn(text, wanted, match);
  return after >= 0 ? after + 1 : match;
}

function lastBlankIn(text: string, from: number, to: number): number {
  for (let i = to - 1; i >= from; i--) if (BLANK.test(text[i] as string)) return i;
  return -1;
}

function firstBlankIn(text: string, from: number, to: number): number {
  for (let i = from; i < to; i++) if (BLANK.test(text[i] as string)) return i;
  return -1;
}
