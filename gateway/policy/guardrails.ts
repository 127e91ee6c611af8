import type { GuardrailRule, statementClasses } from '../../shared/api/apiSchemas.ts';
import { splitStatements } from './sqlLexer.ts';
import { type ParsedStatement, type PgNode, walkNodes } from './sqlParse.ts';

/**
 * Guardrails: decides, before a query reaches the target, whether any of its statements is
 * forbidden by the policy (issues #4, #13). Decided on PostgreSQL's own parse tree
 * (sqlParse.ts), so a statement is classified as the server will read it, wherever it sits:
 * top level, a CTE (`WITH d AS (DELETE …)`), `PREPARE … AS`, `EXPLAIN ANALYZE`, `COPY (…) TO`,
 * a rule action, a `BEGIN ATOMIC` body. Pure: the PostgreSQL proxy turns a block into an
 * ErrorResponse with SQLSTATE 42501 naming the rule, records the attempt as refused, and
 * forwards nothing of that message.
 *
 * What a parse tree cannot see: SQL built at run time inside functions that already exist
 * (a function created before the policy, or by someone else, that deletes or drops). Creating
 * such code is a class of its own (`create_function`, `create_trigger`, `create_rule`, `do`,
 * `call`); what exists already is the target's privileges' business.
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

export interface Guardrails {
  /** Checks every statement of one parsed query; the first statement that hits a rule blocks. */
  check(statements: readonly ParsedStatement[]): GuardrailVerdict;
}

type NodeFields = Readonly<Record<string, unknown>>;

/**
 * Every class: which nodes belong to it and why that is refused. A new class is one entry
 * here (and its name in `statementClasses`).
 */
const CLASSES: Record<
  StatementClass,
  {
    /** The node types of the class. */
    readonly nodeTypes: (type: string) => boolean;
    /** For classes that also look at the node's fields: whether this one belongs. */
    readonly when?: (fields: NodeFields) => boolean;
    readonly reason: string;
  }
> = {
  // DropStmt, DropdbStmt, DropRoleStmt, DropOwnedStmt, DropTableSpaceStmt, …
  drop: {
    nodeTypes: (type) => type.startsWith('Drop'),
    reason: 'DROP statements are not allowed on this database',
  },
  truncate: {
    nodeTypes: (type) => type === 'TruncateStmt',
    reason: 'TRUNCATE is not allowed on this database',
  },
  // AlterTableStmt (ALTER TABLE … DROP COLUMN is alter, not drop), AlterSystemStmt, …, and
  // ALTER … RENAME, which the grammar makes a RenameStmt.
  alter: {
    nodeTypes: (type) => type.startsWith('Alter') || type === 'RenameStmt',
    reason: 'ALTER statements are not allowed on this database',
  },
  delete_without_where: {
    nodeTypes: (type) => type === 'DeleteStmt',
    when: (fields) => !restricts(fields.whereClause),
    reason:
      'DELETE without a WHERE clause that selects rows would delete every row; add a WHERE clause on the rows to delete',
  },
  update_without_where: {
    nodeTypes: (type) => type === 'UpdateStmt',
    when: (fields) => !restricts(fields.whereClause),
    reason:
      'UPDATE without a WHERE clause that selects rows would change every row; add a WHERE clause on the rows to change',
  },
  merge_modify: {
    nodeTypes: (type) => type === 'MergeStmt',
    when: mergeModifies,
    reason: 'MERGE with a DELETE or UPDATE action is not allowed on this database',
  },
  copy_from: {
    nodeTypes: (type) => type === 'CopyStmt',
    when: (fields) => fields.is_from === true,
    reason: 'COPY … FROM into a table is not allowed on this database; use INSERT',
  },
  call: {
    nodeTypes: (type) => type === 'CallStmt',
    reason: 'CALL runs a procedure whose statements the gateway cannot check',
  },
  do: {
    nodeTypes: (type) => type === 'DoStmt',
    reason: 'DO blocks run code whose statements the gateway cannot check',
  },
  create_function: {
    nodeTypes: (type) => type === 'CreateFunctionStmt',
    reason:
      'creating functions and procedures is not allowed on this database: their bodies run statements the gateway cannot check',
  },
  create_trigger: {
    nodeTypes: (type) => type === 'CreateTrigStmt' || type === 'CreateEventTrigStmt',
    reason:
      'creating triggers is not allowed on this database: they run statements the gateway cannot check',
  },
  create_rule: {
    nodeTypes: (type) => type === 'RuleStmt',
    reason:
      'creating rules is not allowed on this database: a rule rewrites later statements out of the gateway’s sight',
  },
};

