/**
 * Masking's strict mode (issue #13), decided on PostgreSQL's own parse tree (sqlParse.ts).
 *
 * Result masking matches result columns by name (masking.ts), which an alias, a function, a
 * cast or a predicate steps around. Strict mode closes that on the statement itself: a column
 * whose name a strict policy's column rule matches ("a masked column") may appear only as a
 * plain output column of a result that reaches the client under a name the rules still match,
 * where the masker then masks it. Anywhere else — an expression, a function argument, a cast,
 * WHERE/HAVING/JOIN ON/USING, ORDER BY, GROUP BY, DISTINCT, a window, a set operation, a
 * subquery whose values feed an expression, INSERT … SELECT — the statement is refused.
 *
 * Lineage: column references are matched by their own name, the last part of `c.ssn` or
 * `public.customers.ssn`, so a FROM alias changes nothing. Subqueries and CTEs are held to the
 * same rule, so a masked column leaves them only under a name the rules match; a rename through
 * a column alias list (`AS s(x)`, `WITH s(x)`, `CREATE VIEW v(x)`, `CREATE TABLE t(x) AS`) is
 * refused where it renames a masked output, and on a table (`customers AS c(a, b, x)`) whose
 * columns the gateway does not know, always. Whole-row references (`c`, `c.*` or `row_to_json(c)`
 * inside an expression) are refused: the gateway does not know which columns the row holds.
 * `*` as an output column is allowed: it expands to the columns' own names. A FROM item naming
 * one of the target's views (learnViews, read from its catalog when the session starts) is
 * held to what the view's definition shows, checked by the same rules.
 *
 * Functions: a call of a function whose body the gateway cannot see could read a masked column
 * itself (`SELECT leak_ssn(1)`), so only harmless built-ins, functions called as
 * `pg_catalog.f`, and the policy's `allowedFunctions` may be called; `DO` is refused. Whether a
 * masked column reaches a function decides nothing here: it is refused as an argument anyway.
 *
 * Pure: no I/O; one call per parsed query.
 */
import type { ParsedStatement, PgNode } from './sqlParse.ts';

export interface StrictColumnRule {
  /** The masking rule's name, as the admin wrote it. */
  readonly name: string;
  /** Its column pattern (a regex source, matched case-insensitively as masking.ts does). */
  readonly pattern: string;
}

export type StrictVerdict =
  | { readonly refused: false }
  | {
      readonly refused: true;
      /** The masking rule the statement would step around, or STRICT_FUNCTIONS_RULE. */
      readonly rule: string;
      readonly statement: string;
      readonly reason: string;
    };

export interface StrictMasking {
  check(statements: readonly ParsedStatement[]): StrictVerdict;
  /**
   * The target's views (and materialized views), read from its catalog when the session
   * starts: a FROM item naming one is held to what its definition shows. A definition that
   * did not parse is passed as undefined, and the view is refused.
   */
  learnViews(views: readonly TargetView[]): void;
}

export interface TargetView {
  readonly schema: string;
  readonly name: string;
  /** Its definition's parse (a SelectStmt node), or undefined when it did not parse. */
  readonly query: PgNode | undefined;
}

/** Views by name (any schema): a name may be a view in one schema and a table in another. */
type ViewBook = Map<string, TargetView[]>;

/** The rule a call of an unseen function body is refused under (counted like any rule). */
export const STRICT_FUNCTIONS_RULE = 'strict_functions';
/** The rule a whole-row reference or an unresolvable column alias is refused under. */
export const STRICT_LINEAGE_RULE = 'strict_lineage';

/**
 * Built-ins that read nothing but their arguments (and the clock, the session or the catalog):
 * harmless unless a masked column reaches them, which the column check refuses on its own.
 * Called unqualified they resolve to pg_catalog unless a function of the same name and other
 * argument types has been created; creating functions is a guardrail class (create_function).
 */
