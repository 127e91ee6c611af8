/**
 * The grid's selection: a rectangle from an anchor cell to a focus cell (click, then
 * shift-click), copied as tab-separated lines the way spreadsheets paste them. NULL copies as
 * nothing, like psql's unaligned output with its default null display.
 */
export interface CellRef {
  row: number;
  col: number;
}

export interface GridSelection {
  anchor: CellRef;
  focus: CellRef;
}

export interface SelectionBounds {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

export function selectionBounds(selection: GridSelection): SelectionBounds {
  return {
    top: Math.min(selection.anchor.row, selection.focus.row),
    bottom: Math.max(selection.anchor.row, selection.focus.row),
    left: Math.min(selection.anchor.col, selection.focus.col),
    right: Math.max(selection.anchor.col, selection.focus.col),
  };
}

export function isSelected(bounds: SelectionBounds | null, row: number, col: number): boolean {
  return (
    bounds !== null &&
    row >= bounds.top &&
    row <= bounds.bottom &&
    col >= bounds.left &&
    col <= bounds.right
  );
}

export function selectionText(
  rows: readonly (readonly (string | null)[])[],
  selection: GridSelection,
): string {
  const b = selectionBounds(selection);
  const lines: string[] = [];
  for (let r = b.top; r <= b.bottom; r++) {
    const row = rows[r];
    if (!row) continue;
    const cells: string[] = [];
    for (let c = b.left; c <= b.right; c++) cells.push(row[c] ?? '');
    lines.push(cells.join('\t'));
  }
  return lines.join('\n');
}
