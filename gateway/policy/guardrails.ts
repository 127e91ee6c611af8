import type { GuardrailRule, statementClasses } from '../../shared/api/apiSchemas.ts';
import {
  type SqlLexOptions,
  type SqlStatement,
  type SqlToken,
  splitStatements,
} from './sqlLexer.ts';

/**
 * Guardrails: decides, before a query message reaches the target, whether any of its
 * statements is forbidden by the policy (issue #4). Pure: the PostgreSQL proxy turns a block
 * into an ErrorResponse with SQLSTATE 42501 naming the rule, records the attempt as blocked,
 * and forwards nothing of that message.
 *
 * What a lexer can and cannot see:
 * - It sees every statement of a multi-statement query, however it is hidden behind
 *   comments, case, strings, dollar quotes or quoted identifiers.
 * - It cannot see SQL built at run time: `DO $$ BEGIN EXECUTE 'DROP TABLE x'; END $$`, a
 *   function body, `CALL p()`, a trigger, dblink. Block those with a regex rule on the
 *   statement that creates or runs them (e.g. `^do\b`), or with privileges on the target.
 * - Plain `EXPLAIN DELETE FROM t` only plans, so it is allowed; `EXPLAIN ANALYZE` (in any
 *   spelling, unless its value is explicitly false) runs the statement and is checked.
 */

export type StatementClass = (typeof statementClasses)[number];

export type GuardrailVerdict =
  | { readonly blocked: false }
  | {
      readonly blocked: true;
      /** The name of the rule that fired. */
      readonly rule: string;
      /** The offending statement's source text (trimmed). */
      readonly statement: string;
      /** Why, in words a user can act on; does not repeat the rule name. */
      readonly reason: string;
    };

export type GuardrailCheckOptions = SqlLexOptions;

export interface Guardrails {
  /** Checks every statement of one query message; the first statement that hits a rule blocks. */
  checkStatements(sql: string, options?: GuardrailCheckOptions): GuardrailVerdict;
}

type CompiledRule =
  | {
      readonly kind: 'statement';
      readonly name: string;
      readonly classes: readonly StatementClass[];
    }
  | { readonly kind: 'regex'; readonly name: string; readonly pattern: RegExp };

const NOT_BLOCKED: GuardrailVerdict = Object.freeze({ blocked: false });

const CLASS_REASONS: Record<StatementClass, string> = {
  drop: 'DROP statements are not allowed on this database',
  truncate: 'TRUNCATE is not allowed on this database',
  alter: 'ALTER statements are not allowed on this database',
  delete_without_where:
    'DELETE without a WHERE clause would delete every row; add a WHERE clause that selects the rows to delete',
  update_without_where:
    'UPDATE without a WHERE clause would change every row; add a WHERE clause that selects the rows to change',
};

const UNTERMINATED_REASONS: Record<NonNullable<SqlStatement['unterminated']>, string> = {
  string: 'the query ends inside a quoted string',
  quoted_identifier: 'the query ends inside a quoted identifier',
  dollar_string: 'the query ends inside a dollar-quoted string',
  block_comment: 'the query ends inside a /* comment */',
};

export function compileGuardrails(rules: readonly GuardrailRule[]): Guardrails {
  const compiled = rules.map(
    (rule): CompiledRule =>
      rule.kind === 'statement'
        ? { kind: 'statement', name: rule.name, classes: [...rule.classes] }
        : // The schema validated the source with these flags; no `g`, so `test` keeps no state.
          { kind: 'regex', name: rule.name, pattern: new RegExp(rule.pattern, 'iu') },
  );
  const needsClasses = compiled.some((rule) => rule.kind === 'statement');
  const firstRule = compiled[0];

  return {
    checkStatements(sql, options) {
      if (firstRule === undefined) return NOT_BLOCKED;
      for (const statement of splitStatements(sql, options)) {
        const found = needsClasses ? classifyStatement(statement) : NO_CLASSES;
        for (const rule of compiled) {
          if (rule.kind === 'statement') {
            for (const statementClass of rule.classes) {
              const how = found.get(statementClass);
              if (how !== undefined) {
                return blocked(rule.name, statement, CLASS_REASONS[statementClass] + how);
              }
            }
          } else if (rule.pattern.test(statement.normalized)) {
            return blocked(
              rule.name,
              statement,
              'the statement matches a pattern this database forbids',
            );
          }
        }
        if (statement.unterminated !== null) {
          // The server would reject this query, but only if it reads it as we do; with a
          // different standard_conforming_strings or client encoding it might see a statement
          // we cannot. Refusing costs a well-formed query nothing.
          return blocked(
            firstRule.name,
            statement,
            `${UNTERMINATED_REASONS[statement.unterminated]}, so the gateway cannot tell which statements it holds; close it and retry`,
          );
        }
      }
      return NOT_BLOCKED;
    },
  };
}

