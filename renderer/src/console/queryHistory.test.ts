import { describe, expect, it } from 'vitest';
import { addToHistory, readHistory, searchHistory } from './queryHistory.ts';

function memoryStorage() {
  const map = new Map<string, string>();
  return {
    getItem: (k: string) => map.get(k) ?? null,
    setItem: (k: string, v: string) => map.set(k, v),
  };
}

describe('query history', () => {
  it('keeps the newest first, once per text, apart per resource', () => {
    const storage = memoryStorage();
    addToHistory(storage, 'res-a', 'select 1', new Date('2026-01-01T00:00:00Z'));
    addToHistory(storage, 'res-a', 'select 2', new Date('2026-01-01T00:01:00Z'));
    addToHistory(storage, 'res-a', ' select 1 ', new Date('2026-01-01T00:02:00Z'));
    addToHistory(storage, 'res-b', 'select 3');
    expect(readHistory(storage, 'res-a').map((e) => e.sql)).toEqual(['select 1', 'select 2']);
    expect(readHistory(storage, 'res-b').map((e) => e.sql)).toEqual(['select 3']);
  });

  it('finds entries holding every word, and survives a corrupt store', () => {
    const storage = memoryStorage();
    addToHistory(storage, 'r', 'select * from orders where id = 1');
    addToHistory(storage, 'r', 'select * from people');
    expect(searchHistory(readHistory(storage, 'r'), 'ORDERS id').map((e) => e.sql)).toEqual([
      'select * from orders where id = 1',
    ]);
    storage.setItem('witness.console.history.r', '{not json');
    expect(readHistory(storage, 'r')).toEqual([]);
  });
});
