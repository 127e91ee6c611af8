import { describe, expect, it } from 'vitest';
import { isSelected, selectionBounds, selectionText } from './gridSelection.ts';

describe('grid selection', () => {
  const rows = [
    ['1', 'a', null],
    ['2', 'b', 'x'],
    ['3', 'c', 'y'],
  ];

  it('copies one cell as its value', () => {
    expect(selectionText(rows, { anchor: { row: 1, col: 1 }, focus: { row: 1, col: 1 } })).toBe(
      'b',
    );
  });

  it('copies a rectangle dragged either way as tab-separated lines, NULL as nothing', () => {
    const selection = { anchor: { row: 1, col: 2 }, focus: { row: 0, col: 1 } };
    expect(selectionText(rows, selection)).toBe('a\t\nb\tx');
    const bounds = selectionBounds(selection);
    expect(isSelected(bounds, 0, 2)).toBe(true);
    expect(isSelected(bounds, 2, 2)).toBe(false);
  });
});
