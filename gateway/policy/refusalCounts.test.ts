import { expect, it } from 'vitest';
import { RefusalCounts } from './refusalCounts.ts';

it('counts refusals per resource and rule', () => {
  const counts = new RefusalCounts();
  expect(counts.count('db-a', 'no-drop')).toBe(1);
  expect(counts.count('db-a', 'no-drop')).toBe(2);
  expect(counts.count('db-a', 'lexing_settings')).toBe(1);
  expect(counts.count('db-b', 'no-drop')).toBe(1);
  expect(counts.list()).toEqual([
    { resource: 'db-a', rule: 'no-drop', count: 2 },
    { resource: 'db-a', rule: 'lexing_settings', count: 1 },
    { resource: 'db-b', rule: 'no-drop', count: 1 },
  ]);
});
