/**
 * What the console's completion knows: schemas, tables and columns, read through the console's
 * own gateway session (so the reading is recorded like everything else the console runs).
 * information_schema.columns lists only what the session's role may see, which is what it can
 * query; system schemas are left out (pg_catalog names would drown the user's own).
 */
import type { ConsoleSchemaCatalog } from '../../ipc/contract.ts';

export const CATALOG_SQL = `select table_schema as s, table_name as t, column_name as c
  from information_schema.columns
 where table_schema not in ('pg_catalog', 'information_schema')
 order by table_schema, table_name, ordinal_position
 limit 20000`;

export interface CatalogRow {
  s: string;
  t: string;
  c: string;
}

/** Groups rows (ordered by schema, table, position) into schemas → tables → columns. */
export function groupCatalog(rows: readonly CatalogRow[]): ConsoleSchemaCatalog {
  const schemas = new Map<string, Map<string, string[]>>();
  for (const { s, t, c } of rows) {
    const tables = schemas.get(s) ?? new Map<string, string[]>();
    schemas.set(s, tables);
    const columns = tables.get(t) ?? [];
    tables.set(t, columns);
    columns.push(c);
  }
  return {
    schemas: [...schemas].map(([name, tables]) => ({
      name,
      tables: [...tables].map(([table, columns]) => ({ name: table, columns })),
    })),
  };
}