// biome-ignore format: a word list reads better packed than one name per line
export const HARMLESS_FUNCTIONS: ReadonlySet<string> = new Set([
  'count', 'sum', 'avg', 'min', 'max', 'bool_and', 'bool_or', 'every', 'string_agg', 'array_agg',
  'json_agg', 'jsonb_agg', 'json_object_agg', 'jsonb_object_agg', 'stddev', 'variance',
  'percentile_cont', 'percentile_disc', 'mode', 'row_number', 'rank', 'dense_rank',
  'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead', 'first_value', 'last_value', 'nth_value',
  'grouping', 'now', 'clock_timestamp', 'statement_timestamp', 'transaction_timestamp',
  'timeofday', 'date_trunc', 'date_part', 'extract', 'age', 'make_date', 'make_time',
  'make_timestamp', 'make_timestamptz', 'make_interval', 'to_timestamp', 'to_date', 'to_char',
  'to_number', 'date_bin', 'justify_days', 'justify_hours', 'justify_interval', 'isfinite',
  'lower', 'upper', 'initcap', 'length', 'char_length', 'character_length', 'octet_length',
  'bit_length', 'substr', 'substring', 'left', 'right', 'trim', 'btrim', 'ltrim', 'rtrim', 'lpad',
  'rpad', 'concat', 'concat_ws', 'replace', 'translate', 'split_part', 'strpos', 'position',
  'starts_with', 'reverse', 'repeat', 'format', 'quote_ident', 'quote_literal', 'quote_nullable',
  'regexp_replace', 'regexp_match', 'regexp_matches', 'regexp_split_to_array',
  'regexp_split_to_table', 'md5', 'encode', 'decode', 'to_hex', 'ascii', 'chr', 'string_to_array',
  'array_to_string', 'overlay', 'abs', 'round', 'ceil', 'ceiling', 'floor', 'trunc', 'mod',
  'power', 'sqrt', 'exp', 'ln', 'log', 'sign', 'random', 'div', 'width_bucket', 'gcd', 'lcm',
  'array_length', 'array_upper', 'array_lower', 'cardinality', 'unnest', 'array_append',
  'array_prepend', 'array_cat', 'array_position', 'array_remove', 'generate_series',
  'generate_subscripts', 'json_build_object', 'jsonb_build_object', 'json_build_array',
  'jsonb_build_array', 'to_json', 'to_jsonb', 'jsonb_set', 'jsonb_pretty', 'json_typeof',
  'jsonb_typeof', 'jsonb_array_elements', 'json_array_elements', 'jsonb_each', 'json_each',
  'jsonb_object_keys', 'json_object_keys', 'jsonb_array_length', 'json_array_length',
  'jsonb_strip_nulls', 'jsonb_path_query', 'jsonb_path_exists', 'version', 'current_database',
  'current_schema', 'current_schemas', 'current_setting', 'set_config', 'pg_backend_pid',
  'pg_sleep', 'pg_typeof', 'gen_random_uuid', 'txid_current', 'pg_current_xact_id',
  'inet_server_addr', 'inet_server_port', 'pg_postmaster_start_time', 'pg_is_in_recovery',
  'has_table_privilege', 'has_schema_privilege', 'has_database_privilege', 'pg_notify',
  'pg_cancel_backend', 'pg_terminate_backend', 'pg_advisory_lock', 'pg_advisory_unlock',
  'pg_try_advisory_lock', 'pg_advisory_xact_lock',
  // catalog helpers psql's describe commands call
  'format_type', 'obj_description', 'col_description', 'shobj_description', 'pg_get_userbyid',
  'pg_table_is_visible', 'pg_get_expr', 'pg_get_indexdef', 'pg_get_constraintdef',
  'pg_get_viewdef', 'pg_get_triggerdef', 'pg_get_functiondef', 'pg_get_function_arguments',
  'pg_get_function_result', 'pg_size_pretty', 'pg_relation_size', 'pg_total_relation_size',
  'pg_database_size', 'pg_encoding_to_char', 'row_to_json', 'array_to_json', 'pg_function_is_visible', 'pg_type_is_visible',
]);

