import { describe, expect, it } from 'vitest';
import type { GuardrailRule } from '../../shared/api/apiSchemas.ts';
import { compileGuardrails, type Guardrails, type GuardrailVerdict } from './guardrails.ts';
import { loadSqlParser } from './sqlParse.ts';

const parser = await loadSqlParser();

/** Parses as the session policy does; a query that does not parse is refused there. */
function checkSql(checker: Guardrails, sql: string): GuardrailVerdict | 'unparsable' {
  const parsed = parser.parse(sql);
  return parsed.ok ? checker.check(parsed.statements) : 'unparsable';
}

const rules: GuardrailRule[] = [
  { kind: 'statement', name: 'no-ddl', classes: ['drop', 'truncate', 'alter'] },
  {
    kind: 'statement',
    name: 'no-mass-writes',
    classes: ['delete_without_where', 'update_without_where'],
  },
];
const guardrails = compileGuardrails(rules);

function blockedBy(sql: string): string | null {
  const verdict = checkSql(guardrails, sql);
  if (verdict === 'unparsable') return verdict;
  return verdict.blocked ? verdict.rule : null;
}

describe('guardrails: evasion attempts are still caught', () => {
  it.each([
    ['plain', 'DROP TABLE x'],
    ['mixed case', 'dRoP TaBlE x'],
    ['leading block comment', '/* hi */ DROP TABLE x'],
    ['leading line comment', '--c\nDROP TABLE x'],
    ['comment between keywords', 'DROP/**/TABLE x'],
    ['second statement', 'SELECT 1; DROP TABLE x'],
    ['second statement, no space', 'SELECT 1;DROP TABLE x'],
    ['after a string holding a semicolon', "SELECT ';'; DROP TABLE x"],
    ["after a string with '' escapes", "SELECT 'it''s;'; DROP TABLE x"],
    ['after a dollar-quoted body holding a semicolon', 'SELECT $$;$$; DROP TABLE x'],
    ['after a tagged dollar quote holding $$ and ;', 'SELECT $b$ $$; $b$; DROP TABLE x'],
    ['with a quoted identifier holding a semicolon', 'DROP TABLE "x;y"'],
    ['after an identifier ending in $$', 'SELECT 1 AS x$$; DROP TABLE t; --$$'],
    ["after an E'' string with an escaped quote", "SELECT E'\\''; DROP TABLE x; --'"],
    ['after a continued E string', "SELECT E'a'\n'\\''; DROP TABLE x; --'"],
    ['after a nested block comment', 'SELECT 1 /* a /* b */ c */; DROP TABLE x'],
    ['after an operator cut short by a comment', 'SELECT 1 +--;\n2; DROP TABLE x'],
    ['a U&"" identifier with UESCAPE', `DROP TABLE U&"!0078" UESCAPE '!'`],
    ['drop database', 'DROP DATABASE d'],
    ['drop role', 'DROP ROLE r'],
    ['drop owned', 'DROP OWNED BY r'],
    ['alter ... rename', 'ALTER TABLE t RENAME TO u'],
    ['alter system', "ALTER SYSTEM SET work_mem = '1MB'"],
    ['third of three statements', 'SELECT 1; SELECT 2; drop table x'],
    ['truncate', 'TRUNCATE t'],
    ['truncate, lower case, after a comment', '/**/truncate only t'],
    ['alter', 'ALTER TABLE t ADD COLUMN c int'],
    ['alter ... drop column', 'ALTER TABLE t DROP COLUMN c'],
  ])('%s: %j → no-ddl', (_label, sql) => {
    expect(blockedBy(sql)).toBe('no-ddl');
  });

  it.each([
    ['DELETE without WHERE', 'DELETE FROM t'],
    ['lower case with a semicolon', 'delete from t;'],
    ['WHERE only inside a USING subquery', 'DELETE FROM t USING (SELECT 1 WHERE true) s'],
    ['WHERE only inside RETURNING', 'DELETE FROM t RETURNING (SELECT 1 WHERE true)'],
    ['WHERE only inside the CTE before it', 'WITH x AS (SELECT 1 WHERE true) DELETE FROM t'],
    ['data-modifying CTE', 'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d WHERE true'],
    [
      'after WITH RECURSIVE ... CYCLE',
      'WITH RECURSIVE x(n) AS (SELECT 1) CYCLE n SET c USING p DELETE FROM t',
    ],
    ['EXPLAIN ANALYZE runs it', 'EXPLAIN ANALYZE DELETE FROM t'],
    ['EXPLAIN ANALYSE VERBOSE', 'EXPLAIN ANALYSE VERBOSE DELETE FROM t'],
    ['EXPLAIN (ANALYZE)', 'EXPLAIN (ANALYZE) DELETE FROM t'],
    ['EXPLAIN (ANALYZE true, COSTS off)', 'EXPLAIN (ANALYZE true, COSTS off) DELETE FROM t'],
    ['EXPLAIN (FORMAT json, ANALYZE on)', 'EXPLAIN (FORMAT json, ANALYZE on) UPDATE t SET a = 1'],
    [
      'EXPLAIN ("analyze"): a quoted option name is still ANALYZE',
      'EXPLAIN ("analyze") DELETE FROM t',
    ],
    ['PREPARE', 'PREPARE p AS DELETE FROM t'],
    ['PREPARE with parameter types', 'PREPARE p (int) AS UPDATE t SET a = $1'],
    ['COPY (DELETE ... RETURNING)', 'COPY (DELETE FROM t RETURNING *) TO STDOUT'],
    ['rule action', 'CREATE RULE r AS ON INSERT TO a DO ALSO DELETE FROM t'],
    [
      'BEGIN ATOMIC body',
      'CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM t; END',
    ],
    ['UPDATE without WHERE', 'UPDATE t SET a = 1'],
    ['UPDATE ONLY schema.table AS alias', 'UPDATE ONLY public.t AS x SET a = 1'],
    ['UPDATE of a quoted table, WHERE in a subquery', 'UPDATE "t" SET a = (SELECT 1 WHERE true)'],
    ['UPDATE ... SET ... FROM without WHERE', 'UPDATE t SET a = u.a FROM u'],
    [
      'UPDATE ... FROM (subquery with WHERE)',
      'UPDATE t SET a = 1 FROM (SELECT * FROM u WHERE u.x) s',
    ],
    ['UPDATE of a table named set', 'UPDATE set SET a = 1'],
    ['UPDATE in a CTE', 'WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM u WHERE true'],
    ['UPDATE hidden after a string', "SELECT ';'; UPDATE t SET a = 1"],
    ['comments around the verb', '/* x */ DELETE/**/FROM/**/t -- WHERE id = 1'],
    ['UPDATE of a U&"" table with UESCAPE', `UPDATE U&"!0074" UESCAPE '!' SET a = 1`],
    ['WHERE true', 'DELETE FROM t WHERE true'],
    ['WHERE 1=1', 'DELETE FROM t WHERE 1=1'],
    ["WHERE 'a' = 'a'", "UPDATE t SET a = 1 WHERE 'a' = 'a'"],
    ['WHERE a parameter', 'PREPARE p (bool) AS DELETE FROM t WHERE $1'],
    ['WHERE x = x', 'DELETE FROM t WHERE id = id'],
    ['WHERE a restricting OR a constant', 'DELETE FROM t WHERE id = 1 OR true'],
    ['WHERE NOT false', 'UPDATE t SET a = 1 WHERE NOT false'],
    ['WHERE with a subquery naming no row', 'DELETE FROM t WHERE (SELECT true)'],
  ])('%s: %j → no-mass-writes', (_label, sql) => {
    expect(blockedBy(sql)).toBe('no-mass-writes');
  });
});

