import { describe, expect, it } from 'vitest';
import { filterRows, nextSort, type SortableColumn, sortRows } from './tableView.ts';

interface Row {
  name: string;
  role: string;
  until: number | null;
}
const rows: Row[] = [
  { name: 'web-10', role: 'engineer', until: 30 },
  { name: 'web-2', role: 'admin', until: null },
  { name: 'db', role: 'engineer', until: 10 },
];
const columns: SortableColumn<Row>[] = [
  { id: 'name', value: (r) => r.name },
  { id: 'role', value: (r) => r.role },
  { id: 'until', value: (r) => r.until },
];

describe('settings tables', () => {
  it('filters by every word across columns, ignoring case', () => {
    expect(filterRows(rows, columns, 'WEB engineer').map((r) => r.name)).toEqual(['web-10']);
    expect(filterRows(rows, columns, '  ').length).toBe(3);
    expect(filterRows(rows, columns, 'nobody')).toEqual([]);
  });

  it('sorts text naturally and numbers numerically, empty values last both ways', () => {
    const names = (sort: Parameters<typeof sortRows<Row>>[2]) =>
      sortRows(rows, columns, sort).map((r) => r.name);
    expect(names({ columnId: 'name', direction: 'ascending' })).toEqual(['db', 'web-2', 'web-10']);
    expect(names({ columnId: 'until', direction: 'ascending' })).toEqual(['db', 'web-10', 'web-2']);
    expect(names({ columnId: 'until', direction: 'descending' })).toEqual([
      'web-10',
      'db',
      'web-2',
    ]);
    expect(names(null)).toEqual(['web-10', 'web-2', 'db']);
  });

  it('flips the direction on the same column and starts ascending on another', () => {
    const first = nextSort(null, 'name');
    expect(first).toEqual({ columnId: 'name', direction: 'ascending' });
    expect(nextSort(first, 'name').direction).toBe('descending');
    expect(nextSort(first, 'role')).toEqual({ columnId: 'role', direction: 'ascending' });
  });
});