type CompiledRule =
  | { readonly kind: 'statement'; readonly name: string; readonly classes: ReadonlySet<string> }
  | { readonly kind: 'regex'; readonly name: string; readonly pattern: RegExp };

const NOT_BLOCKED: GuardrailVerdict = Object.freeze({ blocked: false });

export function compileGuardrails(rules: readonly GuardrailRule[]): Guardrails {
  const compiled = rules.map(
    (rule): CompiledRule =>
      rule.kind === 'statement'
        ? { kind: 'statement', name: rule.name, classes: new Set(rule.classes) }
        : // The schema validated the source with these flags; no `g`, so `test` keeps no state.
          { kind: 'regex', name: rule.name, pattern: new RegExp(rule.pattern, 'iu') },
  );
  // Only the classes some rule names are looked for.
  const wanted = CLASS_ENTRIES.filter(([statementClass]) =>
    compiled.some((rule) => rule.kind === 'statement' && rule.classes.has(statementClass)),
  );

  return {
    check(statements) {
      if (compiled.length === 0) return NOT_BLOCKED;
      for (const statement of statements) {
        const found = wanted.length > 0 ? classifyStatement(statement.node, wanted) : NO_CLASSES;
        let normalized: readonly string[] | undefined;
        for (const rule of compiled) {
          if (rule.kind === 'statement') {
            for (const [statementClass, note] of found) {
              if (rule.classes.has(statementClass)) {
                return blocked(rule.name, statement, CLASSES[statementClass].reason + note);
              }
            }
          } else {
            normalized ??= normalizedTexts(statement.text);
            if (normalized.some((text) => rule.pattern.test(text))) {
              return blocked(
                rule.name,
                statement,
                'the statement matches a pattern this database forbids',
              );
            }
          }
        }
      }
      return NOT_BLOCKED;
    },
  };
}

function blocked(rule: string, statement: ParsedStatement, reason: string): GuardrailVerdict {
  return { blocked: true, rule, statement: statement.text, reason };
}

/**
 * A regex rule reads the statement's text with comments stripped and whitespace collapsed, as
 * it did before the parser (issue #4). The hand-written lexer stays for that one job: the
 * parser gives no token stream, and the statement's boundaries already come from the parser,
 * so the lexer only cleans one statement's text.
 */
function normalizedTexts(text: string): string[] {
  return splitStatements(text).map((piece) => piece.normalized);
}

const NO_CLASSES: ReadonlyMap<StatementClass, string> = new Map();
type ClassEntry = [StatementClass, (typeof CLASSES)[StatementClass]];
const CLASS_ENTRIES = Object.entries(CLASSES) as ClassEntry[];
const ANALYZE_NOTE = ' (EXPLAIN ANALYZE runs the statement it explains)';

/**
 * The statement classes a parsed statement belongs to (anywhere in its tree), each with a note
 * appended to its reason ('' or how it was reached, e.g. through EXPLAIN ANALYZE).
 */
export function classifyStatement(
  node: PgNode,
  wanted: readonly ClassEntry[] = CLASS_ENTRIES,
): ReadonlyMap<StatementClass, string> {
  const found = new Map<StatementClass, string>();
  classifyInto(found, node, '', wanted, candidatesByTypeFor(wanted));
  return found;
}

/** classifyStatement's walk; a module function, not a closure made anew per statement. */
function classifyInto(
  found: Map<StatementClass, string>,
  tree: unknown,
  note: string,
  wanted: readonly ClassEntry[],
  byType: Map<string, readonly ClassEntry[]>,
): void {
  walkNodes(tree, (type, fields) => {
    if (type === 'ExplainStmt') {
      // Plain EXPLAIN only plans its statement; EXPLAIN ANALYZE runs it.
      if (explainExecutes(fields.options)) {
        classifyInto(found, fields.query, ANALYZE_NOTE, wanted, byType);
      }
      return false;
    }
    for (const [statementClass, entry] of candidatesFor(type, wanted, byType)) {
      if (!found.has(statementClass) && (entry.when === undefined || entry.when(fields))) {
        found.set(statementClass, note);
      }
    }
    return true;
  });
}