function blocked(rule: string, statement: SqlStatement, reason: string): GuardrailVerdict {
  return { blocked: true, rule, statement: statement.text.trim(), reason };
}

const NO_CLASSES: ReadonlyMap<StatementClass, string> = new Map();

/**
 * The statement classes a statement belongs to, each with a note appended to its reason
 * ('' or how it was reached, e.g. through EXPLAIN ANALYZE).
 */
export function classifyStatement(statement: SqlStatement): ReadonlyMap<StatementClass, string> {
  const tokens = statement.tokens;
  const found = new Map<StatementClass, string>();
  const first = tokens[0];
  if (first === undefined) return found;

  // DROP, TRUNCATE and ALTER cannot be nested in EXPLAIN, PREPARE, a CTE, a rule action or
  // a BEGIN ATOMIC body (PostgreSQL refuses utility statements there), so only the first
  // word counts: `ALTER TABLE t DROP COLUMN c` is alter, not drop; a column named "drop" is
  // nothing.
  if (first.keyword === 'DROP') found.set('drop', '');
  else if (first.keyword === 'TRUNCATE') found.set('truncate', '');
  else if (first.keyword === 'ALTER') found.set('alter', '');

  let note = '';
  if (first.keyword === 'EXPLAIN') {
    if (!explainExecutes(tokens)) return found;
    note = ' (EXPLAIN ANALYZE runs the statement it explains)';
  }
  const prepareAs = first.keyword === 'PREPARE' ? topLevelIndexOf(tokens, 'AS') : -1;

  // DELETE and UPDATE can start anywhere a statement can: top level, after WITH, inside a
  // CTE, after PREPARE ... AS, in COPY (...) TO, in a rule action, in a BEGIN ATOMIC body.
  // Rather than follow each of those, recognise the statement by its own shape wherever it
  // is, and look for WHERE at its own parenthesis depth.
  let whereInScope: readonly boolean[] | undefined;
  for (let i = 0; i < tokens.length; i++) {
    const keyword = tokens[i]!.keyword;
    let statementClass: StatementClass;
    if (keyword === 'DELETE' && isDeleteStatement(tokens, i, prepareAs)) {
      statementClass = 'delete_without_where';
    } else if (keyword === 'UPDATE' && isUpdateStatement(tokens, i)) {
      statementClass = 'update_without_where';
    } else {
      continue;
    }
    whereInScope ??= whereInScopeFlags(tokens);
    if (!whereInScope[i]) found.set(statementClass, note);
  }
  return found;
}

/**
 * `DELETE FROM` is a DELETE statement unless the DELETE is a column reference or label
 * (it is an unreserved keyword): `SELECT delete FROM t`, `SELECT a, t.delete FROM t`,
 * `SELECT 1 AS delete FROM t`. Anything else (even `SELECT count(*) delete FROM t`, a bare
 * label) counts as a statement: wrongly blocking a rare alias is the safe mistake.
 */
function isDeleteStatement(tokens: readonly SqlToken[], i: number, prepareAs: number): boolean {
  if (tokens[i + 1]?.keyword !== 'FROM') return false;
  const previous = tokens[i - 1];
  if (previous === undefined) return true;
  if (previous.kind === 'operator') return false;
  if (previous.kind === 'punctuation') {
    return previous.text !== ',' && previous.text !== '.' && previous.text !== '::';
  }
  switch (previous.keyword) {
    case 'SELECT':
    case 'DISTINCT':
    case 'ALL':
      return false;
    case 'AS':
      return i - 1 === prepareAs;
    default:
      return true;
  }
}

/**
 * An UPDATE statement has the shape `UPDATE [ONLY] [(]name[.name...][)] [*] [[AS] alias] SET`.
 * That shape tells it apart from `FOR UPDATE [OF t]`, `ON UPDATE CASCADE`, `GRANT UPDATE ON`,
 * trigger events, `ON CONFLICT DO UPDATE SET` and MERGE's `THEN UPDATE SET` (whose WHERE is
 * optional by design), and a column named update.
 */
function isUpdateStatement(tokens: readonly SqlToken[], i: number): boolean {
  let j = i + 1;
  if (tokens[j]?.keyword === 'ONLY') j++;
  const parenthesized = isPunctuation(tokens[j], '(');
  if (parenthesized) j++;
  if (!isName(tokens[j])) return false;
  j++;
  while (isPunctuation(tokens[j], '.') && isName(tokens[j + 1])) j += 2;
  if (parenthesized) {
    if (!isPunctuation(tokens[j], ')')) return false;
    j++;
  }
  if (tokens[j]?.kind === 'operator' && tokens[j]?.text === '*') j++;
  if (tokens[j]?.keyword === 'SET') return true;
  if (tokens[j]?.keyword === 'AS') return isName(tokens[j + 1]) && tokens[j + 2]?.keyword === 'SET';
  return isName(tokens[j]) && tokens[j + 1]?.keyword === 'SET';
}

