import { describe, expect, it } from 'vitest';
import { type SqlStatement, splitStatements } from './sqlLexer.ts';

const texts = (sql: string, options?: { standardConformingStrings?: boolean }) =>
  splitStatements(sql, options).map((statement) => statement.text.trim());

const only = (sql: string): SqlStatement => {
  const statements = splitStatements(sql);
  expect(statements).toHaveLength(1);
  return statements[0]!;
};

describe('splitStatements: where statements end', () => {
  it('splits at semicolons and leaves out empty statements', () => {
    expect(texts('SELECT 1; SELECT 2;;  ;')).toEqual(['SELECT 1', 'SELECT 2']);
    expect(texts('SELECT 1;SELECT 2')).toEqual(['SELECT 1', 'SELECT 2']);
    expect(texts('')).toEqual([]);
    expect(texts('-- only a comment')).toEqual([]);
  });

  it('records spans into the original text', () => {
    const [first, second] = splitStatements('SELECT 1; DROP TABLE x');
    expect([first!.start, first!.end]).toEqual([0, 8]);
    expect([second!.start, second!.end]).toEqual([9, 22]);
    expect(second!.text).toBe(' DROP TABLE x');
  });

  it("keeps a ';' inside a string with '' escapes", () => {
    expect(texts("SELECT 'a;''b'';c'; SELECT 2")).toEqual(["SELECT 'a;''b'';c'", 'SELECT 2']);
  });

  it("treats a backslash as ordinary in '' strings (standard_conforming_strings on)", () => {
    expect(texts("SELECT 'a\\'; DROP'; SELECT 2")).toEqual(["SELECT 'a\\'", "DROP'; SELECT 2"]);
  });

  it('lets a backslash escape in plain strings when standard_conforming_strings is off', () => {
    expect(texts("SELECT 'a\\'; DROP'; SELECT 2", { standardConformingStrings: false })).toEqual([
      "SELECT 'a\\'; DROP'",
      'SELECT 2',
    ]);
  });

  it("lets a backslash escape in E'' strings", () => {
    expect(texts("SELECT E'a\\';b'; SELECT 2")).toEqual(["SELECT E'a\\';b'", 'SELECT 2']);
    expect(texts("SELECT e'\\\\'; SELECT 2")).toEqual(["SELECT e'\\\\'", 'SELECT 2']);
  });

  it('starts an E string only when the E is the whole token', () => {
    // `abe` is an identifier; the string after it is a standard one, closed by the 2nd quote.
    expect(texts("SELECT abe'\\'; SELECT 2")).toEqual(["SELECT abe'\\'", 'SELECT 2']);
  });

  it('continues a string across a newline, in the same escape mode (scan.l quotecontinue)', () => {
    const statements = splitStatements("SELECT E'a'\n  -- c\n'\\''; SELECT 2");
    expect(statements.map((s) => s.text.trim())).toEqual([
      "SELECT E'a'\n  -- c\n'\\''",
      'SELECT 2',
    ]);
    expect(statements[0]!.tokens.map((t) => t.kind)).toEqual(['word', 'string']);
    // Without a newline two literals are two tokens (and a syntax error on the server).
    expect(only("SELECT 'a' 'b'").tokens.map((t) => t.kind)).toEqual(['word', 'string', 'string']);
    // A block comment is not allowed in a continuation.
    expect(only("SELECT 'a'\n/* c */ 'b'").tokens).toHaveLength(3);
  });

  it("lexes B'', X'', N'' and U&'' strings and U&\"\" identifiers", () => {
    expect(texts("SELECT B'1;0', X'F;F', N'n;', U&'\\0041;'; SELECT 2")).toEqual([
      "SELECT B'1;0', X'F;F', N'n;', U&'\\0041;'",
      'SELECT 2',
    ]);
    const statement = only('SELECT U&"a;b" FROM t');
    expect(statement.tokens[1]).toMatchObject({ kind: 'quoted_identifier', text: 'U&"a;b"' });
  });

  it('keeps a \';\' inside double-quoted identifiers with "" escapes', () => {
    expect(texts('SELECT "a;""b" FROM t; SELECT 2')).toEqual(['SELECT "a;""b" FROM t', 'SELECT 2']);
  });

  it('keeps dollar-quoted bodies whole, with and without tags', () => {
    expect(texts('SELECT $$a;b$$; SELECT $tag$ $$; $tag$; SELECT $a1$;$a1$; SELECT 4')).toEqual([
      'SELECT $$a;b$$',
      'SELECT $tag$ $$; $tag$',
      'SELECT $a1$;$a1$',
      'SELECT 4',
    ]);
  });

  it('reads $1 as a parameter, not a dollar quote', () => {
    const statements = splitStatements('SELECT $1; SELECT $2 + 1');
    expect(statements).toHaveLength(2);
    expect(statements[0]!.tokens[1]).toMatchObject({ kind: 'parameter', text: '$1' });
  });

  it('reads $ inside an identifier as part of it, as the server does (x$$ is a name)', () => {
    const statements = splitStatements('SELECT 1 AS x$$; SELECT 2 AS y $$');
    expect(statements).toHaveLength(2);
    expect(statements[0]!.tokens.at(-1)).toMatchObject({ kind: 'word', text: 'x$$' });
    expect(statements[1]!.unterminated).toBe('dollar_string');
  });

  it('ignores line comments and nested block comments', () => {
    expect(texts('-- a; b\nSELECT 1; /* x /* y; */ still; */ SELECT 2')).toEqual([
      '-- a; b\nSELECT 1',
      '/* x /* y; */ still; */ SELECT 2',
    ]);
    expect(splitStatements('-- DROP TABLE x\nSELECT 1')[0]!.keywords).toEqual(['SELECT']);
  });

  it('ends an operator where a comment starts', () => {
    const statement = only('SELECT 1 +-- c; DROP\n2');
    expect(statement.tokens.map((t) => t.text)).toEqual(['SELECT', '1', '+', '2']);
  });

  it('lexes numbers, casts and operators', () => {
    const statement = only("SELECT 1.5e3, .5, 0x1F, 1_000, a::text || 'x', b[1:2], 1..2");
    const kinds = statement.tokens.map((t) => `${t.kind}:${t.text}`);
    expect(kinds).toContain('number:1.5e3');
    expect(kinds).toContain('number:.5');
    expect(kinds).toContain('number:0x1F');
    expect(kinds).toContain('number:1_000');
    expect(kinds).toContain('punctuation:::');
    expect(kinds).toContain('operator:||');
    expect(kinds).toContain('punctuation::');
    // `1..2` is 1, '.', .2 (scan.l decimalfail backs off before the dots).
    expect(kinds.slice(-3)).toEqual(['number:1', 'punctuation:.', 'number:.2']);
  });
});