describe('guardrails: legitimate statements pass', () => {
  it.each([
    "SELECT 'DROP TABLE x'",
    'SELECT $$DROP TABLE x$$',
    'SELECT $q$ DROP TABLE x; $q$',
    "SELECT E'\\'; DROP TABLE x; --'",
    '-- DROP TABLE x\nSELECT 1',
    '/* DROP TABLE x; */ SELECT 1',
    'SELECT "drop" FROM t',
    'SELECT drop, "truncate", alter FROM t',
    'CREATE TABLE drop_log (id int)',
    'SELECT delete FROM t',
    'SELECT a, delete FROM t',
    'SELECT t.delete FROM t',
    'SELECT 1 AS delete FROM t',
    'SELECT update FROM t',
    'DELETE FROM t WHERE id = 1',
    'DELETE FROM t USING u WHERE t.id = u.id',
    'DELETE FROM t WHERE CURRENT OF c',
    'WITH x AS (SELECT 1) DELETE FROM t WHERE id IN (SELECT * FROM x)',
    'WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d',
    'UPDATE t SET a = 1 WHERE id = 1',
    'UPDATE t SET a = u.a FROM u WHERE t.id = u.id',
    'PREPARE p AS DELETE FROM t WHERE id = $1',
    'EXPLAIN DELETE FROM t',
    'EXPLAIN VERBOSE UPDATE t SET a = 1',
    'EXPLAIN (COSTS off, FORMAT json) DELETE FROM t',
    'EXPLAIN (ANALYZE false) DELETE FROM t',
    "EXPLAIN (ANALYZE 'off', COSTS off) DELETE FROM t",
    'EXPLAIN (ANALYZE 0) DELETE FROM t',
    'SELECT * FROM t FOR UPDATE',
    'SELECT * FROM t FOR NO KEY UPDATE OF t NOWAIT',
    'INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = 1',
    'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a WHEN MATCHED THEN DELETE',
    'GRANT UPDATE, DELETE ON t TO bob',
    'CREATE TABLE c (p int REFERENCES t ON DELETE CASCADE ON UPDATE SET NULL)',
    'CREATE TRIGGER tr BEFORE UPDATE OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION f()',
    'LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE',
    'SELECT 1; SELECT 2;',
    '',
    '-- only a comment',
    'DELETE FROM t WHERE id = 1 AND true',
    'DELETE FROM t WHERE deleted_at IS NOT NULL',
    'UPDATE t SET a = 1 WHERE id = $1',
    'DELETE FROM t WHERE id IN (SELECT id FROM u)',
    'SELECT "delete from t", "drop table x" FROM t',
    "SELECT $fn$ DELETE FROM t $fn$, 'UPDATE t SET a = 1'",
    'SELECT 1 /* DROP TABLE x */; -- TRUNCATE t\nSELECT 2',
    "SELECT U&'\\0041' AS a",
  ])('%j', (sql) => {
    expect(checkSql(guardrails, sql)).toEqual({ blocked: false });
  });

  it('keeps DROP rules to DROP statements: ALTER ... DROP COLUMN is the alter class', () => {
    const dropOnly = compileGuardrails([{ kind: 'statement', name: 'no-drop', classes: ['drop'] }]);
    expect(checkSql(dropOnly, 'ALTER TABLE t DROP COLUMN c')).toEqual({ blocked: false });
    expect(checkSql(dropOnly, 'DROP INDEX i')).toMatchObject({ blocked: true });
  });

  it('blocks nothing without rules', () => {
    const none = compileGuardrails([]);
    expect(checkSql(none, 'DROP TABLE x')).toEqual({ blocked: false });
  });

  it('leaves what does not parse to the session policy (which refuses it)', () => {
    for (const sql of [
      "SELECT 'abc",
      'SELECT "abc',
      'SELECT $$abc',
      'SELECT 1 /* abc',
      'selec 1',
    ]) {
      expect(checkSql(guardrails, sql), sql).toBe('unparsable');
    }
    // With standard_conforming_strings on (which the session keeps), `\'` does not close.
    expect(checkSql(guardrails, "SELECT '\\''; DROP TABLE x; --")).toBe('unparsable');
  });
});

