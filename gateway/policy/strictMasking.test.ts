import { beforeAll, describe, expect, it } from 'vitest';
import { loadSqlParser, type SqlParser } from './sqlParse.ts';
import {
  compileStrictMasking,
  STRICT_FUNCTIONS_RULE,
  STRICT_LINEAGE_RULE,
  type StrictMasking,
} from './strictMasking.ts';

let parser: SqlParser;
let strict: StrictMasking;

beforeAll(async () => {
  parser = await loadSqlParser();
  strict = compileStrictMasking(
    [
      { name: 'ssn-column', pattern: '^ssn$' },
      { name: 'email-column', pattern: '^e?mail' },
    ],
    ['app.safe_fn', 'report_total'],
  );
});

function check(sql: string) {
  const parsed = parser.parse(sql);
  if (!parsed.ok) throw new Error(parsed.error);
  return strict.check(parsed.statements);
}

/** [sql, the rule it is refused under, a part of the reason] */
const REFUSED: [string, string, string][] = [
  ['SELECT ssn AS x FROM customers', 'ssn-column', 'renamed to "x"'],
  ['SELECT upper(ssn) FROM customers', 'ssn-column', 'an argument of upper()'],
  ['SELECT substr(ssn, 1, 3) FROM customers c', 'ssn-column', 'an argument of substr()'],
  ['SELECT left(c.ssn, 5) FROM customers c', 'ssn-column', 'an argument of left()'],
  ['SELECT ssn::int FROM customers', 'ssn-column', 'a cast'],
  ["SELECT ssn || '' FROM customers", 'ssn-column', 'an expression'],
  ["SELECT id FROM customers WHERE ssn LIKE '123-4%'", 'ssn-column', 'WHERE'],
  ['SELECT id FROM customers ORDER BY ssn', 'ssn-column', 'ORDER BY'],
  ['SELECT ssn FROM customers ORDER BY 1', 'ssn-column', 'ORDER BY'],
  ['SELECT ssn, count(*) FROM customers GROUP BY ssn', 'ssn-column', 'GROUP BY'],
  ['SELECT ssn FROM customers GROUP BY 1', 'ssn-column', 'GROUP BY'],
  ['SELECT count(*) FROM customers HAVING max(ssn) > $1', 'ssn-column', 'max()'],
  ['SELECT a.id FROM customers a JOIN t b ON a.ssn = b.x', 'ssn-column', 'a join condition'],
  ['SELECT a.id FROM customers a JOIN t b USING (ssn)', 'ssn-column', 'USING'],
  ['SELECT a.id FROM customers a NATURAL JOIN t', STRICT_LINEAGE_RULE, 'NATURAL JOIN'],
  ['SELECT row_to_json(c) FROM customers c', STRICT_LINEAGE_RULE, 'whole row'],
  ['SELECT to_jsonb(c.*) FROM customers c', STRICT_LINEAGE_RULE, 'whole-row reference (c.*)'],
  ['SELECT c FROM customers c', STRICT_LINEAGE_RULE, 'whole row'],
  ['SELECT (c).ssn FROM customers c', STRICT_LINEAGE_RULE, 'whole row'],
  ['SELECT x FROM customers AS c(id, name, x)', STRICT_LINEAGE_RULE, 'column alias list'],
  ['SELECT * FROM (SELECT ssn FROM customers) s(x)', 'ssn-column', 'renamed to "x"'],
  ['WITH s(x) AS (SELECT ssn FROM customers) SELECT x FROM s', 'ssn-column', 'renamed to "x"'],
  ['WITH s AS (SELECT ssn AS x FROM customers) SELECT * FROM s', 'ssn-column', 'renamed'],
  ["SELECT * FROM (SELECT ssn FROM customers) s WHERE ssn > '5'", 'ssn-column', 'WHERE'],
  ['SELECT (SELECT ssn FROM customers LIMIT 1)', 'ssn-column', 'a value passed on'],
  ['SELECT id FROM t WHERE x IN (SELECT ssn FROM customers)', 'ssn-column', 'a value passed on'],
  ["SELECT EXISTS (SELECT 1 FROM customers WHERE ssn = '1')", 'ssn-column', 'WHERE'],
  ['SELECT name FROM t UNION SELECT ssn FROM customers', 'ssn-column', 'a value passed on'],
  ['INSERT INTO t (x) SELECT ssn FROM customers', 'ssn-column', 'a value passed on'],
  ['INSERT INTO t SELECT * FROM customers', STRICT_LINEAGE_RULE, 'list the columns'],
  ['UPDATE customers SET name = ssn', 'ssn-column', 'an expression'],
  ["DELETE FROM customers WHERE ssn = '1'", 'ssn-column', 'WHERE'],
  ['SELECT DISTINCT ssn FROM customers', 'ssn-column', 'DISTINCT'],
  ['SELECT DISTINCT ON (ssn) id FROM customers', 'ssn-column', 'DISTINCT ON'],
  ['SELECT row_number() OVER (ORDER BY ssn) FROM customers', 'ssn-column', 'window'],
  ['SELECT count(ssn) FROM customers', 'ssn-column', 'an argument of count()'],
  ['SELECT mail_addr AS contact FROM users', 'email-column', 'renamed'],
  ['CREATE VIEW v AS SELECT ssn AS x FROM customers', 'ssn-column', 'renamed'],
  ['CREATE VIEW v (x) AS SELECT ssn FROM customers', 'ssn-column', 'renamed to "x"'],
  ['CREATE TABLE t2 (x) AS SELECT ssn FROM customers', 'ssn-column', 'renamed to "x"'],
  ['ALTER TABLE customers RENAME COLUMN ssn TO x', 'ssn-column', 'rename'],
  ['SELECT leak(1)', STRICT_FUNCTIONS_RULE, 'leak()'],
  ['SELECT * FROM leak_rows()', STRICT_FUNCTIONS_RULE, 'leak_rows()'],
  ['SELECT public.lower(name) FROM customers', STRICT_FUNCTIONS_RULE, 'public.lower()'],
  ['CALL archive_customers()', STRICT_FUNCTIONS_RULE, 'archive_customers()'],
  [
    "SELECT pg_catalog.table_to_xml('customers', true, false, '')",
    STRICT_FUNCTIONS_RULE,
    'pg_catalog.table_to_xml()',
  ],
  [
    "SELECT query_to_xml('select ssn from customers', true, false, '')",
    STRICT_FUNCTIONS_RULE,
    'query_to_xml()',
  ],
  ['DO $$BEGIN PERFORM 1; END$$', STRICT_FUNCTIONS_RULE, 'DO'],
  ['SELECT * FROM customers ORDER BY 3', STRICT_LINEAGE_RULE, '* expansion'],
  ['PREPARE p AS SELECT id FROM customers WHERE ssn = $1', 'ssn-column', 'WHERE'],
  ['EXPLAIN ANALYZE SELECT id FROM customers WHERE ssn = $1', 'ssn-column', 'WHERE'],
];

