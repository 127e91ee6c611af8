/**
 * Export of one result, as CSV and JSON. The CSV is what `\copy (query) to file with csv header`
 * writes for the same result (PostgreSQL's copyto.c, CSV mode, default options): `,` between
 * values, `"` quotes, `\n` line ends; NULL is nothing at all, the empty string is `""`; a value
 * is quoted when it holds the delimiter, a quote, CR or LF, is empty, or is exactly `\.`
 * (which a reader would take for the end-of-data marker); quotes are doubled inside quotes.
 * Header names are written by the same rule. Values are the server's text, as COPY prints
 * them with the same output functions.
 * @see https://www.postgresql.org/docs/15/sql-copy.html#id-1.9.3.55.9.4
 */
export interface ExportedResult {
  columns: readonly { name: string }[];
  rows: readonly (readonly (string | null)[])[];
}

function csvValue(value: string): string {
  if (value === '' || value === '\\.' || /[",\r\n]/.test(value)) {
    return `"${value.replace(/"/g, '""')}"`;
  }
  return value;
}

export function resultCsv(result: ExportedResult): string {
  const lines = [result.columns.map((c) => csvValue(c.name)).join(',')];
  for (const row of result.rows) {
    lines.push(row.map((v) => (v === null ? '' : csvValue(v))).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** An array of objects keyed by column name (a repeated name gets `_2`, `_3`); values as text. */
export function resultJson(result: ExportedResult): string {
  const seen = new Map<string, number>();
  const keys = result.columns.map((c) => {
    const n = (seen.get(c.name) ?? 0) + 1;
    seen.set(c.name, n);
    return n === 1 ? c.name : `${c.name}_${n}`;
  });
  const objects = result.rows.map((row) =>
    Object.fromEntries(keys.map((key, i) => [key, row[i] ?? null])),
  );
  return `${JSON.stringify(objects, null, 2)}\n`;
}