/**
 * pg_catalog functions that read a table, a query's or a cursor's rows, or a server file by
 * name: called as `pg_catalog.f` they would otherwise pass as catalog functions, and they hand
 * back rows the masker cannot see by column (`pg_catalog.table_to_xml('customers', …)`).
 */
// biome-ignore format: a word list reads better packed than one name per line
export const ROW_READING_BUILTINS: ReadonlySet<string> = new Set([
  'query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema', 'table_to_xml',
  'table_to_xmlschema', 'table_to_xml_and_xmlschema', 'cursor_to_xml', 'cursor_to_xmlschema',
  'schema_to_xml', 'schema_to_xmlschema', 'schema_to_xml_and_xmlschema', 'database_to_xml',
  'database_to_xmlschema', 'database_to_xml_and_xmlschema', 'ts_stat', 'pg_read_file',
  'pg_read_binary_file', 'lo_get', 'lo_export', 'lo_import', 'loread', 'lo_open',
]);

type Refusal = { rule: string; reason: string };

/** Column names whose rule is remembered (a bound against names made up per statement). */
const RULE_MEMO_ENTRIES = 4_096;

/** How a SELECT's output is used: it decides where a masked column may appear plainly. */
type OutputUse =
  /** Rows go to the client (or a cursor, COPY, a view or table keeping the names): masked by name. */
  | 'client'
  /** Only existence counts (`EXISTS (SELECT …)`): the values go nowhere. */
  | 'discarded'
  /** Values feed something else (an expression, IN, INSERT … SELECT, a set operation). */
  | 'value';

export function compileStrictMasking(
  rules: readonly StrictColumnRule[],
  allowedFunctions: readonly string[],
): StrictMasking {
  const compiled = rules.map((rule) => ({
    name: rule.name,
    pattern: new RegExp(rule.pattern, 'iu'),
  }));
  const allowed = new Set(allowedFunctions.map((name) => name.toLowerCase()));
  // Memoized by name: the same few column names come back in every statement, and testing
  // every rule's case-insensitive Unicode pattern at every reference is paid per new text.
  const ruleByName = new Map<string, { name: string } | null>();
  const ruleFor = (column: string) => {
    let rule = ruleByName.get(column);
    if (rule === undefined) {
      rule = compiled.find((candidate) => candidate.pattern.test(column)) ?? null;
      if (ruleByName.size >= RULE_MEMO_ENTRIES) ruleByName.clear();
      ruleByName.set(column, rule);
    }
    return rule ?? undefined;
  };
  const views: ViewBook = new Map();
  /** A view's verdict, decided once (its definition cannot change but by a checked statement). */
  const viewVerdicts = new Map<TargetView, Refusal | null>();
  const viewRefusal = (view: TargetView, seen: Set<TargetView>): Refusal | undefined => {
    const known = viewVerdicts.get(view);
    if (known !== undefined) return known ?? undefined;
    let refusal: Refusal | undefined;
    if (view.query === undefined) {
      refusal = {
        rule: STRICT_LINEAGE_RULE,
        reason: `the definition of the view ${view.schema}.${view.name} could not be read, so what it shows is unknown`,
      };
    } else if (seen.has(view)) {
      refusal = undefined; // a cycle: each view on it is checked on its own
    } else {
      seen.add(view);
      const inner = new StatementCheck(ruleFor, allowed, view.query, lookup, seen).run();
      if (inner !== undefined) {
        refusal = {
          rule: inner.rule,
          reason: `the view ${view.schema}.${view.name} is refused: ${inner.reason}`,
        };
      }
    }
    viewVerdicts.set(view, refusal ?? null);
    return refusal;
  };
  const lookup: ViewLookup = (schema, name, seen) => {
    for (const view of views.get(name) ?? []) {
      if (schema !== undefined && view.schema !== schema) continue;
      const refusal = viewRefusal(view, seen);
      if (refusal !== undefined) return refusal;
    }
    return undefined;
  };
  return {
    learnViews(list) {
      for (const view of list) {
        const named = views.get(view.name) ?? [];
        named.push(view);
        views.set(view.name, named);
      }
    },
    check(statements) {
      for (const statement of statements) {
        const refusal = new StatementCheck(
          ruleFor,
          allowed,
          statement.node,
          lookup,
          new Set(),
        ).run();
        if (refusal !== undefined) {
          return {
            refused: true,
            rule: refusal.rule,
            statement: statement.text,
            reason: refusal.reason,
          };
        }
      }
      return { refused: false };
    },
  };
}

