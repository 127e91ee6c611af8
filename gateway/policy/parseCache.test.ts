import { describe, expect, it } from 'vitest';
import { createParseCache } from './parseCache.ts';

const limits = { entries: 3, sightings: 100, maxText: 40 };

describe('parse cache', () => {
  it('keeps a result only from the second sighting of its text', () => {
    const cache = createParseCache<string>(limits);
    cache.add('SELECT 1', 'one');
    cache.add('SELECT 2', 'two'); // SELECT 1 is no longer the last
    expect(cache.get('SELECT 1')).toBeUndefined();
    cache.add('SELECT 1', 'one again');
    cache.add('SELECT 2', 'two again');
    expect(cache.get('SELECT 1')).toBe('one again');
    expect(cache.get('SELECT 2')).toBe('two again');
  });

  it('always has the last result, even of a text seen once', () => {
    const cache = createParseCache<string>(limits);
    cache.add('SELECT abalance FROM t WHERE aid = 1', 'tree');
    expect(cache.get('SELECT abalance FROM t WHERE aid = 1')).toBe('tree');
    expect(cache.get('SELECT abalance FROM t WHERE aid = 2')).toBeUndefined();
  });

  it('forgets the oldest kept result past its bound, and never keeps long texts', () => {
    const cache = createParseCache<string>(limits);
    for (const text of ['a', 'b', 'c', 'd']) {
      cache.add(text, text);
      cache.add(text, text);
    }
    cache.add('last', 'last');
    expect(cache.get('a')).toBeUndefined();
    expect(['b', 'c', 'd'].map((text) => cache.get(text))).toEqual(['b', 'c', 'd']);
    const long = 'x'.repeat(41);
    cache.add(long, 'long');
    cache.add(long, 'long');
    cache.add('other', 'other');
    expect(cache.get(long)).toBeUndefined();
  });

  it('forgets first sightings past its bound', () => {
    const cache = createParseCache<string>({ ...limits, sightings: 2 });
    cache.add('a', 'a');
    cache.add('b', 'b');
    cache.add('c', 'c'); // 'a' forgotten: {b, c}
    cache.add('a', 'a'); // a first sighting again: {c, a}
    cache.add('a', 'a'); // the second: kept
    cache.add('b', 'b'); // 'b' was forgotten: a first sighting
    cache.add('z', 'z');
    expect(cache.get('a')).toBe('a');
    expect(cache.get('b')).toBeUndefined();
  });
});
