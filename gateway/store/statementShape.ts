/**
 * A query's shape for the search index: its text with each constant (string, dollar-quoted
 * string, number) replaced by one placeholder character, and the constants themselves, in
 * order. A statement pgbench runs with a new number each time is one shape, stored and
 * full-text indexed once; each occurrence keeps only its constants (DESIGN.md, "Statement
 * shapes", issue #11).
 *
 * For indexing only, never for a security decision (policies use PostgreSQL's own parser,
 * gateway/policy/sqlParse.ts): a text this splitter reads wrongly is still stored whole or
 * split at places that keep its words. Two properties hold for every text it splits, and the
 * tests check them over generated texts:
 * - `rebuildStatement(shape, literals)` is the text again, character for character;
 * - the words of the text (indexedText.ts's split, the one search uses) are exactly the words
 *   of the shape together with the words of the literals. Each literal starts and ends at a
 *   character that is not part of a word (a quote, a `$`, or a number with no letter or digit
 *   on either side), and the placeholder is not a word character either, so cutting never
 *   joins or splits a word.
 * When in doubt (an unterminated string or comment, the placeholder itself in the text, too
 * many or too long constants) there is no shape and the text is stored whole, as before.
 */

/** Stands for one constant in a shape: U+FFFC, a symbol (So), never a word character. */
export const LITERAL_PLACEHOLDER = '\uFFFC';

/** Constants longer than this stay in the shape: a bulk value is one new text anyway. */
export const MAX_LITERAL_CHARS = 128;
/** Texts with more constants than this are not split (a multi-row INSERT is rarely repeated). */
export const MAX_LITERALS = 64;

export interface StatementShape {
  /** The text with each literal replaced by LITERAL_PLACEHOLDER. */
  shape: string;
  /** The literals' source text (quotes and delimiters included), in order. */
  literals: string[];
}

/** A character that may continue an identifier or a word: a number touching it is not a constant. */
const IDENTIFIER_CHAR = /[\p{L}\p{N}_$]/u;

/**
 * The shape of `sql` and its literals, or undefined when it has no literal or cannot be split
 * safely (see the module comment).
 */
export function statementShape(sql: string): StatementShape | undefined {
  if (sql.includes(LITERAL_PLACEHOLDER)) return undefined;
  const literals: string[] = [];
  let shape = '';
  /** Start of the text not yet copied into the shape. */
  let copied = 0;
  const n = sql.length;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    let end = -1;
    if (c === 0x27 /* ' */) {
      end = quotedEnd(sql, i, escapesBefore(sql, i));
      if (end < 0) return undefined;
    } else if (c === 0x22 /* " */) {
      // A quoted identifier: part of the shape; skipped so a quote inside it starts nothing.
      const close = quotedEnd(sql, i, false, 0x22);
      if (close < 0) return undefined;
      i = close;
      continue;
    } else if (c === 0x2d /* - */ && sql.charCodeAt(i + 1) === 0x2d) {
      const newline = sql.indexOf('\n', i);
      i = newline < 0 ? n : newline + 1;
      continue;
    } else if (c === 0x2f /* / */ && sql.charCodeAt(i + 1) === 0x2a /* * */) {
      const close = blockCommentEnd(sql, i);
      if (close < 0) return undefined;
      i = close;
      continue;
    } else if (c === 0x24 /* $ */) {
      if (identifierBefore(sql, i)) {
        i++;
        continue;
      }
      const tag = dollarTag(sql, i);
      if (tag === undefined) {
        // `$1`: a parameter, part of the shape (and of its placeholder-free text).
        i++;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
        continue;
      }
      const close = sql.indexOf(tag, i + tag.length);
      if (close < 0) return undefined;
      end = close + tag.length;
    } else if (
      (isDigit(c) || (c === 0x2e && isDigit(sql.charCodeAt(i + 1)))) &&
      !identifierBefore(sql, i)
    ) {
      end = numberEnd(sql, i);
      // `1abc`, `12e`: not a constant a word boundary closes; left in the shape.
      if (identifierAt(sql, end)) {
        i = end;
        while (i < n && identifierAt(sql, i)) i += codePointLength(sql, i);
        continue;
      }
    } else {
      i++;
      continue;
    }
    if (end - i <= MAX_LITERAL_CHARS) {
      if (literals.length === MAX_LITERALS) return undefined;
      literals.push(sql.slice(i, end));
      shape += sql.slice(copied, i) + LITERAL_PLACEHOLDER;
      copied = end;
    }
    i = end;
  }
  if (literals.length === 0) return undefined;
  return { shape: shape + sql.slice(copied), literals };
}

