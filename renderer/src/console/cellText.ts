/**
 * How the result grid shows one value. Values arrive as the server's text (the simple protocol
 * answers in text), so timestamps keep the zone the server printed and bytea is the server's hex
 * (`\x…`); only json and jsonb are re-laid out, for the value inspector.
 */

/** PostgreSQL type OIDs the grid treats specially (pg_type.dat). */
export const TYPE_OIDS = {
  bool: 16,
  bytea: 17,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  json: 114,
  float4: 700,
  float8: 701,
  varchar: 1043,
  date: 1082,
  time: 1083,
  timestamp: 1114,
  timestamptz: 1184,
  timetz: 1266,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

const NUMERIC = new Set<number>([
  TYPE_OIDS.int2,
  TYPE_OIDS.int4,
  TYPE_OIDS.int8,
  TYPE_OIDS.float4,
  TYPE_OIDS.float8,
  TYPE_OIDS.numeric,
]);

export type CellKind = 'null' | 'empty' | 'number' | 'json' | 'bytea' | 'time' | 'text';

export function cellKind(value: string | null, typeOid: number): CellKind {
  if (value === null) return 'null';
  if (value === '') return 'empty';
  if (NUMERIC.has(typeOid)) return 'number';
  if (typeOid === TYPE_OIDS.json || typeOid === TYPE_OIDS.jsonb) return 'json';
  if (typeOid === TYPE_OIDS.bytea) return 'bytea';
  if (
    typeOid === TYPE_OIDS.timestamp ||
    typeOid === TYPE_OIDS.timestamptz ||
    typeOid === TYPE_OIDS.date ||
    typeOid === TYPE_OIDS.time ||
    typeOid === TYPE_OIDS.timetz
  ) {
    return 'time';
  }
  return 'text';
}

/** One line for the grid: newlines shown as ↵ so a row stays one line high. */
export function cellLine(value: string | null): string {
  if (value === null) return 'NULL';
  return value.length > 500
    ? `${value.slice(0, 500).replace(/\r?\n/g, '↵')}…`
    : value.replace(/\r?\n/g, '↵');
}

/** The full value for the inspector: json and jsonb pretty-printed, anything else as sent. */
export function inspectedValue(value: string | null, typeOid: number): string {
  if (value === null) return 'NULL';
  if (typeOid === TYPE_OIDS.json || typeOid === TYPE_OIDS.jsonb) {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return value;
}