/** Statements strict mode lets through unchanged. */
const ALLOWED = [
  'SELECT ssn FROM customers',
  'SELECT c.ssn, c.name FROM customers c WHERE c.id = 1',
  'SELECT public.customers.ssn FROM public.customers',
  'SELECT ssn AS ssn FROM customers',
  'SELECT * FROM customers',
  'SELECT c.* FROM customers c JOIN orders o ON o.customer_id = c.id',
  'SELECT * FROM (SELECT id, ssn FROM customers) s WHERE id > 1',
  'WITH s AS (SELECT id, ssn FROM customers) SELECT * FROM s ORDER BY id',
  'SELECT lower(name), count(*), now() FROM customers GROUP BY 1 ORDER BY 2 DESC',
  'SELECT id FROM customers WHERE EXISTS (SELECT * FROM orders o WHERE o.customer_id = id)',
  'SELECT app.safe_fn(id), report_total() FROM customers',
  'SELECT pg_catalog.pg_get_userbyid(relowner) FROM pg_catalog.pg_class',
  "UPDATE customers SET ssn = '000-00-0000' WHERE id = 1",
  "INSERT INTO customers (id, ssn) VALUES (3, '1') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
  'DELETE FROM customers WHERE id = 3 RETURNING ssn',
  'SELECT id FROM customers FOR UPDATE',
  'SELECT \'ssn\', $1::text AS "select" -- ssn in a comment',
  'COPY (SELECT id, ssn FROM customers) TO STDOUT',
  'CREATE TABLE t2 AS SELECT id, ssn FROM customers',
  'CREATE INDEX ON customers (ssn)',
  'DECLARE c CURSOR FOR SELECT ssn FROM customers',
  'SELECT id FROM t UNION ALL SELECT id FROM u ORDER BY 1',
  'SELECT x FROM generate_series(1, 3) AS g(x)',
  // psql's \d: a function in FROM named s; a bare s is its value, not a row.
  'SELECT string_agg(attname, $1) FROM generate_series(0, 3) s, pg_attribute WHERE attnum = s',
  'BEGIN; SET search_path = public; COMMIT',
];

