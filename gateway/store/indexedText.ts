/**
 * How the search index sees a text: its words, the key it is stored under once, and what the
 * databases can hold.
 *
 * A word is a run of letters and digits (Unicode L* and N*), lower-cased; everything else
 * separates words. That is what SQLite FTS5's unicode61 tokenizer does (with
 * remove_diacritics 0), and the PostgreSQL store indexes exactly the words this module
 * returns (array_to_tsvector), so both deployments find the same hits. Search splits query
 * words with this module too (search/searchTerms.ts), so the two cannot disagree.
 */
import { hash } from 'node:crypto';

/** One word of text (global: use with matchAll, which copies it). */
export const WORD_PATTERN = /[\p{L}\p{N}]+/gu;
/** Indexed words longer than this are left out on PostgreSQL (lexemes are limited to 2 KiB). */
export const MAX_INDEXED_WORD_LENGTH = 256;

/** The distinct words of `text`, in order of first appearance. */
export function indexWords(text: string): string[] {
  const seen = new Set<string>();
  for (const match of text.matchAll(WORD_PATTERN)) seen.add(match[0].toLowerCase());
  return [...seen];
}

/**
 * The words the index holds for `text`; a text with none is not indexed (it could never be
 * found). Overlong words are left out on both databases, so both find the same hits.
 */
export function indexableWords(text: string): string[] {
  return indexWords(text).filter((word) => word.length <= MAX_INDEXED_WORD_LENGTH);
}

/** Whether `text` has a word the index holds (indexableWords is not empty), cheaper. */
export function hasIndexableWord(text: string): boolean {
  for (const match of text.matchAll(WORD_PATTERN)) {
    // Measured lower-cased, as indexableWords does (lower-casing can change the length).
    if (match[0].toLowerCase().length <= MAX_INDEXED_WORD_LENGTH) return true;
  }
  return false;
}

/** A query term the index can answer: exactly one word (anything else could inject syntax). */
export function isSearchTerm(term: string): boolean {
  return /^[\p{L}\p{N}]+$/u.test(term);
}

/**
 * The key a distinct text is stored under: SHA-256 of its UTF-8, hex. A key and not the text
 * itself because a text can be longer than a B-tree index entry may be.
 */
export function textHash(text: string): string {
  // One-shot: no Hash object per text (a new query text each time is the common case).
  return hash('sha256', text, 'hex');
}

/** PostgreSQL text cannot hold NUL; derived text never needs it. */
export function storableText(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '') : text;
}
