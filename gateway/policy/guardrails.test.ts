import { describe, expect, it } from 'vitest';
import type { GuardrailRule } from '../../shared/api/apiSchemas.ts';
import { compileGuardrails, type GuardrailVerdict } from './guardrails.ts';

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
  const verdict = guardrails.checkStatements(sql);
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
  ])('%j', (sql) => {
    expect(guardrails.checkStatements(sql)).toEqual({ blocked: false });
  });

  it('keeps DROP rules to DROP statements: ALTER ... DROP COLUMN is the alter class', () => {
    const dropOnly = compileGuardrails([{ kind: 'statement', name: 'no-drop', classes: ['drop'] }]);
    expect(dropOnly.checkStatements('ALTER TABLE t DROP COLUMN c')).toEqual({ blocked: false });
    expect(dropOnly.checkStatements('DROP INDEX i').blocked).toBe(true);
  });

  it('blocks nothing without rules, not even unterminated input', () => {
    const none = compileGuardrails([]);
    expect(none.checkStatements('DROP TABLE x')).toEqual({ blocked: false });
    expect(none.checkStatements("SELECT 'abc")).toEqual({ blocked: false });
  });
});

describe('guardrails: what a lexer cannot see', () => {
  it('does not see dynamic SQL inside DO blocks or function bodies (documented limit)', () => {
    expect(blockedBy("DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$")).toBeNull();
    expect(
      blockedBy(
        'CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN DELETE FROM t; END $$',
      ),
    ).toBeNull();
  });

  it('lets a regex rule block DO blocks outright', () => {
    const noDo = compileGuardrails([{ kind: 'regex', name: 'no-do', pattern: '^do\\b' }]);
    expect(
      noDo.checkStatements("/* x */ DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$"),
    ).toMatchObject({
      blocked: true,
      rule: 'no-do',
    });
    expect(noDo.checkStatements('SELECT done FROM t')).toEqual({ blocked: false });
  });
});

describe('guardrails: verdicts', () => {
  it('names the rule, the statement and a reason a user can act on', () => {
    expect(guardrails.checkStatements('SELECT 1; /* why */ DELETE FROM t ; SELECT 2')).toEqual({
      blocked: true,
      rule: 'no-mass-writes',
      statement: '/* why */ DELETE FROM t',
      reason: expect.stringMatching(/^DELETE without a WHERE clause.*add a WHERE clause/),
    } satisfies GuardrailVerdict);
    expect(guardrails.checkStatements('DROP TABLE "x;y"')).toMatchObject({
      statement: 'DROP TABLE "x;y"',
      reason: expect.stringContaining('DROP'),
    });
  });

  it('says when EXPLAIN ANALYZE is what made a statement run', () => {
    const verdict = guardrails.checkStatements('EXPLAIN ANALYZE UPDATE t SET a = 1');
    expect(verdict).toMatchObject({
      blocked: true,
      reason: expect.stringContaining('EXPLAIN ANALYZE'),
    });
  });

  it('reports the first statement that hits, in statement order', () => {
    expect(guardrails.checkStatements('SELECT 1; UPDATE t SET a = 1; DROP TABLE x')).toMatchObject({
      rule: 'no-mass-writes',
      statement: 'UPDATE t SET a = 1',
    });
  });

  it('checks rules in policy order within a statement', () => {
    const ordered = compileGuardrails([
      { kind: 'regex', name: 'no-accounts', pattern: '\\baccounts\\b' },
      ...rules,
    ]);
    expect(ordered.checkStatements('DROP TABLE accounts')).toMatchObject({ rule: 'no-accounts' });
  });

  it('refuses unterminated input when any rule exists, naming the first rule', () => {
    for (const sql of ["SELECT 'abc", 'SELECT "abc', 'SELECT $$abc', 'SELECT 1 /* abc']) {
      expect(guardrails.checkStatements(sql)).toMatchObject({
        blocked: true,
        rule: 'no-ddl',
        reason: expect.stringContaining('cannot tell which statements'),
      });
    }
  });

  it('follows standard_conforming_strings: off, a backslash ends what "on" reads as open', () => {
    // With it on, the string never closes; with it off, `\'` is a quote and DROP is a statement.
    const sql = "SELECT '\\''; DROP TABLE x; --";
    expect(guardrails.checkStatements(sql)).toMatchObject({ blocked: true, rule: 'no-ddl' });
    expect(guardrails.checkStatements(sql)).toMatchObject({
      reason: expect.stringContaining('quoted string'),
    });
    expect(guardrails.checkStatements(sql, { standardConformingStrings: false })).toMatchObject({
      blocked: true,
      rule: 'no-ddl',
      statement: 'DROP TABLE x',
    });
  });
});