class Refused extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.reason);
  }
}

type Fields = Readonly<Record<string, unknown>>;

/** Whether a FROM item naming a relation shows a view strict mode refuses. */
type ViewLookup = (
  schema: string | undefined,
  name: string,
  seen: Set<TargetView>,
) => Refusal | undefined;

/** One statement's walk; throws Refused at the first use strict mode does not allow. */
class StatementCheck {
  /** Names of FROM items anywhere in the statement: a bare `c` naming one is a whole row. */
  private readonly rangeNames = new Set<string>();

  constructor(
    private readonly ruleFor: (column: string) => { name: string } | undefined,
    private readonly allowed: ReadonlySet<string>,
    private readonly root: PgNode,
    private readonly views: ViewLookup,
    private readonly seenViews: Set<TargetView>,
  ) {}

  run(): Refusal | undefined {
    collectRangeNames(this.root, this.rangeNames);
    try {
      this.statement(this.root);
      return undefined;
    } catch (error) {
      if (error instanceof Refused) return error.refusal;
      throw error;
    }
  }

  private statement(node: PgNode): void {
    const [type, fields] = unwrap(node);
    switch (type) {
      case 'SelectStmt':
        this.select(fields, 'client');
        return;
      case 'ExplainStmt':
      case 'PrepareStmt':
      case 'DeclareCursorStmt':
      case 'CopyStmt':
        // Their rows reach the client (COPY's are masked by column name, copyOutMasking.ts).
        this.nested(fields.query, 'client', fields, ['query']);
        return;
      case 'ViewStmt':
        this.renames(fields.aliases, fields.query, 'the view’s column list');
        this.nested(fields.query, 'client', fields, ['query']);
        return;
      case 'CreateTableAsStmt': {
        const into = (fields.into as Fields | undefined) ?? {};
        this.renames(into.colNames, fields.query, 'the new table’s column list');
        this.nested(fields.query, 'client', fields, ['query']);
        return;
      }
      case 'DoStmt':
        throw new Refused({
          rule: STRICT_FUNCTIONS_RULE,
          reason:
            'DO runs code the gateway cannot check against the masking rules; strict masking refuses it',
        });
      case 'RenameStmt':
        this.rename(fields);
        return;
      case 'CallStmt': {
        // funccall is a FuncCall*, not wrapped in its type name.
        this.node('FuncCall', (fields.funccall ?? {}) as Fields, 'CALL');
        return;
      }
      default:
        this.expression(node, 'an expression');
        return;
    }
  }

  /** A statement's fields other than `skip`, walked as expressions; the query with `use`. */
  private nested(query: unknown, use: OutputUse, fields: Fields, skip: string[]): void {
    if (query !== undefined) this.selectNode(query, use);
    for (const key in fields)
      if (!skip.includes(key)) this.expression(fields[key], 'an expression');
  }

  private selectNode(node: unknown, use: OutputUse): void {
    const [type, fields] = unwrap(node);
    if (type === 'SelectStmt') this.select(fields, use);
    else this.expression(node, 'a statement'); // INSERT/UPDATE/DELETE … RETURNING in a CTE
  }

