/**
 * A PostgreSQL-aware lexer. Policy decisions no longer rest on it (issue #13: they are made on
 * PostgreSQL's own parse, sqlParse.ts); it is kept for one job, the text a regex guardrail
 * reads (a statement the parser already delimited, comments stripped, whitespace collapsed),
 * since the parser gives no token stream.
 *
 * It mirrors src/backend/parser/scan.l (PostgreSQL 15/16) where that changes statement
 * boundaries: `''` and (in E'' strings) backslash escapes, string continuation across a
 * newline, nested block comments, dollar quotes whose tag follows identifier rules, `$` as an
 * identifier character (so `x$$` is a name, not a dollar quote), and comments cutting an
 * operator short. Token boundaries that cannot move a `;` (number forms, operator splitting)
 * are approximated. Pure, no I/O, linear in the input.
 *
 * @see https://www.postgresql.org/docs/current/sql-syntax-lexical.html
 */

export type SqlTokenKind =
  /** An unquoted identifier or keyword. */
  | 'word'
  /** `"..."` or `U&"..."`. */
  | 'quoted_identifier'
  /** `'...'`, `E'...'`, `B'...'`, `X'...'`, `N'...'`, `U&'...'`, with continuations. */
  | 'string'
  /** `$$...$$` or `$tag$...$tag$`. */
  | 'dollar_string'
  | 'number'
  /** `$1`, `$2`, ...: a bind parameter. */
  | 'parameter'
  /** A run of operator characters (`+ - * / < > = ~ ! @ # % ^ & | \` ?`). */
  | 'operator'
  /** `( ) [ ] , . : ::` and any character the server would reject. */
  | 'punctuation';

export interface SqlToken {
  readonly kind: SqlTokenKind;
  /** Offsets into the whole query string: `[start, end)`. */
  readonly start: number;
  readonly end: number;
  readonly text: string;
  /**
   * For words, the text with ASCII letters upper-cased (PostgreSQL folds only ASCII, so a
   * non-ASCII look-alike is never a keyword); '' for every other kind.
   */
  readonly keyword: string;
  /**
   * Parenthesis depth within the statement: 0 at its top level. A `(` and its `)` carry the
   * depth outside them; tokens between them one more.
   */
  readonly depth: number;
  /** Whitespace or a comment separates this token from the one before. */
  readonly spaced: boolean;
}

/** What was still open when the input ended. The server rejects such a query. */
export type UnterminatedKind = 'string' | 'quoted_identifier' | 'dollar_string' | 'block_comment';

export interface SqlStatement {
  /** Offsets into the whole query string of this statement, without its `;`. */
  readonly start: number;
  readonly end: number;
  /** The statement's source text, comments and surrounding whitespace included. */
  readonly text: string;
  /** Every token outside comments, in order. */
  readonly tokens: readonly SqlToken[];
  /** The first (up to three) tokens, upper-cased, while they are words: `['DROP', 'TABLE', 'X']`. */
  readonly keywords: readonly string[];
  /**
   * Comments removed, whitespace runs (and comments) collapsed to one space, no space around
   * `.` in qualified names, a quoted identifier written unquoted when that names the same
   * thing (`"users"` → `users`); string literals and everything else verbatim.
   */
  readonly normalized: string;
  /** Set when a string, quoted identifier, dollar quote or comment runs to the end of input. */
  readonly unterminated: UnterminatedKind | null;
}

export interface SqlLexOptions {
  /**
   * The session's `standard_conforming_strings` (on by default since PostgreSQL 9.1). When
   * off, a backslash escapes the next character in plain `'...'` strings too, which moves
   * where a string ends. The proxy should pass the value the server last reported in
   * ParameterStatus.
   */
  readonly standardConformingStrings?: boolean;
}

const TAB = 9;
const LF = 10;
const VT = 11;
const FF = 12;
const CR = 13;
const SPACE = 32;
const DQUOTE = 34;
const DOLLAR = 36;
const AMPERSAND = 38;
const QUOTE = 39;
const LPAREN = 40;
const RPAREN = 41;
const STAR = 42;
const COMMA = 44;
const DASH = 45;
const DOT = 46;
const SLASH = 47;
const COLON = 58;
const SEMICOLON = 59;
const LBRACKET = 91;
const BACKSLASH = 92;
const RBRACKET = 93;

/** scan.l `space`: [ \t\n\r\f\v]. Not JavaScript's \s: U+00A0 is an identifier byte to PostgreSQL. */
function isSpace(c: number): boolean {
  return c === SPACE || (c >= TAB && c <= CR);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** scan.l `ident_start`: [A-Za-z\200-\377_]; every non-ASCII UTF-16 unit is a high byte in UTF-8. */
function isIdentStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 128;
}

