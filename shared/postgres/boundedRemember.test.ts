import { expect, it } from 'vitest';
import { remember } from './boundedRemember.ts';

it('keeps the newest entries up to the limit, a re-set key counting as new', () => {
  const map = new Map<string, number>();
  remember(map, 'a', 2, 1);
  remember(map, 'b', 2, 2);
  remember(map, 'a', 2, 3);
  remember(map, 'c', 2, 4);
  expect([...map]).toEqual([
    ['a', 3],
    ['c', 4],
  ]);
});