  private select(s: Fields, given: OutputUse): void {
    // SELECT … INTO keeps the names (a rename through a column list is checked here).
    const into = s.intoClause as Fields | undefined; // IntoClause*, not wrapped in its type name
    if (into?.colNames !== undefined) {
      this.renames(into.colNames, { SelectStmt: s }, 'the new table’s column list');
    }
    const op = s.op as string | undefined;
    if (op !== undefined && op !== 'SETOP_NONE') {
      // UNION/INTERSECT/EXCEPT compare values and name the result after the left arm only.
      // larg and rarg are SelectStmt*, not wrapped in their type name.
      this.select((s.larg ?? {}) as Fields, 'value');
      this.select((s.rarg ?? {}) as Fields, 'value');
      this.sortAndRest(s, [], 'a set operation');
      return;
    }
    const use = given;
    const ctes = ((s.withClause as Fields | undefined)?.ctes ?? []) as unknown[];
    for (const cte of ctes) {
      const fields = unwrap(cte)[1];
      this.renames(fields.aliascolnames, fields.ctequery, 'the CTE’s column list');
      this.selectNode(fields.ctequery, use === 'client' ? 'client' : 'value');
    }
    for (const item of (s.fromClause ?? []) as unknown[]) this.fromItem(item, use);

    const targets = (s.targetList ?? []) as unknown[];
    for (const target of targets) this.target(unwrap(target)[1], use);
    if (Array.isArray(s.distinctClause)) {
      const plain = s.distinctClause.length === 1 && isEmptyNode(s.distinctClause[0]);
      if (plain) {
        const masked = targets.map((t) => this.maskedTarget(unwrap(t)[1])).find(Boolean);
        if (masked)
          this.refuse(masked.column, masked.rule, 'SELECT DISTINCT (it compares the values)');
      } else {
        this.positional(s.distinctClause, targets, 'DISTINCT ON');
        this.expression(s.distinctClause, 'DISTINCT ON');
      }
    }
    this.expression(s.whereClause, 'a predicate (WHERE)');
    this.positional(s.groupClause, targets, 'GROUP BY');
    this.expression(s.groupClause, 'GROUP BY');
    this.expression(s.havingClause, 'a predicate (HAVING)');
    this.expression(s.windowClause, 'a window definition');
    this.expression(s.valuesLists, 'VALUES');
    this.sortAndRest(s, targets, 'ORDER BY');
  }

  private sortAndRest(s: Fields, targets: unknown[], where: string): void {
    const sorts = (s.sortClause ?? []) as unknown[];
    this.positional(
      sorts.map((sort) => unwrap(sort)[1].node),
      targets,
      where,
    );
    this.expression(s.sortClause, where === 'ORDER BY' ? 'ORDER BY' : `ORDER BY of ${where}`);
    this.expression(s.limitCount, 'LIMIT');
    this.expression(s.limitOffset, 'OFFSET');
  }

  /** `ORDER BY 2`, `GROUP BY 1`: a position names an output column. */
  private positional(items: unknown, targets: unknown[], where: string): void {
    if (!Array.isArray(items)) return;
    for (const item of items) {
      const position = integerConstant(item);
      if (position === undefined) continue;
      for (let i = 0; i < Math.min(position, targets.length); i++) {
        const target = unwrap(targets[i])[1];
        if (isStar(target.val)) {
          throw new Refused({
            rule: STRICT_LINEAGE_RULE,
            reason: `${where} ${position} names a column of a * expansion, which may be a masked column; name the column instead`,
          });
        }
      }
      const target = targets[position - 1];
      const masked = target === undefined ? undefined : this.maskedTarget(unwrap(target)[1]);
      if (masked) this.refuse(masked.column, masked.rule, where);
    }
  }

  /** The masked column a plain output column shows, if any. */
  private maskedTarget(target: Fields): { column: string; rule: string } | undefined {
    const ref = unwrap(target.val);
    if (ref[0] !== 'ColumnRef') return undefined;
    const column = columnName(ref[1]);
    if (column === undefined) return undefined;
    const rule = this.ruleFor(column);
    return rule === undefined ? undefined : { column, rule: rule.name };
  }

