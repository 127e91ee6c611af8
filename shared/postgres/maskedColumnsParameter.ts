/**
 * The gateway's report of which columns of a result it masked (issue #15): a ParameterStatus
 * named `witness.masked_columns`, sent just before the RowDescription it applies to, whose
 * value is the masked columns' 0-based indexes, comma-separated. A ParameterStatus may arrive
 * at any time in the protocol and libpq only stores it, so psql and other clients carry on
 * unchanged; the desktop's query console marks those columns.
 * @see https://www.postgresql.org/docs/15/protocol-flow.html#PROTOCOL-ASYNC
 */
export const MASKED_COLUMNS_PARAMETER = 'witness.masked_columns';

export function formatMaskedColumns(indexes: readonly number[]): string {
  return indexes.join(',');
}

/** Indexes named in the value; anything that is not a plain non-negative integer is ignored. */
export function parseMaskedColumns(value: string): Set<number> {
  const out = new Set<number>();
  for (const part of value.split(',')) {
    const index = Number.parseInt(part, 10);
    if (Number.isInteger(index) && index >= 0 && String(index) === part.trim()) out.add(index);
  }
  return out;
}