/** scan.l `ident_cont`: ident_start, digits and `$`. */
function isIdentCont(c: number): boolean {
  return isIdentStart(c) || isDigit(c) || c === DOLLAR;
}

/** scan.l `dolq_cont`: like ident_cont but without `$`. */
function isDollarTagChar(c: number): boolean {
  return isIdentStart(c) || isDigit(c);
}

const OPERATOR_CHARS = new Set('~!@#^&|`?+-*/%<>='.split('').map((ch) => ch.charCodeAt(0)));

function isOperatorChar(c: number): boolean {
  return OPERATOR_CHARS.has(c);
}

/** Keywords are ASCII: upper-case ASCII letters only, so `ſ` or `ı` never become keywords. */
function asciiUpper(word: string): string {
  for (let i = 0; i < word.length; i++) {
    if (word.charCodeAt(i) >= 128) return word.replace(/[a-z]+/g, (s) => s.toUpperCase());
  }
  return word.toUpperCase();
}

/** Index of the newline ending a `--` comment that starts before `from`, or the input length. */
function lineEnd(sql: string, from: number): number {
  for (let i = from; i < sql.length; i++) {
    const c = sql.charCodeAt(i);
    if (c === LF || c === CR) return i;
  }
  return sql.length;
}

/** End (exclusive) of the nested block comment opening at `from`, or -1 if unterminated. */
function blockCommentEnd(sql: string, from: number): number {
  let depth = 0;
  let i = from;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    const next = sql.charCodeAt(i + 1);
    if (c === SLASH && next === STAR) {
      depth++;
      i += 2;
    } else if (c === STAR && next === SLASH) {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else {
      i++;
    }
  }
  return -1;
}

/**
 * scan.l `quotecontinue`: after a closing quote, whitespace that includes a newline (and `--`
 * comments) followed by another quote continues the same string, in the same escape mode.
 * Returns the index of that quote, or -1.
 */
function continuationQuote(sql: string, from: number): number {
  let sawNewline = false;
  let i = from;
  while (i < sql.length) {
    const c = sql.charCodeAt(i);
    if (c === SPACE || c === TAB || c === FF) {
      i++;
    } else if (c === LF || c === CR) {
      sawNewline = true;
      i++;
    } else if (c === VT) {
      // \v is `space` but not `horiz_space`: allowed only after the newline.
      if (!sawNewline) return -1;
      i++;
    } else if (c === DASH && sql.charCodeAt(i + 1) === DASH) {
      i = lineEnd(sql, i + 2);
    } else {
      return c === QUOTE && sawNewline ? i : -1;
    }
  }
  return -1;
}

/**
 * End (exclusive) of the single-quoted string whose opening quote is at `quoteAt`, following
 * continuations; -1 if unterminated. `backslashEscapes`: E'' strings, or any plain string
 * when standard_conforming_strings is off.
 */
function stringEnd(sql: string, quoteAt: number, backslashEscapes: boolean): number {
  let i = quoteAt + 1;
  for (;;) {
    while (i < sql.length) {
      const c = sql.charCodeAt(i);
      if (c === BACKSLASH && backslashEscapes) {
        i += 2;
      } else if (c === QUOTE) {
        if (sql.charCodeAt(i + 1) !== QUOTE) break;
        i += 2;
      } else {
        i++;
      }
    }
    if (i >= sql.length) return -1;
    const continued = continuationQuote(sql, i + 1);
    if (continued < 0) return i + 1;
    i = continued + 1;
  }
}

/** End (exclusive) of the quoted identifier opening at `quoteAt`, or -1. */
function quotedIdentifierEnd(sql: string, quoteAt: number): number {
  let i = quoteAt + 1;
  while (i < sql.length) {
    if (sql.charCodeAt(i) === DQUOTE) {
      if (sql.charCodeAt(i + 1) !== DQUOTE) return i + 1;
      i += 2;
    } else {
      i++;
    }
  }
  return -1;
}

/** A quoted identifier that names the same object unquoted: lower-case identifier characters. */
const PLAIN_IDENTIFIER = /^[a-z_][a-z0-9_$]*$/;

function normalizedTokenText(token: SqlToken): string {
  if (token.kind === 'quoted_identifier' && token.text.charCodeAt(0) === DQUOTE) {
    const inner = token.text.slice(1, -1);
    if (PLAIN_IDENTIFIER.test(inner)) return inner;
  }
  return token.text;
}

