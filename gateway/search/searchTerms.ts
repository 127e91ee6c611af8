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
  // Start a little before the first match, at a word boundary when one is near.
  let start = Math.max(0, first - Math.floor(maxLength / 4));
  if (start > 0) {
    const space = text.lastIndexOf(' ', first);
    if (space >= start - 20 && space < first) start = space + 1;
  }
  const end = Math.min(text.length, start + maxLength);
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
