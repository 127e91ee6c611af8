/**
 * The settings pages' table: a filter box, headers that sort (aria-sort says how), and an
 * empty state that says what to do — distinct for "nothing yet" and "nothing matches".
 */
import { ChevronDown, ChevronUp } from 'lucide-react';
import { type ReactNode, useMemo, useState } from 'react';
import {
  filterRows,
  nextSort,
  type SortableColumn,
  sortRows,
  type TableSort,
} from './tableView.ts';

export interface Column<Row> extends SortableColumn<Row> {
  header: string;
  /** The cell; the plain value when absent. */
  render?(row: Row): ReactNode;
  /** Headers of action columns do not sort. */
  sortable?: boolean;
  className?: string;
}

export function DataTable<Row>({
  label,
  rows,
  columns,
  rowKey,
  rowLabel,
  empty,
  initialSort = null,
  toolbar,
}: {
  /** The table's accessible name, and the filter box's ("Filter users"). */
  label: string;
  rows: readonly Row[] | null;
  columns: readonly Column<Row>[];
  rowKey(row: Row): string;
  /** A row's accessible name (Playwright finds rows by it). */
  rowLabel?(row: Row): string;
  /** Shown when there are no rows at all: what to do next. */
  empty: ReactNode;
  initialSort?: TableSort | null;
  /** Controls beside the filter (an "Add" button). */
  toolbar?: ReactNode;
}) {
  const [filter, setFilter] = useState('');
  const [sort, setSort] = useState<TableSort | null>(initialSort);
  const visible = useMemo(
    () => sortRows(filterRows(rows ?? [], columns, filter), columns, sort),
    [rows, columns, filter, sort],
  );
  return (
    <div className="data-table">
      <div className="data-table-toolbar">
        <input
          type="search"
          aria-label={`Filter ${label.toLowerCase()}`}
          placeholder="Filter…"
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
          spellCheck={false}
        />
        <span className="spacer" />
        {toolbar}
      </div>
      {rows === null ? (
        <p role="status" className="muted small">
          Loading…
        </p>
      ) : rows.length === 0 ? (
        empty
      ) : (
        <div className="data-table-scroll">
          <table aria-label={label}>
            <thead>
              <tr>
                {columns.map((column) => {
                  const sorted = sort?.columnId === column.id ? sort.direction : undefined;
                  return (
                    <th
                      key={column.id}
                      scope="col"
                      aria-sort={sorted ?? 'none'}
                      className={column.className}
                    >
                      {column.sortable === false ? (
                        column.header
                      ) : (
                        <button
                          type="button"
                          className="sort-button"
                          onClick={() => setSort((current) => nextSort(current, column.id))}
                        >
                          {column.header}
                          <span aria-hidden="true" className="sort-mark">
                            {sorted === 'ascending' ? (
                              <ChevronUp size={14} />
                            ) : sorted === 'descending' ? (
                              <ChevronDown size={14} />
                            ) : null}
                          </span>
                        </button>
                      )}
                    </th>
                  );
                })}
              </tr>
            </thead>
            <tbody>
              {visible.map((row) => (
                <tr key={rowKey(row)} aria-label={rowLabel?.(row)}>
                  {columns.map((column) => (
                    <td key={column.id} className={column.className}>
                      {column.render ? column.render(row) : (column.value(row) ?? '')}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {visible.length === 0 ? (
            <p className="muted small empty-filter">
              Nothing matches “{filter}”.{' '}
              <button type="button" className="link-button" onClick={() => setFilter('')}>
                Clear the filter
              </button>
            </p>
          ) : null}
        </div>
      )}
    </div>
  );
}