describe('guardrails: each class is one table entry', () => {
  const everything = compileGuardrails([
    {
      kind: 'statement',
      name: 'all',
      classes: [
        'merge_modify',
        'copy_from',
        'call',
        'do',
        'create_function',
        'create_trigger',
        'create_rule',
      ],
    },
  ]);
  it.each([
    [
      'MERGE … THEN DELETE',
      'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE',
      'MERGE',
    ],
    [
      'MERGE … THEN UPDATE',
      'MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a',
      'MERGE',
    ],
    ['COPY FROM STDIN', 'COPY t FROM STDIN', 'COPY'],
    ['COPY FROM a program', "COPY t (a) FROM PROGRAM 'cat /etc/passwd'", 'COPY'],
    ['CALL', 'CALL p()', 'CALL'],
    ['DO', "DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$", 'DO'],
    [
      'CREATE FUNCTION (plpgsql)',
      'CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM t; END $$',
      'functions',
    ],
    [
      'CREATE OR REPLACE PROCEDURE',
      'CREATE OR REPLACE PROCEDURE p() LANGUAGE sql AS $$ $$',
      'procedures',
    ],
    [
      'CREATE TRIGGER',
      'CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()',
      'triggers',
    ],
    [
      'CREATE EVENT TRIGGER',
      'CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()',
      'triggers',
    ],
    ['CREATE RULE', 'CREATE RULE r AS ON INSERT TO a DO INSTEAD NOTHING', 'rules'],
    [
      'PREPARE … AS MERGE',
      'PREPARE m AS MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE',
      'MERGE',
    ],
  ])('%s', (_label, sql, said) => {
    expect(checkSql(everything, sql)).toMatchObject({
      blocked: true,
      rule: 'all',
      reason: expect.stringContaining(said),
    });
  });

  it.each([
    'MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id)',
    'COPY t TO STDOUT',
    'COPY (SELECT 1) TO STDOUT',
    'SELECT f()',
    "SELECT 'CALL p()', $$DO $x$ $x$ $$",
    'CREATE TABLE t2 (a int)',
  ])('lets %j through', (sql) => {
    expect(checkSql(everything, sql)).toEqual({ blocked: false });
  });
});