  private target(target: Fields, use: OutputUse): void {
    const [type, ref] = unwrap(target.val);
    if (type !== 'ColumnRef') {
      this.expression(target.val, 'an expression');
      return;
    }
    if (isStar(target.val)) {
      if (use === 'value') {
        throw new Refused({
          rule: STRICT_LINEAGE_RULE,
          reason:
            '* here passes every column on where the gateway cannot mask them (masked columns included); list the columns instead',
        });
      }
      return;
    }
    const column = columnName(ref);
    if (column === undefined) return;
    this.wholeRow(ref, column);
    const rule = this.ruleFor(column);
    if (rule === undefined) return;
    if (use === 'value') {
      this.refuse(
        column,
        rule.name,
        'a value passed on (a subquery, a set operation or INSERT … SELECT)',
      );
    }
    const alias = target.name as string | undefined;
    if (alias !== undefined && this.ruleFor(alias) === undefined) {
      this.refuse(
        column,
        rule.name,
        `an output renamed to "${alias}", which no masking rule matches`,
      );
    }
  }

  private fromItem(item: unknown, use: OutputUse): void {
    const [type, fields] = unwrap(item);
    switch (type) {
      case 'RangeVar': {
        const alias = fields.alias as Fields | undefined;
        if (Array.isArray(alias?.colnames) && alias.colnames.length > 0) {
          throw new Refused({
            rule: STRICT_LINEAGE_RULE,
            reason: `a column alias list on ${String(fields.relname)} renames columns the gateway cannot tell apart (one may be masked); alias them in the SELECT list instead`,
          });
        }
        const view = this.views(
          fields.schemaname as string | undefined,
          String(fields.relname),
          this.seenViews,
        );
        if (view !== undefined) throw new Refused(view);
        return;
      }
      case 'RangeSubselect': {
        const alias = fields.alias as Fields | undefined;
        this.renames(alias?.colnames, fields.subquery, 'the subquery’s column list');
        this.selectNode(fields.subquery, use === 'client' ? 'client' : 'value');
        return;
      }
      case 'JoinExpr': {
        if (fields.isNatural === true) {
          throw new Refused({
            rule: STRICT_LINEAGE_RULE,
            reason:
              'NATURAL JOIN compares every column of the same name, masked ones included; join with ON on named columns',
          });
        }
        for (const name of (fields.usingClause ?? []) as unknown[]) {
          const column = stringValue(name);
          const rule = column === undefined ? undefined : this.ruleFor(column);
          if (column !== undefined && rule !== undefined)
            this.refuse(column, rule.name, 'a join condition (USING)');
        }
        this.fromItem(fields.larg, use);
        this.fromItem(fields.rarg, use);
        this.expression(fields.quals, 'a join condition');
        return;
      }
      default:
        this.expression(item, 'a FROM item');
    }
  }

  /** A column alias list renaming a derived relation's outputs. */
  private renames(colnames: unknown, query: unknown, where: string): void {
    if (!Array.isArray(colnames) || colnames.length === 0) return;
    const [type, s] = unwrap(query);
    if (type !== 'SelectStmt') return;
    const targets = (s.targetList ?? []) as unknown[];
    for (let i = 0; i < Math.min(colnames.length, targets.length); i++) {
      const target = unwrap(targets[i])[1];
      if (isStar(target.val)) {
        throw new Refused({
          rule: STRICT_LINEAGE_RULE,
          reason: `${where} renames the columns of a * expansion, which may hold masked columns; list the columns instead`,
        });
      }
      const output = (target.name as string | undefined) ?? this.maskedTarget(target)?.column;
      const rule = output === undefined ? undefined : this.ruleFor(output);
      const renamed = stringValue(colnames[i]);
      if (
        output !== undefined &&
        rule !== undefined &&
        renamed !== undefined &&
        this.ruleFor(renamed) === undefined
      ) {
        this.refuse(
          output,
          rule.name,
          `${where}, renamed to "${renamed}", which no masking rule matches`,
        );
      }
    }
  }