function normalize(tokens: readonly SqlToken[]): string {
  let out = '';
  let previous: SqlToken | undefined;
  for (const token of tokens) {
    if (previous !== undefined && token.spaced && previous.text !== '.' && token.text !== '.') {
      out += ' ';
    }
    out += normalizedTokenText(token);
    previous = token;
  }
  return out;
}

function leadingKeywords(tokens: readonly SqlToken[]): string[] {
  const words: string[] = [];
  for (const token of tokens) {
    if (token.kind !== 'word' || words.length === 3) break;
    words.push(token.keyword);
  }
  return words;
}

/**
 * Splits a query string into statements at every `;` outside strings, quoted identifiers,
 * dollar quotes and comments. Statements with no tokens (`;;`, a lone comment) are left out
 * unless unterminated.
 *
 * Every `;` splits, even inside parentheses or a `BEGIN ATOMIC ... END` function body, where
 * the server's grammar would keep one statement: a guardrail then sees more statement starts,
 * never fewer.
 */
export function splitStatements(sql: string, options: SqlLexOptions = {}): SqlStatement[] {
  const standardConforming = options.standardConformingStrings ?? true;
  const statements: SqlStatement[] = [];
  const n = sql.length;

  let statementStart = 0;
  let tokens: SqlToken[] = [];
  let depth = 0;
  let spaced = false;
  let unterminated: UnterminatedKind | null = null;

  const push = (kind: SqlTokenKind, start: number, end: number): void => {
    const text = sql.slice(start, end);
    let tokenDepth = depth;
    if (kind === 'punctuation') {
      if (text === '(') depth++;
      else if (text === ')') tokenDepth = --depth;
    }
    tokens.push({
      kind,
      start,
      end,
      text,
      keyword: kind === 'word' ? asciiUpper(text) : '',
      depth: tokenDepth,
      spaced,
    });
    spaced = false;
  };

  const finish = (end: number): void => {
    if (tokens.length > 0 || unterminated !== null) {
      statements.push({
        start: statementStart,
        end,
        text: sql.slice(statementStart, end),
        tokens,
        keywords: leadingKeywords(tokens),
        normalized: normalize(tokens),
        unterminated,
      });
    }
    tokens = [];
    depth = 0;
    spaced = false;
    unterminated = null;
  };

  /** Pushes a quoted token ending at `end` (or running to the end of input if -1). */
  const pushQuoted = (kind: SqlTokenKind, start: number, end: number): number => {
    if (end < 0) {
      unterminated =
        kind === 'quoted_identifier'
          ? 'quoted_identifier'
          : kind === 'dollar_string'
            ? 'dollar_string'
            : 'string';
      push(kind, start, n);
      return n;
    }
    push(kind, start, end);
    return end;
  };

  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    const next = sql.charCodeAt(i + 1);

    if (isSpace(c)) {
      spaced = true;
      i++;
    } else if (c === SEMICOLON) {
      finish(i);
      i++;
      statementStart = i;
    } else if (c === DASH && next === DASH) {
      i = lineEnd(sql, i + 2);
      spaced = true;
    } else if (c === SLASH && next === STAR) {
      const end = blockCommentEnd(sql, i);
      if (end < 0) {
        unterminated = 'block_comment';
        i = n;
      } else {
        i = end;
        spaced = true;
      }
    } else if (c === QUOTE) {
      i = pushQuoted('string', i, stringEnd(sql, i, !standardConforming));
    } else if (c === DQUOTE) {
      i = pushQuoted('quoted_identifier', i, quotedIdentifierEnd(sql, i));
    } else if (isIdentStart(c)) {
      i = lexWordOrPrefixedQuote(i, c, next);
    } else if (isDigit(c) || (c === DOT && isDigit(next))) {
      const end = numberEnd(sql, i);
      push('number', i, end);
      i = end;
    } else if (c === DOLLAR) {
      i = lexDollar(i, next);
    } else if (c === COLON) {
      const end = next === COLON ? i + 2 : i + 1;
      push('punctuation', i, end);
      i = end;
    } else if (
      c === LPAREN ||
      c === RPAREN ||
      c === LBRACKET ||
      c === RBRACKET ||
      c === COMMA ||
      c === DOT
    ) {
      push('punctuation', i, i + 1);
      i++;
    } else if (isOperatorChar(c)) {
      // An operator ends where a comment starts: `+--x` is `+` and a comment (scan.l).
      let end = i + 1;
      while (end < n && isOperatorChar(sql.charCodeAt(end))) {
        const c2 = sql.charCodeAt(end);
        const n2 = sql.charCodeAt(end + 1);
        if ((c2 === DASH && n2 === DASH) || (c2 === SLASH && n2 === STAR)) break;
        end++;
      }
      push('operator', i, end);
      i = end;
    } else {
      push('punctuation', i, i + 1);
      i++;
    }
  }
  finish(n);
  return statements;

  function lexWordOrPrefixedQuote(at: number, c: number, next: number): number {
    // A one-letter prefix glued to a quote starts a string (flex prefers the longer match).
    if (next === QUOTE) {
      if (c === 69 || c === 101) {
        // E'...': backslash escapes always.
        return pushQuoted('string', at, stringEnd(sql, at + 1, true));
      }
      if (c === 66 || c === 98 || c === 88 || c === 120) {
        // B'...' / X'...': bit strings never take backslash escapes.
        return pushQuoted('string', at, stringEnd(sql, at + 1, false));
      }
      if (c === 78 || c === 110) {
        // N'...' is NCHAR followed by an ordinary string literal.
        return pushQuoted('string', at, stringEnd(sql, at + 1, !standardConforming));
      }
    }
    if ((c === 85 || c === 117) && next === AMPERSAND) {
      const third = sql.charCodeAt(at + 2);
      // U&'...' has no backslash escapes at the lexical level (the server refuses it when
      // standard_conforming_strings is off).
      if (third === QUOTE) return pushQuoted('string', at, stringEnd(sql, at + 2, false));
      if (third === DQUOTE)
        return pushQuoted('quoted_identifier', at, quotedIdentifierEnd(sql, at + 2));
    }
    let end = at + 1;
    while (end < n && isIdentCont(sql.charCodeAt(end))) end++;
    push('word', at, end);
    return end;
  }

  function lexDollar(at: number, next: number): number {
    if (isDigit(next)) {
      let end = at + 1;
      while (end < n && (isDigit(sql.charCodeAt(end)) || sql.charCodeAt(end) === 95)) end++;
      push('parameter', at, end);
      return end;
    }
    // A dollar-quote tag starts like an identifier (no digit) and holds no `$`.
    let tagEnd = at + 1;
    if (next !== DOLLAR) {
      if (!isIdentStart(next)) {
        push('punctuation', at, at + 1);
        return at + 1;
      }
      while (tagEnd < n && isDollarTagChar(sql.charCodeAt(tagEnd))) tagEnd++;
      if (sql.charCodeAt(tagEnd) !== DOLLAR) {
        // `$abc` without a closing `$`: the server rejects the `$`.
        push('punctuation', at, at + 1);
        return at + 1;
      }
    }
    const delimiter = sql.slice(at, tagEnd + 1);
    const close = sql.indexOf(delimiter, tagEnd + 1);
    return pushQuoted('dollar_string', at, close < 0 ? -1 : close + delimiter.length);
  }
}