describe('guardrails: verdicts', () => {
  it('names the rule, the statement and a reason a user can act on', () => {
    expect(checkSql(guardrails, 'SELECT 1; /* why */ DELETE FROM t ; SELECT 2')).toEqual({
      blocked: true,
      rule: 'no-mass-writes',
      statement: '/* why */ DELETE FROM t',
      reason: expect.stringMatching(/^DELETE without a WHERE clause.*add a WHERE clause/),
    } satisfies GuardrailVerdict);
    expect(checkSql(guardrails, 'DROP TABLE "x;y"')).toMatchObject({
      statement: 'DROP TABLE "x;y"',
      reason: expect.stringContaining('DROP'),
    });
  });

  it('says when EXPLAIN ANALYZE is what made a statement run', () => {
    expect(checkSql(guardrails, 'EXPLAIN ANALYZE UPDATE t SET a = 1')).toMatchObject({
      blocked: true,
      reason: expect.stringContaining('EXPLAIN ANALYZE'),
    });
  });

  it('reports the first statement that hits, in statement order', () => {
    expect(checkSql(guardrails, 'SELECT 1; UPDATE t SET a = 1; DROP TABLE x')).toMatchObject({
      rule: 'no-mass-writes',
      statement: 'UPDATE t SET a = 1',
    });
  });

  it('checks rules in policy order within a statement', () => {
    const ordered = compileGuardrails([
      { kind: 'regex', name: 'no-accounts', pattern: '\\baccounts\\b' },
      ...rules,
    ]);
    expect(checkSql(ordered, 'DROP TABLE accounts')).toMatchObject({ rule: 'no-accounts' });
  });

  it('gives statement texts with non-ASCII characters whole', () => {
    expect(checkSql(guardrails, "SELECT 'é'; DROP TABLE ü")).toMatchObject({
      statement: 'DROP TABLE ü',
    });
  });
});

function isBlocked(checker: Guardrails, sql: string): boolean {
  const verdict = checkSql(checker, sql);
  return verdict === 'unparsable' || verdict.blocked;
}

