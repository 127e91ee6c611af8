import { describe, expect, it } from 'vitest';
import { indexWords } from './indexedText.ts';
import {
  MAX_LITERAL_CHARS,
  MAX_LITERALS,
  LITERAL_PLACEHOLDER as P,
  rebuildStatement,
  statementShape,
} from './statementShape.ts';

/** The words search sees in a text, as a set (the split search uses: indexedText.ts). */
function words(text: string): Set<string> {
  return new Set(indexWords(text));
}

/** The two properties every split keeps (statementShape.ts): same text back, same words. */
function expectAgreement(sql: string): void {
  const split = statementShape(sql);
  if (split === undefined) return;
  expect(rebuildStatement(split.shape, split.literals)).toBe(sql);
  const apart = new Set([...words(split.shape), ...split.literals.flatMap((l) => indexWords(l))]);
  expect(apart).toEqual(words(sql));
}

describe('statementShape', () => {
  it.each([
    [
      'SELECT abalance FROM pgbench_accounts WHERE aid = 12345;',
      `SELECT abalance FROM pgbench_accounts WHERE aid = ${P};`,
      ['12345'],
    ],
    [
      "select * from users where email = 'alice@example.com' and age > 4.5e1",
      `select * from users where email = ${P} and age > ${P}`,
      ["'alice@example.com'", '4.5e1'],
    ],
    ["select 'it''s', E'a\\'b', .5", `select ${P}, E${P}, ${P}`, ["'it''s'", "'a\\'b'", '.5']],
    ['select $$a $b$ c$$, $fn$x$fn$', `select ${P}, ${P}`, ['$$a $b$ c$$', '$fn$x$fn$']],
    [
      'select "col 1" from t1 where x2 = $1 and y = 3 -- note 4\n/* 5 /* 6 */ */',
      `select "col 1" from t1 where x2 = $1 and y = ${P} -- note 4\n/* 5 /* 6 */ */`,
      ['3'],
    ],
  ])('splits %j into its shape and its literals', (sql, shape, literals) => {
    expect(statementShape(sql)).toEqual({ shape, literals });
    expectAgreement(sql);
  });

  it('keeps numbers that are part of a name or a word in the shape', () => {
    // x2, t_1, a$1, 1abc, 12e: no constant a word boundary closes.
    for (const sql of [
      'select x2 from t_1',
      'select a$1',
      'select 1abc',
      'select 12e',
      'select é1',
    ]) {
      expect(statementShape(sql)).toBeUndefined();
    }
  });

  it('gives no shape when in doubt: unterminated text, the placeholder itself, too many literals', () => {
    expect(statementShape("select 'open")).toBeUndefined();
    expect(statementShape('select $$open')).toBeUndefined();
    expect(statementShape('select 1 /* open')).toBeUndefined();
    expect(statementShape('select "open')).toBeUndefined();
    expect(statementShape(`select 1, '${P}'`)).toBeUndefined();
    const many = `select ${Array.from({ length: MAX_LITERALS + 1 }, (_, i) => i).join(', ')}`;
    expect(statementShape(many)).toBeUndefined();
    expect(statementShape('select 1')).toEqual({ shape: `select ${P}`, literals: ['1'] });
  });

  it('leaves long constants in the shape', () => {
    const long = `'${'x'.repeat(MAX_LITERAL_CHARS)}'`;
    expect(statementShape(`insert into t values (${long}, 7)`)).toEqual({
      shape: `insert into t values (${long}, ${P})`,
      literals: ['7'],
    });
  });

  it('rebuilds only a shape and literals that fit together', () => {
    expect(() => rebuildStatement(`a ${P} b ${P}`, ['1'])).toThrow(/2 placeholders .* 1 literals/);
  });

  it('agrees with the search word split on generated texts', () => {
    // Pieces that meet each other in every order: quotes, dollars, digits next to letters,
    // comments, astral and combining characters, escapes.
    const pieces = [
      'select',
      ' ',
      "'",
      "''",
      '"',
      '$',
      '$$',
      '$t$',
      '1',
      '42',
      '.',
      '5e3',
      'e',
      'E',
      'x',
      '_',
      '-',
      '--',
      '\n',
      '/*',
      '*/',
      '\\',
      'é',
      'ﬁ',
      '𝐀',
      '٣',
      '\u0301',
      'a@b.c',
      '(',
      ',',
      '=',
      ';',
      'ß',
      'İ',
    ];
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    let shaped = 0;
    for (let n = 0; n < 5000; n++) {
      let sql = '';
      const length = 1 + (next() % 14);
      for (let k = 0; k < length; k++) sql += pieces[next() % pieces.length];
      expectAgreement(sql);
      if (statementShape(sql) !== undefined) shaped++;
    }
    // The generator must reach the splitting path often, or the check above says little.
    expect(shaped).toBeGreaterThan(500);
  });
});
