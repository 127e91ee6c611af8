/**
 * Query history per resource, kept in this desktop profile's local storage (never sent
 * anywhere: the gateway's recording is the authoritative history). Newest first, the same text
 * once (running it again moves it to the top), at most MAX_ENTRIES per resource.
 */
export interface HistoryEntry {
  sql: string;
  at: string;
}

export interface HistoryStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const MAX_ENTRIES = 200;
const keyOf = (resourceId: string) => `witness.console.history.${resourceId}`;

export function readHistory(storage: HistoryStorage, resourceId: string): HistoryEntry[] {
  try {
    const parsed: unknown = JSON.parse(storage.getItem(keyOf(resourceId)) ?? '[]');
    if (!Array.isArray(parsed)) return [];
    return parsed.filter(
      (e): e is HistoryEntry =>
        typeof e === 'object' &&
        e !== null &&
        typeof e.sql === 'string' &&
        typeof e.at === 'string',
    );
  } catch {
    return [];
  }
}

export function addToHistory(
  storage: HistoryStorage,
  resourceId: string,
  sql: string,
  now = new Date(),
): HistoryEntry[] {
  const text = sql.trim();
  if (text === '') return readHistory(storage, resourceId);
  const entries = [
    { sql: text, at: now.toISOString() },
    ...readHistory(storage, resourceId).filter((e) => e.sql !== text),
  ].slice(0, MAX_ENTRIES);
  try {
    storage.setItem(keyOf(resourceId), JSON.stringify(entries));
  } catch {
    // A full storage only loses history, never the run.
  }
  return entries;
}

/** Entries holding every word of the search, case-insensitively. */
export function searchHistory(entries: readonly HistoryEntry[], search: string): HistoryEntry[] {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...entries];
  return entries.filter((e) => {
    const sql = e.sql.toLowerCase();
    return words.every((w) => sql.includes(w));
  });
}