describe('strict masking on the parse tree', () => {
  it.each(REFUSED)('refuses %s', (sql, rule, reason) => {
    const verdict = check(sql);
    expect(verdict.refused).toBe(true);
    if (!verdict.refused) return;
    expect(verdict.rule).toBe(rule);
    expect(verdict.reason).toContain(reason);
  });

  it.each(ALLOWED)('allows %s', (sql) => {
    expect(check(sql)).toEqual({ refused: false });
  });

  it('names the column and the rule in the reason', () => {
    const verdict = check("SELECT id FROM customers WHERE ssn LIKE '123-4%'");
    expect(verdict).toMatchObject({
      refused: true,
      statement: "SELECT id FROM customers WHERE ssn LIKE '123-4%'",
      reason:
        'strict masking rule "ssn-column": the masked column ssn may appear only as a plain output column, not in a predicate (WHERE)',
    });
  });

  it('checks every statement of a query, refusing at the first', () => {
    const verdict = check('SELECT ssn FROM customers; SELECT upper(email) FROM customers');
    expect(verdict).toMatchObject({ refused: true, rule: 'email-column' });
  });

  it('with no rules, still refuses unseen function bodies only where it is compiled', () => {
    const none = compileStrictMasking([], []);
    const parsed = parser.parse('SELECT upper(ssn) FROM customers');
    expect(parsed.ok && none.check(parsed.statements)).toEqual({ refused: false });
  });

  it('holds a view from the catalog to what its definition shows', () => {
    const views = compileStrictMasking([{ name: 'ssn-column', pattern: '^ssn$' }], []);
    const definition = (sql: string) => {
      const parsed = parser.parse(sql);
      return parsed.ok ? parsed.statements[0]?.node : undefined;
    };
    views.learnViews([
      {
        schema: 'public',
        name: 'renamed',
        query: definition('SELECT id, customers.ssn AS x FROM customers'),
      },
      { schema: 'public', name: 'plain', query: definition('SELECT id, ssn FROM customers') },
      { schema: 'public', name: 'nested', query: definition('SELECT * FROM renamed') },
      { schema: 'public', name: 'unread', query: undefined },
    ]);
    const verdict = (sql: string) => {
      const parsed = parser.parse(sql);
      if (!parsed.ok) throw new Error(parsed.error);
      return views.check(parsed.statements);
    };
    expect(verdict('SELECT * FROM renamed')).toMatchObject({
      refused: true,
      rule: 'ssn-column',
      reason: expect.stringContaining('the view public.renamed is refused'),
    });
    expect(verdict('SELECT * FROM public.nested n')).toMatchObject({
      refused: true,
      rule: 'ssn-column',
    });
    expect(verdict('SELECT * FROM unread')).toMatchObject({
      refused: true,
      rule: STRICT_LINEAGE_RULE,
    });
    expect(verdict('SELECT * FROM plain')).toEqual({ refused: false });
    // Another schema's relation of the same name is not that view.
    expect(verdict('SELECT * FROM other.renamed')).toEqual({ refused: false });
  });
});
