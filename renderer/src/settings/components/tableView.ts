/**
 * What a settings table shows: rows filtered by a free-text filter over every column's value,
 * then sorted by one column. Pure, so the rules are tested without a DOM.
 */
export type SortDirection = 'ascending' | 'descending';

export interface TableSort {
  columnId: string;
  direction: SortDirection;
}

export interface SortableColumn<Row> {
  id: string;
  /** The value sorted and filtered by (what the cell says, as plain data). */
  value(row: Row): string | number | null;
}

/** Rows whose columns, together, contain every word of `filter` (case-insensitive). */
export function filterRows<Row>(
  rows: readonly Row[],
  columns: readonly SortableColumn<Row>[],
  filter: string,
): Row[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return [...rows];
  return rows.filter((row) => {
    const text = columns
      .map((c) => c.value(row))
      .filter((v) => v !== null)
      .join(' ')
      .toLowerCase();
    return words.every((word) => text.includes(word));
  });
}

/** Stable sort; empty values (null, '') go last whichever the direction. */
export function sortRows<Row>(
  rows: readonly Row[],
  columns: readonly SortableColumn<Row>[],
  sort: TableSort | null,
): Row[] {
  const column = sort && columns.find((c) => c.id === sort.columnId);
  if (!sort || !column) return [...rows];
  const sign = sort.direction === 'ascending' ? 1 : -1;
  return rows
    .map((row, index) => ({ row, index, value: column.value(row) }))
    .sort((a, b) => {
      const aEmpty = a.value === null || a.value === '';
      const bEmpty = b.value === null || b.value === '';
      if (aEmpty || bEmpty) return aEmpty === bEmpty ? a.index - b.index : aEmpty ? 1 : -1;
      const order =
        typeof a.value === 'number' && typeof b.value === 'number'
          ? a.value - b.value
          : String(a.value).localeCompare(String(b.value), undefined, { numeric: true });
      return order === 0 ? a.index - b.index : sign * order;
    })
    .map((entry) => entry.row);
}

/** Clicking a header: a new column sorts ascending, the same column flips. */
export function nextSort(current: TableSort | null, columnId: string): TableSort {
  if (current?.columnId === columnId) {
    return {
      columnId,
      direction: current.direction === 'ascending' ? 'descending' : 'ascending',
    };
  }
  return { columnId, direction: 'ascending' };
}