/**
 * End of a numeric literal: digits with `_` separators, 0x/0o/0b integers, a fraction and an
 * exponent. `1..2` stops before the dots (scan.l `decimalfail`).
 */
function numberEnd(sql: string, from: number): number {
  const n = sql.length;
  let i = from;
  const first = sql.charCodeAt(i);
  const second = sql.charCodeAt(i + 1) | 0x20;
  if (first === 48 && (second === 120 || second === 111 || second === 98)) {
    i += 2;
    while (i < n && (isDigit(sql.charCodeAt(i)) || isHexLetterOrUnderscore(sql.charCodeAt(i)))) i++;
    return i;
  }
  while (i < n && (isDigit(sql.charCodeAt(i)) || sql.charCodeAt(i) === 95)) i++;
  if (sql.charCodeAt(i) === DOT && sql.charCodeAt(i + 1) !== DOT) {
    i++;
    while (i < n && (isDigit(sql.charCodeAt(i)) || sql.charCodeAt(i) === 95)) i++;
  }
  const e = sql.charCodeAt(i) | 0x20;
  if (e === 101) {
    let j = i + 1;
    const sign = sql.charCodeAt(j);
    if (sign === 43 || sign === DASH) j++;
    if (isDigit(sql.charCodeAt(j))) {
      i = j;
      while (i < n && isDigit(sql.charCodeAt(i))) i++;
    }
  }
  return i;
}

function isHexLetterOrUnderscore(c: number): boolean {
  const lower = c | 0x20;
  return (lower >= 97 && lower <= 102) || c === 95;
}
