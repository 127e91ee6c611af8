import { describe, expect, it } from 'vitest';
import { KnownTextIds } from './knownTextIds.ts';

describe('KnownTextIds', () => {
  it('answers what it was told, and forgets the least recently used beyond its capacity', () => {
    const known = new KnownTextIds(2);
    known.addAll(
      new Map([
        ['a', 1],
        ['b', 2],
      ]),
    );
    expect(known.get('a')).toBe(1);
    known.addAll(new Map([['c', 3]]));
    // 'b' was the coldest: 'a' was read after it was added.
    expect(known.get('b')).toBeUndefined();
    expect(known.get('a')).toBe(1);
    expect(known.get('c')).toBe(3);
  });
});
