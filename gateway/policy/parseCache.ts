/**
 * Which parses the SQL parser keeps (issue #13, policy cost). A parse tree kept for a text that
 * never comes again costs more than the parse it would save: pgbench's simple queries, like
 * most applications' that inline their constants, are each a new text, and keeping every tree
 * for a while moved thousands of small objects into the old generation (measured: a unique
 * text's parse went from ~14 µs to ~21 µs with every tree kept). So a tree is kept only for a
 * text seen before: a prepared statement's text at its second Parse, a repeated query at its
 * second run. First sightings are remembered by a 32-bit hash (a number: nothing retained per
 * text); a collision only means a text is kept one sighting early.
 *
 * The last result is also kept, whatever the text: one Query is parsed by the policy check and
 * read again in the same turn (COPY's columns, prepared statements' masking).
 */
export interface ParseCache<T> {
  /** The kept result for this exact text, if any. */
  get(text: string): T | undefined;
  /** Notes a fresh result; keeps it if the text was seen before (or is the last one). */
  add(text: string, result: T): void;
}

export interface ParseCacheLimits {
  /** Trees kept (oldest forgotten first). */
  readonly entries: number;
  /** First sightings remembered (oldest forgotten first). */
  readonly sightings: number;
  /** Longer texts are never kept: one-off bulk statements should not hold megabytes. */
  readonly maxText: number;
}

export function createParseCache<T>(limits: ParseCacheLimits): ParseCache<T> {
  const kept = new Map<string, T>();
  const seen = new Set<number>();
  let lastText: string | undefined;
  let lastResult: T | undefined;
  return {
    get(text) {
      if (text === lastText) return lastResult;
      return kept.get(text);
    },
    add(text, result) {
      lastText = text;
      lastResult = result;
      if (text.length > limits.maxText) return;
      const hash = textHash(text);
      if (!seen.has(hash)) {
        if (seen.size >= limits.sightings) seen.delete(seen.values().next().value as number);
        seen.add(hash);
        return;
      }
      seen.delete(hash);
      if (kept.size >= limits.entries) kept.delete(kept.keys().next().value as string);
      kept.set(text, result);
    },
  };
}

/** FNV-1a over UTF-16 code units: a cheap, well-spread 32-bit key for the sightings set. */
function textHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