describe('guardrails: regex rules', () => {
  const regex = (pattern: string) => compileGuardrails([{ kind: 'regex', name: 'rx', pattern }]);

  it('matches the normalized text, case-insensitively', () => {
    expect(isBlocked(regex('drop table'), 'DROP/* x */\n\tTABLE y')).toBe(true);
    expect(isBlocked(regex('from users'), 'select * FROM   "users"')).toBe(true);
    expect(isBlocked(regex('from public\\.users'), 'SELECT * FROM public . users')).toBe(true);
    expect(isBlocked(regex('\\bpg_shadow\\b'), 'SELECT * FROM PG_SHADOW')).toBe(true);
  });

  it('checks every statement, not the message as a whole', () => {
    // Anchored at the start of a statement, so the second statement must be seen on its own.
    expect(isBlocked(regex('^copy\\b'), "SELECT 1; COPY t TO '/tmp/x'")).toBe(true);
  });

  it('sees literal SQL inside a DO body, but not SQL assembled at run time', () => {
    const dropTable = regex('drop\\s+table');
    expect(isBlocked(dropTable, "DO $$ BEGIN EXECUTE 'DROP  TABLE x'; END $$")).toBe(true);
    expect(isBlocked(dropTable, "DO $$ BEGIN EXECUTE 'DR' || 'OP TABLE x'; END $$")).toBe(false);
  });

  it('does not match comments, but does match string literals', () => {
    expect(isBlocked(regex('secret'), 'SELECT 1 -- secret')).toBe(false);
    expect(isBlocked(regex('secret'), "SELECT 'secret'")).toBe(true);
  });
});

describe('guardrails: cost', () => {
  it('parses and checks a 1 KB query in well under a millisecond', () => {
    const sql = "SELECT a, b, c FROM accounts WHERE id = $1 AND note = 'x;y' ".repeat(17);
    expect(sql.length).toBeGreaterThan(1000);
    // Distinct texts, so each is parsed (the parser keeps results per text).
    for (let i = 0; i < 100; i++) checkSql(guardrails, `${sql} -- warm ${i}`);
    const runs = 500;
    const started = performance.now();
    for (let i = 0; i < runs; i++) checkSql(guardrails, `${sql} -- ${i}`);
    const microseconds = ((performance.now() - started) * 1000) / runs;
    // ~150 µs on a quiet machine; the bound leaves room for a loaded one.
    expect(microseconds).toBeLessThan(3000);
  });

  it('refuses, quickly, what would stall the parser: deep comment nesting, huge texts', () => {
    for (const sql of [
      `SELECT ${'/*'.repeat(100_000)}`,
      `SELECT ${'/*'.repeat(65)} x ${'*/'.repeat(65)} 1`,
      `SELECT ${'/*/'.repeat(100_000)}`,
      `INSERT INTO t VALUES ${"(1, 'x'),".repeat(30_000)}(1, 'x')`,
    ]) {
      const started = performance.now();
      expect(checkSql(guardrails, sql)).toBe('unparsable');
      expect(performance.now() - started).toBeLessThan(200);
    }
    // Shallow nesting and many comments in a row are fine.
    expect(checkSql(guardrails, `SELECT ${'/*'.repeat(60)} x ${'*/'.repeat(60)} 1`)).toEqual({
      blocked: false,
    });
    expect(checkSql(guardrails, `SELECT ${'/* c */'.repeat(5_000)} 1`)).toEqual({
      blocked: false,
    });
  });

  it('stays fast on unterminated and pathological quoting', () => {
    for (const sql of [
      `SELECT ${"'".repeat(200_001)}`,
      `SELECT ${'$a'.repeat(100_000)}`,
      `SELECT ${'$x$ '.repeat(60_000)}`,
      `SELECT ${"E'\\".repeat(80_000)}`,
    ]) {
      const started = performance.now();
      checkSql(guardrails, sql);
      expect(performance.now() - started).toBeLessThan(1500);
    }
  });
});
