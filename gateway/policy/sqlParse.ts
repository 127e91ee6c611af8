/**
 * PostgreSQL's own parser (libpg_query, PostgreSQL 15's grammar compiled to WebAssembly) as the
 * basis of every policy decision (issue #13). A lexer of our own can read a query differently
 * from the server (`UPDATE U&"…" UESCAPE '!' SET …`, strings whose meaning depends on
 * standard_conforming_strings); the server's grammar cannot.
 *
 * Version 15: the major version the gateway is tested against (test/harness: PostgreSQL 15). A
 * newer target accepts syntax this grammar does not know; where a policy applies such a
 * statement is refused (it does not parse), which is the safe mistake.
 *
 * The grammar is compiled with standard_conforming_strings on (PostgreSQL's default). The
 * session policy keeps it on wherever a policy applies (sessionPolicy.ts, protocolTracker.ts),
 * so this parse is the server's parse.
 *
 * The WebAssembly module is one per process (libpg-query keeps it in module state): the
 * composition root awaits `loadSqlParser()` once at start and passes the parser on.
 */
import { loadModule, parseSync } from 'libpg-query';
import { createParseCache } from './parseCache.ts';

/** One node of the parse tree: `{ TypeName: { …fields } }`, as libpg_query's JSON gives it. */
export type PgNode = Readonly<Record<string, unknown>>;

export interface ParsedStatement {
  /** The statement's node, e.g. `{ DeleteStmt: {…} }`. */
  readonly node: PgNode;
  /** Its source text, as the client wrote it (trimmed). */
  readonly text: string;
}

export type ParsedQuery =
  | { readonly ok: true; readonly statements: readonly ParsedStatement[] }
  /** The parser's message, e.g. `syntax error at or near "selec"`. */
  | { readonly ok: false; readonly error: string };

export interface SqlParser {
  /** Parses one query string (a Query message's text or a Parse's). Never throws. */
  parse(sql: string): ParsedQuery;
}

/**
 * Parse results kept per text: a prepared statement's text (and any query a client repeats)
 * is parsed once more, then not again (parseCache.ts: a text's first parse is not kept, since
 * most one-off texts never come back). Bounded; the oldest entry is forgotten first.
 */
const CACHE_LIMITS = { entries: 2_000, sightings: 8_192, maxText: 4_096 } as const;

export async function loadSqlParser(): Promise<SqlParser> {
  await loadModule();
  return createSqlParser();
}

/** The parser over the already loaded module (see loadSqlParser). */
function createSqlParser(): SqlParser {
  const cache = createParseCache<ParsedQuery>(CACHE_LIMITS);
  return {
    parse(sql) {
      const cached = cache.get(sql);
      if (cached !== undefined) return cached;
      const parsed = parseUncached(sql);
      cache.add(sql, parsed);
      return parsed;
    },
  };
}

interface RawStatement {
  stmt?: PgNode;
  stmt_location?: number;
  stmt_len?: number;
}

/**
 * The largest text parsed. Parsing runs on the proxy's event loop at ~1–3 µs per byte (a
 * 750 KB multi-row INSERT took 2 s on the loaded test machine), so a bigger query would stall
 * every session of the process; it is refused where a policy applies (send data as
 * parameters, or in several statements).
 */
export const MAX_PARSED_BYTES = 256 * 1024;
/**
 * PostgreSQL's scanner takes time quadratic in the nesting depth of block comments (16,000
 * nested `/*` took 0.8 s, 100,000 took minutes), so deeper nesting is refused before parsing.
 */
const MAX_COMMENT_DEPTH = 64;
/** The parser's message is shown to the user and recorded; it quotes the query at the error. */
const MAX_ERROR_LENGTH = 160;

const NO_STATEMENTS: ParsedQuery = Object.freeze({ ok: true, statements: Object.freeze([]) });

