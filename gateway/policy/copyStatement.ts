/**
 * What masking must know of a `COPY … TO` statement before its rows come back (issue #13:
 * `COPY customers TO STDOUT` returned every column in clear): where the data goes, in which
 * format, and a query whose Describe gives the COPY's columns (CopyOutResponse names only a
 * count). Read with PostgreSQL's own parser (libpg-query, PostgreSQL 15's grammar), so
 * options, quoting and comments are understood as the server understands them.
 */
import { parseSync } from 'libpg-query';
import type { CopyFormat } from './copyRows.ts';
import type { ParsedQuery } from './sqlParse.ts';

export interface CopyOutStatement {
  /** STDOUT is the client; a file or program is written by the server. */
  readonly target: 'stdout' | 'file' | 'program';
  /** `binary`, or the text/CSV layout of its rows. */
  readonly format: CopyFormat | 'binary';
  /** The ENCODING option, when given (masking reads rows as UTF-8). */
  readonly encoding: string | undefined;
  /**
   * A statement with the COPY's columns as its result (`SELECT "a", "b" FROM "s"."t"`, or the
   * COPY's own query); undefined when it could not be built.
   */
  readonly describeSql: string | undefined;
  /**
   * The first statement of its query string: nothing sent with it runs before it, so it reads
   * the tables and search_path a Describe sent just ahead of the string sees.
   */
  readonly first: boolean;
}

/**
 * The `COPY … TO` statements of a query string, in order; 'unparsed' when PostgreSQL's
 * grammar does not accept the string (the server will refuse it too, or it is not SQL the
 * gateway can judge). `COPY … FROM` is not listed: it sends nothing back.
 */
export function copyOutStatements(parsed: ParsedQuery): CopyOutStatement[] | 'unparsed' {
  // Parsed once, by the session's parser (sqlParse.ts), for the policy check and this alike;
  // the parser module is loaded before any session starts.
  if (!parsed.ok) return 'unparsed';
  const found: CopyOutStatement[] = [];
  for (const [index, statement] of parsed.statements.entries()) {
    const copy = (statement.node as { CopyStmt?: CopyStmt }).CopyStmt;
    if (copy === undefined || copy.is_from === true) continue;
    found.push({
      target: copy.filename === undefined ? 'stdout' : copy.is_program ? 'program' : 'file',
      ...formatOf(copy.options ?? []),
      describeSql: describeSqlOf(copy, statement.text),
      first: index === 0,
    });
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// The parse tree, as far as read here (libpg-query's JSON of PostgreSQL's nodes).

interface CopyStmt {
  relation?: { catalogname?: string; schemaname?: string; relname: string };
  query?: unknown;
  attlist?: { String?: { sval: string } }[];
  is_from?: boolean;
  is_program?: boolean;
  filename?: string;
  options?: { DefElem?: DefElem }[];
}

interface DefElem {
  defname: string;
  arg?: {
    String?: { sval: string };
    Boolean?: { boolval?: boolean };
    Integer?: { ival?: number };
  };
}

function formatOf(options: readonly { DefElem?: DefElem }[]): {
  format: CopyFormat | 'binary';
  encoding: string | undefined;
} {
  const values = new Map<string, DefElem['arg']>();
  for (const option of options) {
    if (option.DefElem) values.set(option.DefElem.defname, option.DefElem.arg);
  }
  const text = (name: string) => values.get(name)?.String?.sval;
  const kind = (text('format') ?? 'text').toLowerCase();
  const encoding = text('encoding');
  if (kind === 'binary') return { format: 'binary', encoding };
  const csv = kind === 'csv';
  const quote = text('quote') ?? '"';
  return {
    format: {
      kind: csv ? 'csv' : 'text',
      delimiter: text('delimiter') ?? (csv ? ',' : '\t'),
      null: text('null') ?? (csv ? '' : '\\N'),
      quote,
      escape: text('escape') ?? quote,
      header: values.has('header') && isTrue(values.get('header')),
    },
    encoding,
  };
}

/** defGetBoolean: no argument, true/on/1, or `match` (COPY FROM only) are true. */
function isTrue(arg: DefElem['arg']): boolean {
  if (arg === undefined) return true;
  if (arg.Boolean !== undefined) return arg.Boolean.boolval === true;
  if (arg.Integer !== undefined) return (arg.Integer.ival ?? 0) !== 0;
  const value = arg.String?.sval.toLowerCase();
  return value === 'true' || value === 'on' || value === 'match';
}

function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function describeSqlOf(copy: CopyStmt, statementText: string): string | undefined {
  if (copy.relation !== undefined) {
    const { catalogname, schemaname, relname } = copy.relation;
    const table = [catalogname, schemaname, relname]
      .filter((part): part is string => part !== undefined)
      .map(quoteIdentifier)
      .join('.');
    const columns = (copy.attlist ?? []).map((column) => column.String?.sval);
    if (columns.some((column) => column === undefined)) return undefined;
    const list = columns.length === 0 ? '*' : columns.map((c) => quoteIdentifier(c!)).join(', ');
    return `SELECT ${list} FROM ${table}`;
  }
  if (copy.query !== undefined) return innerQueryText(copy.query, statementText);
  return undefined;
}

/** Tries at most this many closing parentheses: a failed parse costs ~0.5 ms. */
const MAX_QUERY_END_CANDIDATES = 32;

/**
 * The text of `COPY (query) TO …`'s query. The parse tree keeps no end position, so each `)`
 * after the first `(` is tried as its end until a candidate parses to the same tree.
 */
function innerQueryText(query: unknown, statementText: string): string | undefined {
  const open = statementText.indexOf('(');
  if (open < 0) return undefined;
  const wanted = withoutLocations(query);
  let tries = 0;
  for (let close = statementText.indexOf(')', open); close >= 0; ) {
    if (++tries > MAX_QUERY_END_CANDIDATES) return undefined;
    const candidate = statementText.slice(open + 1, close);
    try {
      const parsed = parseSync(candidate) as { stmts?: { stmt?: unknown }[] };
      if (parsed.stmts?.length === 1 && withoutLocations(parsed.stmts[0]!.stmt) === wanted) {
        return candidate;
      }
    } catch {
      // Not the end of the query yet.
    }
    close = statementText.indexOf(')', close + 1);
  }
  return undefined;
}

function withoutLocations(node: unknown): string {
  return JSON.stringify(node, (key, value) =>
    key === 'location' || key === 'stmt_location' || key === 'stmt_len' ? undefined : value,
  );
}
