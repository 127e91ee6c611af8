import { describe, expect, it } from 'vitest';
import { createParseCache } from './parseCache.ts';

const limits = { entries: 3, sightings: 128, maxText: 40 };

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

  it('forgets the kept results past its bound, and never keeps long texts', () => {
    const cache = createParseCache<string>(limits);
    for (const text of ['a', 'b', 'c']) {
      cache.add(text, text);
      cache.add(text, text);
    }
    cache.add('last', 'last');
    expect(['a', 'b', 'c'].map((text) => cache.get(text))).toEqual(['a', 'b', 'c']);
    cache.add('d', 'd');
    cache.add('d', 'd'); // a fourth: the three are dropped
    cache.add('last', 'last');
    expect(['a', 'b', 'c', 'd'].map((text) => cache.get(text))).toEqual([
      undefined,
      undefined,
      undefined,
      'd',
    ]);
    cache.add('a', 'a'); // still sighted: kept again at once
    cache.add('filler', 'filler');
    expect(cache.get('a')).toBe('a');
    const long = 'x'.repeat(41);
    cache.add(long, 'long');
    cache.add(long, 'long');
    cache.add('other', 'other');
    expect(cache.get(long)).toBeUndefined();
  });

  it('forgets a first sighting when another text takes its slot', () => {
    const cache = createParseCache<string>({ ...limits, sightings: 1 });
    cache.add('a', 'a');
    cache.add('b', 'b'); // the one slot now holds b
    cache.add('a', 'a'); // a first sighting again
    cache.add('z', 'z');
    expect(cache.get('a')).toBeUndefined();
    cache.add('q', 'q');
    cache.add('q', 'q');
    cache.add('z', 'z');
    expect(cache.get('q')).toBe('q');
  });

  it('takes only a power of two of sighting slots', () => {
    expect(() => createParseCache({ ...limits, sightings: 100 })).toThrow(/power of two/);
  });
});