/**
 * For each token, whether a WHERE follows it at its own depth before the parenthesis around
 * it closes. For a statement verb that is "has a WHERE clause": a WHERE inside a subquery, a
 * CTE or a RETURNING expression is deeper and does not count; one before the verb (in a WITH)
 * is not after it. One backward pass, so a query stuffed with verbs stays linear.
 */
function whereInScopeFlags(tokens: readonly SqlToken[]): boolean[] {
  let minDepth = 0;
  for (const token of tokens) minDepth = Math.min(minDepth, token.depth);
  const flags = new Array<boolean>(tokens.length);
  // seen[d]: a WHERE at depth d (offset by minDepth) lies ahead with no shallower token between.
  const seen: boolean[] = [];
  for (let j = tokens.length - 1; j >= 0; j--) {
    const token = tokens[j]!;
    const depth = token.depth - minDepth;
    flags[j] = seen[depth] === true;
    // This token is shallower than anything deeper: it closes their scopes for earlier tokens.
    if (seen.length > depth + 1) seen.length = depth + 1;
    if (token.keyword === 'WHERE') seen[depth] = true;
  }
  return flags;
}

/** EXPLAIN options that never make EXPLAIN run the statement. */
const PLAN_ONLY_OPTIONS = new Set([
  'VERBOSE',
  'COSTS',
  'SETTINGS',
  'BUFFERS',
  'WAL',
  'TIMING',
  'SUMMARY',
  'FORMAT',
  'GENERIC_PLAN',
  'SERIALIZE',
  'MEMORY',
]);

/**
 * Whether `EXPLAIN ...` executes its statement: `EXPLAIN ANALYZE [VERBOSE]`, `EXPLAIN
 * ANALYSE`, or an option list with ANALYZE whose value is not explicitly false/off/0. An
 * option list with anything unrecognised (a quoted `"analyze"` is the ANALYZE option too)
 * counts as executing.
 * @see https://www.postgresql.org/docs/current/sql-explain.html
 */
function explainExecutes(tokens: readonly SqlToken[]): boolean {
  if (!isPunctuation(tokens[1], '(')) {
    for (let j = 1; j < tokens.length && tokens[j]!.kind === 'word'; j++) {
      const word = tokens[j]!.keyword;
      if (word === 'ANALYZE' || word === 'ANALYSE') return true;
      if (word !== 'VERBOSE') return false;
    }
    return false;
  }
  // Option items: `name [value]`, separated by commas at depth 1, up to the `)` at depth 0.
  let j = 2;
  while (j < tokens.length && tokens[j]!.depth > 0) {
    const name = tokens[j]!;
    const itemEnd = indexOfItemEnd(tokens, j);
    if (name.kind !== 'word') return true;
    if (name.keyword === 'ANALYZE' || name.keyword === 'ANALYSE') {
      if (!(itemEnd === j + 2 && isFalseOptionValue(tokens[j + 1]!))) return true;
    } else if (!PLAN_ONLY_OPTIONS.has(name.keyword)) {
      return true;
    }
    j = isPunctuation(tokens[itemEnd], ',') ? itemEnd + 1 : itemEnd;
    if (isPunctuation(tokens[itemEnd], ')')) break;
  }
  return false;
}

/** Index of the `,` or `)` ending the option item that starts at `from` (depth 1). */
function indexOfItemEnd(tokens: readonly SqlToken[], from: number): number {
  let j = from;
  while (j < tokens.length) {
    const token = tokens[j]!;
    if (token.depth === 1 && token.text === ',' && token.kind === 'punctuation') return j;
    if (token.depth === 0) return j;
    j++;
  }
  return j;
}

/** PostgreSQL's defGetBoolean accepts false, off and 0 (any case) as false. */
function isFalseOptionValue(value: SqlToken): boolean {
  if (value.kind === 'word') return value.keyword === 'FALSE' || value.keyword === 'OFF';
  if (value.kind === 'number') return value.text === '0';
  if (value.kind === 'string' && value.text.startsWith("'")) {
    const inner = value.text.slice(1, -1).toLowerCase();
    return inner === 'false' || inner === 'off';
  }
  return false;
}

function topLevelIndexOf(tokens: readonly SqlToken[], keyword: string): number {
  return tokens.findIndex((token) => token.depth === 0 && token.keyword === keyword);
}

function isPunctuation(token: SqlToken | undefined, text: string): boolean {
  return token !== undefined && token.kind === 'punctuation' && token.text === text;
}

function isName(token: SqlToken | undefined): boolean {
  return token !== undefined && (token.kind === 'word' || token.kind === 'quoted_identifier');
}