  private rename(fields: Fields): void {
    if (fields.renameType !== 'OBJECT_COLUMN' && fields.renameType !== 'OBJECT_ATTRIBUTE') return;
    const column = fields.subname as string | undefined;
    const rule = column === undefined ? undefined : this.ruleFor(column);
    const to = fields.newname as string | undefined;
    if (
      column !== undefined &&
      rule !== undefined &&
      (to === undefined || this.ruleFor(to) === undefined)
    ) {
      this.refuse(column, rule.name, `a rename to "${to}", which no masking rule matches`);
    }
  }

  /** Walks anything; every column reference found here is a use other than plain output. */
  private expression(value: unknown, where: string): void {
    if (Array.isArray(value)) {
      for (const item of value) this.expression(item, where);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const object = value as Fields;
    for (const key in object) {
      const child = object[key];
      if (child === null || typeof child !== 'object') continue;
      const code = key.charCodeAt(0);
      if (code < 65 || code > 90 || Array.isArray(child)) {
        this.expression(child, where);
        continue;
      }
      this.node(key, child as Fields, where);
    }
  }

  private node(type: string, fields: Fields, where: string): void {
    switch (type) {
      case 'ColumnRef': {
        const column = columnName(fields);
        if (column === undefined) {
          throw new Refused({
            rule: STRICT_LINEAGE_RULE,
            reason: `a whole-row reference (${columnText(fields)}) in ${where} can carry masked columns the gateway cannot mask there; name the columns instead`,
          });
        }
        this.wholeRow(fields, column, where);
        const rule = this.ruleFor(column);
        if (rule !== undefined) this.refuse(column, rule.name, where);
        return;
      }
      case 'FuncCall': {
        const name = functionName(fields.funcname);
        if (!this.mayCall(name)) {
          throw new Refused({
            rule: STRICT_FUNCTIONS_RULE,
            reason: `${name}() is not a harmless built-in, and the gateway cannot see what its body reads; an admin can add it to the policy's allowedFunctions`,
          });
        }
        this.expression(fields.args, `an argument of ${name}()`);
        this.expression(fields.agg_order, `the ORDER BY of ${name}()`);
        this.expression(fields.agg_filter, `the FILTER of ${name}()`);
        this.expression(fields.over, `the window of ${name}()`);
        return;
      }
      case 'TypeCast':
        this.expression(fields.arg, 'a cast');
        this.expression(fields.typeName, 'a cast');
        return;
      case 'SubLink': {
        // EXISTS looks only at whether rows exist; every other sublink passes values on.
        const use: OutputUse = fields.subLinkType === 'EXISTS_SUBLINK' ? 'discarded' : 'value';
        this.expression(fields.testexpr, where);
        this.selectNode(fields.subselect, use);
        return;
      }
      case 'SelectStmt':
        this.select(fields, 'value');
        return;
      case 'InsertStmt':
      case 'UpdateStmt':
      case 'DeleteStmt':
      case 'MergeStmt':
        this.modify(type, fields);
        return;
      case 'DoStmt':
      case 'RenameStmt':
      case 'ViewStmt':
      case 'CreateTableAsStmt':
        this.statement({ [type]: fields });
        return;
      default:
        this.expression(fields, where);
    }
  }

  private modify(type: string, fields: Fields): void {
    for (const key in fields) {
      const child = fields[key];
      if (key === 'selectStmt') this.selectNode(child, 'value');
      else if (key === 'returningList') {
        for (const target of (child ?? []) as unknown[]) this.target(unwrap(target)[1], 'client');
      } else if (key === 'targetList' && type === 'UpdateStmt') {
        // SET col = expr: the column named is written, its old value is not read.
        for (const target of (child ?? []) as unknown[])
          this.expression(unwrap(target)[1].val, 'an expression');
      } else if (key === 'withClause') {
        for (const cte of ((child as Fields).ctes ?? []) as unknown[]) {
          this.selectNode(unwrap(cte)[1].ctequery, 'value');
        }
      } else if (key === 'whereClause') this.expression(child, 'a predicate (WHERE)');
      else if (key === 'fromClause' || key === 'usingClause') {
        for (const item of (child ?? []) as unknown[]) this.fromItem(item, 'value');
      } else if (key === 'cols')
        continue; // INSERT's column names: written, not read
      else this.expression(child, 'an expression');
    }
  }

  private mayCall(name: string): boolean {
    const lower = name.toLowerCase();
    if (this.allowed.has(lower)) return true;
    const dot = lower.lastIndexOf('.');
    const schema = dot === -1 ? undefined : lower.slice(0, dot);
    const bare = lower.slice(dot + 1);
    if (ROW_READING_BUILTINS.has(bare)) return false;
    if (schema === 'pg_catalog') return true; // only a superuser can put functions there
    return schema === undefined && HARMLESS_FUNCTIONS.has(bare);
  }

  /** A bare name equal to a FROM item's name is that item's whole row (`SELECT c FROM t c`). */
  private wholeRow(ref: Fields, column: string, where = 'an output column'): void {
    const fields = ref.fields as unknown[];
    if (fields.length === 1 && this.rangeNames.has(column) && this.ruleFor(column) === undefined) {
      throw new Refused({
        rule: STRICT_LINEAGE_RULE,
        reason: `${column} as a value in ${where} is a whole row, which can carry masked columns the gateway cannot mask there; name the columns instead`,
      });
    }
  }

  private refuse(column: string, rule: string, where: string): never {
    throw new Refused({
      rule,
      reason: `strict masking rule "${rule}": the masked column ${column} may appear only as a plain output column, not in ${where}`,
    });
  }
}

function unwrap(node: unknown): [string, Fields] {
  if (node === null || typeof node !== 'object') return ['', {}];
  for (const key in node as Fields) return [key, (node as Record<string, Fields>)[key] ?? {}];
  return ['', {}];
}

function isEmptyNode(node: unknown): boolean {
  return node !== null && typeof node === 'object' && Object.keys(node).length === 0;
}

function stringValue(node: unknown): string | undefined {
  const value = (node as { String?: { sval?: unknown } } | null)?.String?.sval;
  return typeof value === 'string' ? value : undefined;
}

/** The column a reference names (its last part), or undefined for `*` and `t.*`. */
function columnName(ref: Fields): string | undefined {
  const fields = ref.fields as unknown[] | undefined;
  const last = fields?.[fields.length - 1];
  return stringValue(last);
}

function columnText(ref: Fields): string {
  return ((ref.fields ?? []) as unknown[]).map((part) => stringValue(part) ?? '*').join('.');
}

function isStar(node: unknown): boolean {
  const [type, ref] = unwrap(node);
  return type === 'ColumnRef' && columnName(ref) === undefined;
}

function integerConstant(node: unknown): number | undefined {
  const constant = (node as { A_Const?: { ival?: { ival?: unknown } } } | null)?.A_Const;
  if (constant?.ival === undefined) return undefined;
  const value = constant.ival.ival;
  return typeof value === 'number' ? value : 0; // libpg_query omits a zero
}

function functionName(names: unknown): string {
  return ((names ?? []) as unknown[]).map((part) => stringValue(part) ?? '?').join('.');
}

function collectRangeNames(value: unknown, into: Set<string>): void {
  if (Array.isArray(value)) {
    for (const item of value) collectRangeNames(item, into);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const key in value as Fields) {
    const child = (value as Fields)[key];
    if (child === null || typeof child !== 'object') continue;
    // Not RangeFunction: `FROM generate_series(1, 3) s` makes a bare `s` the function's value
    // (psql's \d queries do this), and a function in FROM is checked as a call anyway.
    if (key === 'RangeVar' || key === 'RangeSubselect') {
      const fields = child as Fields;
      const alias = (fields.alias as Fields | undefined)?.aliasname;
      if (typeof alias === 'string') into.add(alias);
      else if (typeof fields.relname === 'string') into.add(fields.relname);
    }
    if (key === 'CommonTableExpr' && typeof (child as Fields).ctename === 'string') {
      into.add((child as Fields).ctename as string);
    }
    collectRangeNames(child, into);
  }
}
