/**
 * Which parses the SQL parser keeps (issue #13, policy cost). A parse tree kept for a text that
 * never comes again costs more than the parse it would save: pgbench's simple queries, like
 * most applications' that inline their constants, are each a new text, and keeping every tree
 * for a while moved thousands of small objects into the old generation (measured: a unique
 * text's parse went from ~14 µs to ~21 µs with every tree kept). So a tree is kept only for a
 * text seen before: a prepared statement's text at its second Parse, a repeated query at its
 * second run. First sightings are remembered by a 32-bit hash in a fixed table indexed by the
 * hash (nothing allocated or kept per text); a collision only moves a text's keeping one
 * sighting earlier or later.
 *
 * Both bounds are enforced without deleting the oldest entry of a Map or Set: V8 leaves a hole
 * per deleted entry at the front of its ordered table until it rehashes, and the next
 * "oldest" lookup steps over all of them (measured: ~2 µs per new text for a 2,000-entry Map
 * used as a queue, 4–17 µs for an 8,192-entry Set). The kept trees are dropped all at once
 * when full; a text still in use is kept again at its next parse (its sighting stays).
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
  /** Trees kept; all are forgotten when a new one would pass this bound. */
  readonly entries: number;
  /** Slots of the first-sightings table (a power of two). */
  readonly sightings: number;
  /** Longer texts are never kept: one-off bulk statements should not hold megabytes. */
  readonly maxText: number;
}

export function createParseCache<T>(limits: ParseCacheLimits): ParseCache<T> {
  if (!Number.isInteger(Math.log2(limits.sightings))) {
    throw new Error(`sightings must be a power of two, not ${limits.sightings}`);
  }
  const kept = new Map<string, T>();
  const seen = new Uint32Array(limits.sightings);
  const slotMask = limits.sightings - 1;
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
      const slot = hash & slotMask;
      if (seen[slot] !== hash) {
        seen[slot] = hash;
        return;
      }
      if (kept.size >= limits.entries) kept.clear();
      kept.set(text, result);
    },
  };
}

/** FNV-1a over UTF-16 code units: a cheap, well-spread 32-bit key for the sightings table. */
function textHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}
