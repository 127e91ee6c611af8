/**
 * A list of rows a person edits in place, each with Remove, and an Add button below: the
 * policy editor's masking rules and guardrails. The rows are positional (the gateway's save
 * issues name a rule by its index, `masking.2.pattern`), so they are keyed by index and the
 * caller's fields read their errors by the index they are given.
 */
import type { ReactNode } from 'react';

export function EditableRows<Row>({
  rows,
  emptyText,
  addLabel,
  newRow,
  onChange,
  renderRow,
}: {
  rows: readonly Row[];
  /** Shown instead of the rows when there are none. */
  emptyText: string;
  addLabel: string;
  /** The row Add appends, given how many there are (for a default name). */
  newRow(count: number): Row;
  onChange(rows: Row[]): void;
  /** The row's fields; `set` replaces this row. */
  renderRow(row: Row, set: (row: Row) => void, index: number): ReactNode;
}) {
  return (
    <>
      {rows.length === 0 ? <p className="settings-muted">{emptyText}</p> : null}
      {rows.map((row, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: rows are positional (the gateway's issues name them by index)
        <div key={i} className="settings-rule">
          {renderRow(row, (next) => onChange(rows.map((r, j) => (j === i ? next : r))), i)}
          <button
            type="button"
            className="button button-danger"
            onClick={() => onChange(rows.filter((_, j) => j !== i))}
          >
            Remove
          </button>
        </div>
      ))}
      <button
        type="button"
        className="button"
        onClick={() => onChange([...rows, newRow(rows.length)])}
      >
        {addLabel}
      </button>
    </>
  );
}