function parseUncached(sql: string): ParsedQuery {
  // libpg-query refuses an empty text; PostgreSQL answers it with EmptyQueryResponse.
  if (sql.trim() === '') return NO_STATEMENTS;
  if (sql.length > MAX_PARSED_BYTES || Buffer.byteLength(sql, 'utf8') > MAX_PARSED_BYTES) {
    return Object.freeze({
      ok: false,
      error: `the query is longer than ${MAX_PARSED_BYTES / 1024} KiB, more than the gateway parses`,
    });
  }
  if (commentDepthOver(sql, MAX_COMMENT_DEPTH)) {
    return Object.freeze({
      ok: false,
      error: `block comments are nested more than ${MAX_COMMENT_DEPTH} deep`,
    });
  }
  let tree: { stmts?: RawStatement[] };
  try {
    tree = parseSync(sql) as { stmts?: RawStatement[] };
  } catch (error) {
    // "unterminated quoted string at or near …" quotes the rest of the text: keep it short.
    const message = (error as Error).message;
    return Object.freeze({
      ok: false,
      error: message.length > MAX_ERROR_LENGTH ? `${message.slice(0, MAX_ERROR_LENGTH)}…` : message,
    });
  }
  const raw = tree.stmts ?? [];
  // Locations are byte offsets into the UTF-8 text; for ASCII they are string offsets too.
  const ascii = isAscii(sql);
  const bytes = ascii ? undefined : Buffer.from(sql, 'utf8');
  const statements: ParsedStatement[] = [];
  for (const entry of raw) {
    if (entry.stmt === undefined) continue;
    const start = entry.stmt_location ?? 0;
    const end = entry.stmt_len ? start + entry.stmt_len : undefined;
    const text = bytes
      ? bytes.subarray(start, end ?? bytes.length).toString('utf8')
      : sql.slice(start, end);
    statements.push(Object.freeze({ node: entry.stmt, text: text.trim() }));
  }
  return Object.freeze({ ok: true, statements: Object.freeze(statements) });
}

/**
 * Whether `/*` … `*\/` nest deeper than `limit`, counted over the whole text (strings and
 * quoted identifiers included, so it can only overcount): linear, and enough to keep the
 * scanner's quadratic case out.
 */
function commentDepthOver(text: string, limit: number): boolean {
  const first = text.indexOf('/*');
  if (first === -1) return false;
  let depth = 0;
  for (let i = first; i < text.length - 1; i++) {
    const pair = text.charCodeAt(i) * 256 + text.charCodeAt(i + 1);
    if (pair === SLASH_STAR) {
      if (++depth > limit) return true;
      i++;
    } else if (pair === STAR_SLASH && depth > 0) {
      depth--;
      i++;
    }
  }
  return false;
}
const SLASH_STAR = 0x2f * 256 + 0x2a;
const STAR_SLASH = 0x2a * 256 + 0x2f;

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Visits every node of a tree, depth first. `enter` returns false to skip a node's children
 * (e.g. the statement under a plain EXPLAIN, which only plans it).
 */
export function walkNodes(
  value: unknown,
  enter: (type: string, fields: Readonly<Record<string, unknown>>) => boolean,
): void {
  if (Array.isArray(value)) {
    for (const item of value) walkNodes(item, enter);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  // for…in over plain JSON objects: no entries array per node on the hot path.
  const object = value as Record<string, unknown>;
  for (const key in object) {
    const child = object[key];
    if (child === null || typeof child !== 'object') continue;
    // A node is wrapped in its type name (upper-case first letter); other keys are fields.
    const code = key.charCodeAt(0);
    if (code >= 65 && code <= 90 && !Array.isArray(child)) {
      if (enter(key, child as Record<string, unknown>)) walkNodes(child, enter);
    } else {
      walkNodes(child, enter);
    }
  }
}

/** The value of a string constant node (`{A_Const: {sval: {sval}}}`), else undefined. */
export function stringConstant(node: unknown): string | undefined {
  const constant = (node as { A_Const?: { sval?: { sval?: unknown } } } | null)?.A_Const;
  const value = constant?.sval?.sval;
  return typeof value === 'string' ? value : undefined;
}

/** The last part of a qualified name list (`[{String: {sval}}…]`), lower-cased as written. */
export function lastName(names: unknown): string | undefined {
  if (!Array.isArray(names) || names.length === 0) return undefined;
  const value = (names[names.length - 1] as { String?: { sval?: unknown } }).String?.sval;
  return typeof value === 'string' ? value : undefined;
}
