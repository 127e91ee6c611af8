/**
 * A result column's starting width, from its name and the first rows that arrived: wide
 * enough for a typical value (an md5, a timestamp with its zone) without letting one long
 * text push the other columns off screen. The user's drag overrides it.
 */
const CHAR_PX = 7.8; // the grid's 13 px monospace
const PADDING_PX = 28;
const MIN_PX = 70;
const MAX_PX = 420;
/** Rows looked at: the first batch is enough to know a column's shape. */
const SAMPLE_ROWS = 50;

export function columnWidths(
  columns: readonly { name: string }[],
  rows: readonly (readonly (string | null)[])[],
): number[] {
  const sample = rows.slice(0, SAMPLE_ROWS);
  return columns.map((column, index) => {
    let chars = column.name.length + 2; // room for the masked marker and the resize handle
    for (const row of sample) {
      const value = row[index];
      const length = value === null || value === undefined ? 4 : firstLineLength(value);
      if (length > chars) chars = length;
    }
    return Math.round(Math.min(MAX_PX, Math.max(MIN_PX, chars * CHAR_PX + PADDING_PX)));
  });
}

function firstLineLength(value: string): number {
  const newline = value.indexOf('\n');
  return newline === -1 ? value.length : newline;
}