describe('guardrails: regex rules', () => {
  const regex = (pattern: string) => compileGuardrails([{ kind: 'regex', name: 'rx', pattern }]);

  it('matches the normalized text, case-insensitively', () => {
    expect(regex('drop table').checkStatements('DROP/* x */\n\tTABLE y').blocked).toBe(true);
    expect(regex('from users').checkStatements('select * FROM   "users"').blocked).toBe(true);
    expect(
      regex('from public\\.users').checkStatements('SELECT * FROM public . users').blocked,
    ).toBe(true);
    expect(regex('\\bpg_shadow\\b').checkStatements('SELECT * FROM PG_SHADOW').blocked).toBe(true);
  });

  it('checks every statement, not the message as a whole', () => {
    // Anchored at the start of a statement, so the second statement must be seen on its own.
    expect(regex('^copy\\b').checkStatements("SELECT 1; COPY t TO '/tmp/x'").blocked).toBe(true);
  });

  it('sees literal SQL inside a DO body, but not SQL assembled at run time', () => {
    const dropTable = regex('drop\\s+table');
    expect(dropTable.checkStatements("DO $$ BEGIN EXECUTE 'DROP  TABLE x'; END $$").blocked).toBe(
      true,
    );
    expect(
      dropTable.checkStatements("DO $$ BEGIN EXECUTE 'DR' || 'OP TABLE x'; END $$").blocked,
    ).toBe(false);
  });

  it('does not match comments, but does match string literals', () => {
    expect(regex('secret').checkStatements('SELECT 1 -- secret').blocked).toBe(false);
    expect(regex('secret').checkStatements("SELECT 'secret'").blocked).toBe(true);
  });
});

describe('guardrails: cost', () => {
  it('checks a 1 KB query in microseconds', () => {
    const sql = "SELECT a, b, c FROM accounts WHERE id = $1 AND note = 'x;y' ".repeat(17);
    expect(sql.length).toBeGreaterThan(1000);
    for (let i = 0; i < 200; i++) guardrails.checkStatements(sql); // warm up
    const runs = 2000;
    const started = performance.now();
    for (let i = 0; i < runs; i++) guardrails.checkStatements(sql);
    const microseconds = ((performance.now() - started) * 1000) / runs;
    // Typically ~20 µs; the bound leaves room for a loaded machine.
    expect(microseconds).toBeLessThan(500);
  });

  it('stays linear on a query stuffed with statement verbs', () => {
    const sql = `${'DELETE FROM '.repeat(50_000)}WHERE true`;
    const started = performance.now();
    expect(guardrails.checkStatements(sql).blocked).toBe(false);
    // A quadratic scan takes many seconds here.
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('stays linear on unterminated and pathological quoting', () => {
    for (const sql of [
      `SELECT ${"'".repeat(200_001)}`,
      `SELECT ${'$a'.repeat(100_000)}`,
      `SELECT ${'/*'.repeat(100_000)}`,
      `SELECT ${'$x$ '.repeat(100_000)}`,
      `SELECT ${"E'\\".repeat(100_000)}`,
    ]) {
      const started = performance.now();
      guardrails.checkStatements(sql);
      expect(performance.now() - started).toBeLessThan(1500);
    }
  });
});
