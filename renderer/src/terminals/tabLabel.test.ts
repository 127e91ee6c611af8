import { describe, expect, it } from 'vitest';
import { tabLabel } from './tabLabel.ts';

describe('tabLabel', () => {
  it('uses the resource name, then numbers further tabs on it', () => {
    expect(tabLabel([], 'web-1')).toBe('web-1');
    expect(tabLabel(['web-1'], 'web-1')).toBe('web-1 (2)');
    expect(tabLabel(['web-1', 'web-1 (2)'], 'web-1')).toBe('web-1 (3)');
  });

  it('reuses a freed label and never repeats one that is open', () => {
    expect(tabLabel(['web-1 (2)'], 'web-1')).toBe('web-1');
    expect(tabLabel(['web-1', 'web-1 (3)'], 'web-1')).toBe('web-1 (2)');
    expect(tabLabel(['web-1', 'web-1 (2)', 'db'], 'db')).toBe('db (2)');
  });
});