/** The text a shape and its literals were split from. Throws when they do not fit together. */
export function rebuildStatement(shape: string, literals: readonly string[]): string {
  const parts = shape.split(LITERAL_PLACEHOLDER);
  if (parts.length !== literals.length + 1) {
    throw new Error(
      `a statement shape with ${parts.length - 1} placeholders was stored with ${literals.length} literals`,
    );
  }
  let text = parts[0]!;
  for (let k = 0; k < literals.length; k++) text += literals[k]! + parts[k + 1]!;
  return text;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Whether an identifier or word character ends just before `i` (whole code points). */
function identifierBefore(sql: string, i: number): boolean {
  if (i === 0) return false;
  const low = sql.charCodeAt(i - 1);
  const start = low >= 0xdc00 && low <= 0xdfff && i >= 2 ? i - 2 : i - 1;
  return IDENTIFIER_CHAR.test(sql.slice(start, i));
}

/** Whether an identifier or word character starts at `i`. */
function identifierAt(sql: string, i: number): boolean {
  if (i >= sql.length) return false;
  return IDENTIFIER_CHAR.test(sql.slice(i, i + codePointLength(sql, i)));
}

function codePointLength(sql: string, i: number): number {
  const high = sql.charCodeAt(i);
  return high >= 0xd800 && high <= 0xdbff && i + 1 < sql.length ? 2 : 1;
}

/** A string with an E prefix (`E'…'`, not part of a longer name) reads backslash escapes. */
function escapesBefore(sql: string, quote: number): boolean {
  const prefix = sql.charCodeAt(quote - 1) | 0x20;
  return quote >= 1 && prefix === 0x65 /* e */ && !identifierBefore(sql, quote - 1);
}

/** The index after the quoted text starting at `open` (doubled quotes stay inside), or -1. */
function quotedEnd(sql: string, open: number, backslashEscapes: boolean, quote = 0x27): number {
  for (let i = open + 1; i < sql.length; i++) {
    const c = sql.charCodeAt(i);
    if (backslashEscapes && c === 0x5c) {
      i++;
      continue;
    }
    if (c !== quote) continue;
    if (sql.charCodeAt(i + 1) === quote) {
      i++;
      continue;
    }
    return i + 1;
  }
  return -1;
}

/** The index after a (nested) block comment starting at `open`, or -1 when unterminated. */
function blockCommentEnd(sql: string, open: number): number {
  let depth = 0;
  for (let i = open; i < sql.length - 1; i++) {
    const c = sql.charCodeAt(i);
    const next = sql.charCodeAt(i + 1);
    if (c === 0x2f && next === 0x2a) {
      depth++;
      i++;
    } else if (c === 0x2a && next === 0x2f) {
      depth--;
      i++;
      if (depth === 0) return i + 1;
    }
  }
  return -1;
}

/** `$tag$` or `$$` starting at `i` (a tag is a name without `$`), or undefined. */
function dollarTag(sql: string, i: number): string | undefined {
  const match = /^\$(?:[\p{L}_][\p{L}\p{N}_]*)?\$/u.exec(sql.slice(i, i + 66));
  return match?.[0];
}

/** The index after the number starting at `i`: digits, a fraction, an exponent. */
function numberEnd(sql: string, i: number): number {
  const n = sql.length;
  while (i < n && isDigit(sql.charCodeAt(i))) i++;
  if (sql.charCodeAt(i) === 0x2e && sql.charCodeAt(i + 1) !== 0x2e) {
    i++;
    while (i < n && isDigit(sql.charCodeAt(i))) i++;
  }
  const e = sql.charCodeAt(i) | 0x20;
  if (e === 0x65) {
    let j = i + 1;
    const sign = sql.charCodeAt(j);
    if (sign === 0x2b || sign === 0x2d) j++;
    if (isDigit(sql.charCodeAt(j))) {
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      i = j;
    }
  }
  return i;
}