describe('splitStatements: unterminated input', () => {
  it.each([
    ["SELECT 'abc", 'string'],
    ["SELECT E'abc\\'", 'string'],
    ['SELECT "abc', 'quoted_identifier'],
    ['SELECT $$abc', 'dollar_string'],
    ['SELECT $t$abc $$', 'dollar_string'],
    ['SELECT 1 /* a /* b */', 'block_comment'],
  ])('%j runs to the end and is flagged %s', (sql, kind) => {
    const statements = splitStatements(`SELECT 0; ${sql}; DROP TABLE x`);
    expect(statements).toHaveLength(2);
    expect(statements[0]!.unterminated).toBeNull();
    expect(statements[1]!.unterminated).toBe(kind);
    expect(statements[1]!.end).toBe(`SELECT 0; ${sql}; DROP TABLE x`.length);
  });

  it('keeps a statement that is only an unterminated comment', () => {
    const statements = splitStatements('SELECT 1; /* DROP TABLE x; ');
    expect(statements).toHaveLength(2);
    expect(statements[1]).toMatchObject({ unterminated: 'block_comment', tokens: [] });
  });
});

describe('splitStatements: tokens and keywords', () => {
  it('upper-cases words as keywords, ASCII only', () => {
    expect(only('dRoP TaBlE x').keywords).toEqual(['DROP', 'TABLE', 'X']);
    // U+017F would upper-case to S in JavaScript; PostgreSQL does not fold it.
    expect(only('ſelect 1').keywords).toEqual(['ſELECT']);
    expect(only('SELECT "drop"').keywords).toEqual(['SELECT']);
  });

  it('does not treat a no-break space as whitespace (it is an identifier byte to PostgreSQL)', () => {
    expect(only('DROP\u00a0TABLE x').tokens[0]!.text).toBe('DROP\u00a0TABLE');
  });

  it('records parenthesis depth, parentheses carrying the outer depth', () => {
    const statement = only('DELETE FROM t USING (SELECT 1 WHERE (true)) s');
    const depths = Object.fromEntries(statement.tokens.map((t, i) => [`${i}:${t.text}`, t.depth]));
    expect(depths).toMatchObject({
      '0:DELETE': 0,
      '4:(': 0,
      '5:SELECT': 1,
      '7:WHERE': 1,
      '8:(': 1,
      '9:true': 2,
      '10:)': 1,
      '11:)': 0,
      '12:s': 0,
    });
  });

  it('marks tokens separated by whitespace or comments', () => {
    const statement = only('DROP/**/TABLE x.y');
    expect(statement.tokens.map((t) => t.spaced)).toEqual([false, true, true, false, false]);
  });
});

describe('splitStatements: normalized text', () => {
  it('drops comments, collapses whitespace, keeps literals verbatim', () => {
    expect(
      only('SELECT  /* c */ a,\n\t"b" FROM  "Users" -- x\n WHERE s = \'two  spaces\'').normalized,
    ).toBe(`SELECT a, b FROM "Users" WHERE s = 'two  spaces'`);
  });

  it('turns a comment between tokens into a space', () => {
    expect(only('DROP/**/TABLE/* x */x').normalized).toBe('DROP TABLE x');
  });

  it('writes qualified names without spaces and unquotes identifiers that need no quotes', () => {
    expect(only('SELECT * FROM "public" . "users"').normalized).toBe('SELECT * FROM public.users');
    expect(only('SELECT * FROM "Users", "a b", "x""y"').normalized).toBe(
      'SELECT * FROM "Users", "a b", "x""y"',
    );
  });

  it('starts at the first token', () => {
    expect(only('  /* c */ -- d\n do $$ x $$').normalized).toBe('do $$ x $$');
  });
});