/**
 * The entries that can match a node type at all (every class names its node types; only
 * some then look at the fields): one lookup per node instead of one call per class.
 */
const candidatesByType = new WeakMap<readonly ClassEntry[], Map<string, readonly ClassEntry[]>>();

/** The per-type entries of one `wanted` list: looked up once per statement, not per node. */
function candidatesByTypeFor(wanted: readonly ClassEntry[]): Map<string, readonly ClassEntry[]> {
  let byType = candidatesByType.get(wanted);
  if (byType === undefined) {
    byType = new Map();
    candidatesByType.set(wanted, byType);
  }
  return byType;
}

function candidatesFor(
  type: string,
  wanted: readonly ClassEntry[],
  byType: Map<string, readonly ClassEntry[]>,
): readonly ClassEntry[] {
  let candidates = byType.get(type);
  if (candidates === undefined) {
    candidates = wanted.filter(([, entry]) => entry.nodeTypes(type));
    byType.set(type, candidates);
  }
  return candidates;
}

/**
 * Whether a WHERE clause selects rows rather than all of them. It must depend on the row (name
 * a column, or be `CURRENT OF` a cursor); constant conditions (`WHERE true`, `WHERE 1=1`,
 * `WHERE $1`), an OR with such an arm, and `x = x` do not. A heuristic against mistakes and
 * the obvious dodges, not a proof: `WHERE id > -1` still counts as restricting.
 */
function restricts(where: unknown): boolean {
  if (where === undefined || where === null) return false;
  const bool = (where as { BoolExpr?: { boolop?: string; args?: unknown[] } }).BoolExpr;
  if (bool !== undefined) {
    const args = bool.args ?? [];
    if (bool.boolop === 'OR_EXPR') return args.every(restricts);
    if (bool.boolop === 'AND_EXPR') return args.some(restricts);
  }
  const operator = (where as { A_Expr?: { kind?: string; lexpr?: unknown; rexpr?: unknown } })
    .A_Expr;
  if (
    operator?.kind === 'AEXPR_OP' &&
    operator.lexpr !== undefined &&
    withoutLocations(operator.lexpr) === withoutLocations(operator.rexpr)
  ) {
    return false;
  }
  return dependsOnRow(where);
}

function dependsOnRow(expression: unknown): boolean {
  let found = false;
  walkNodes(expression, (type) => {
    if (type === 'ColumnRef' || type === 'CurrentOfExpr') found = true;
    return !found;
  });
  return found;
}

function withoutLocations(value: unknown): string {
  return JSON.stringify(value, (key, field: unknown) => (key === 'location' ? undefined : field));
}

function mergeModifies(fields: NodeFields): boolean {
  const clauses = Array.isArray(fields.mergeWhenClauses) ? fields.mergeWhenClauses : [];
  return clauses.some((clause) => {
    const type = (clause as { MergeWhenClause?: { commandType?: string } }).MergeWhenClause
      ?.commandType;
    return type === 'CMD_DELETE' || type === 'CMD_UPDATE';
  });
}

/**
 * Whether `EXPLAIN …` executes its statement: an `analyze` option whose value is not
 * explicitly false (PostgreSQL's defGetBoolean: false, off, 0). Any other value counts as
 * executing.
 * @see https://www.postgresql.org/docs/current/sql-explain.html
 */
function explainExecutes(options: unknown): boolean {
  if (!Array.isArray(options)) return false;
  return options.some((option) => {
    const element = (option as { DefElem?: { defname?: string; arg?: unknown } }).DefElem;
    if (element?.defname !== 'analyze') return false;
    return !isFalseOptionValue(element.arg);
  });
}

function isFalseOptionValue(arg: unknown): boolean {
  if (arg === undefined) return false; // bare ANALYZE: true
  const value = arg as {
    String?: { sval?: string };
    Integer?: { ival?: number };
    Boolean?: { boolval?: boolean };
  };
  // libpg_query's JSON leaves out zero and false fields: `{Integer: {}}` is 0.
  if (value.Integer !== undefined) return (value.Integer.ival ?? 0) === 0;
  if (value.Boolean !== undefined) return value.Boolean.boolval !== true;
  const text = value.String?.sval?.toLowerCase();
  return text === 'false' || text === 'off';
}
