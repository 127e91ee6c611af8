/**
 * What one PostgreSQL session is held to: the union of its resource's and its grant's masking
 * and guardrail rules (apiSchemas: a grant's policy is "added, for sessions under this grant,
 * to the resource's own"), plus rules of the gateway's own, each with a name (issue #13):
 *
 * - `client_encoding` (always): client_encoding stays UTF8, because the gateway reads queries
 *   and results as UTF-8 (a client that switched to e.g. SJIS could hide a quote inside a
 *   multi-byte character).
 * - `lexing_settings` (while a policy applies): settings that change how PostgreSQL reads SQL
 *   (standard_conforming_strings, backslash_quote) cannot be changed, because the parser the
 *   policy decides with reads SQL as the server does with their defaults.
 * - `unparsable` (while a policy applies): a query PostgreSQL's grammar does not accept is
 *   refused, since nothing can be said of what it does.
 *
 * Each query is parsed once (sqlParse.ts) and every rule decides on that parse. The proxy also
 * watches the server's ParameterStatus for client_encoding and standard_conforming_strings,
 * which catches what no parse can see (a function that calls set_config); see
 * protocolTracker.ts for how pipelined messages are held until that is known.
 */
import { type DatabasePolicy, maskingModeOf } from '../../../shared/api/apiSchemas.ts';
import { compileGuardrails, type Guardrails } from '../../policy/guardrails.ts';
import { compileMasking, type ResultMasker } from '../../policy/masking.ts';
import {
  lastName,
  type ParsedQuery,
  type ParsedStatement,
  type SqlParser,
  stringConstant,
  walkNodes,
} from '../../policy/sqlParse.ts';
import { compileStrictMasking, type StrictColumnRule } from '../../policy/strictMasking.ts';
import { SQLSTATE } from './errorResponses.ts';

export type StatementVerdict =
  | { blocked: false }
  | {
      blocked: true;
      rule: string;
      statement: string;
      reason: string;
      /** SQLSTATE for the ErrorResponse. */
      code: string;
      /** True for the gateway's own rules (not an admin's guardrail). */
      builtIn: boolean;
      /** What kind of rule refused, for the client's message; default by builtIn. */
      label?: 'strict masking';
    };

export interface SessionPolicy {
  masker: ResultMasker;
  hasGuardrails: boolean;
  /**
   * Guardrails or masking apply: the lexing settings are pinned, unparsable statements are
   * refused, and pipelined statements whose reading depends on those settings wait.
   */
  enforcing: boolean;
  /** Checks every statement of one query string (a Query message, or a Parse's text). */
  check(sql: string): StatementVerdict;
  /** The parse of a query string (cached by the parser: check's parse is not repeated). */
  parse(sql: string): ParsedQuery;
  /**
   * A query to run on the target when the session starts, before the client's first byte
   * (strict masking reads the target's view definitions); undefined when nothing needs it.
   */
  catalogQuery: string | undefined;
  /** Takes the rows `catalogQuery` returned. */
  learnCatalog(rows: readonly (readonly (string | null)[])[]): void;
}

/**
 * The target's views and materialized views with their definitions (schema, name, SELECT).
 * The system schemas are left out: their views show the catalog, not the policy's tables.
 */
export const VIEW_CATALOG_QUERY =
  "SELECT n.nspname, c.relname, pg_catalog.pg_get_viewdef(c.oid) FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'";

export const CLIENT_ENCODING_RULE = 'client_encoding';
export const LEXING_SETTINGS_RULE = 'lexing_settings';
export const UNPARSABLE_RULE = 'unparsable';

/** Settings that change how PostgreSQL's lexer reads a query (besides client_encoding). */
export const LEXING_SETTINGS: ReadonlySet<string> = new Set([
  'standard_conforming_strings',
  'backslash_quote',
]);

const CLIENT_ENCODING_REASON =
  'client_encoding cannot be changed in a session through Witness: the gateway reads queries and results as UTF-8';
/** A set_config whose setting name is not a constant could name anything. */
const UNKNOWN_SETTING = '*';

const ALLOWED: StatementVerdict = { blocked: false };

/**
 * Whether a query's text can hold a change of setting at all, tested before walking its tree
 * for one (a walk per new text costs the relay ~6 µs at load; most statements change no
 * setting). It only decides whether to look, never what was found: every statement that
 * changes a setting holds the letters `set` — the keywords SET and RESET (also in ALTER … SET,
 * a function's SET clause, SET NAMES) and the function name set_config, which as an identifier
 * is written as is, double-quoted or, the one spelling that can hide its letters, as a Unicode
 * escape `U&"…"`. Keywords have no escaped spelling in PostgreSQL's grammar.
 */
const MAY_CHANGE_SETTINGS = /set|u&/i;

export function compileSessionPolicy(
  parser: SqlParser,
  ...policies: DatabasePolicy[]
): SessionPolicy {
  const guardrailRules = policies.flatMap((policy) => policy.guardrails);
  const maskingRules = policies.flatMap((policy) => policy.masking);
  const guardrails: Guardrails = compileGuardrails(guardrailRules);
  const masker = compileMasking(maskingRules);
  const enforcing = guardrailRules.length > 0 || masker.hasRules;
  const strict = compileStrictPolicies(policies);
  return {
    catalogQuery: strict === undefined ? undefined : VIEW_CATALOG_QUERY,
    learnCatalog(rows) {
      strict?.learnViews(
        rows.map(([schema, name, definition]) => {
          const parsed = definition ? parser.parse(definition) : undefined;
          const only =
            parsed?.ok && parsed.statements.length === 1 ? parsed.statements[0] : undefined;
          return { schema: schema ?? '', name: name ?? '', query: only?.node };
        }),
      );
    },
    masker,
    hasGuardrails: guardrailRules.length > 0,
    enforcing,
    parse: (sql) => parser.parse(sql),
    check(sql) {
      // Without a policy only client_encoding is watched (and backed by ParameterStatus):
      // a statement must name it, NAMES, set_config, or spell a name with U&"…" to change it.
      if (!enforcing && !/client_encoding|names|set_config|u&/i.test(sql)) return ALLOWED;
      const parsed = parser.parse(sql);
      if (!parsed.ok) {
        if (!enforcing) return ALLOWED; // the server will refuse it too
        return builtInBlock(
          UNPARSABLE_RULE,
          sql.trim(),
          `PostgreSQL's grammar does not accept this query (${parsed.error}), so the gateway cannot tell what it would do; correct it and retry`,
        );
      }
      if (MAY_CHANGE_SETTINGS.test(sql)) {
        for (const statement of parsed.statements) {
          const verdict = checkSettings(statement, enforcing);
          if (verdict.blocked) return verdict;
        }
      }
      // Guardrails first: a statement both refuse is reported under the admin's guardrail.
      const verdict = guardrailRules.length === 0 ? undefined : guardrails.check(parsed.statements);
      if (verdict === undefined || !verdict.blocked) {
        if (strict !== undefined) {
          const refusal = strict.check(parsed.statements);
          if (refusal.refused) {
            return {
              blocked: true,
              rule: refusal.rule,
              statement: refusal.statement,
              reason: refusal.reason,
              code: SQLSTATE.insufficientPrivilege,
              builtIn: false,
              label: 'strict masking',
            };
          }
        }
        return ALLOWED;
      }
      return {
        blocked: true,
        rule: verdict.rule,
        statement: verdict.statement,
        reason: verdict.reason,
        code: SQLSTATE.insufficientPrivilege,
        builtIn: false,
      };
    },
  };
}

/**
 * Strict mode over the column rules of the policies that are strict (a policy's mode holds for
 * its own rules: a basic resource policy stays basic under a strict grant policy), with the
 * functions any strict policy allows. Undefined when no strict policy has a column rule.
 */
function compileStrictPolicies(policies: readonly DatabasePolicy[]) {
  const strictPolicies = policies.filter((policy) => maskingModeOf(policy) === 'strict');
  const rules: StrictColumnRule[] = [];
  for (const policy of strictPolicies) {
    for (const rule of policy.masking) {
      if (rule.match.kind === 'column')
        rules.push({ name: rule.name, pattern: rule.match.pattern });
    }
  }
  if (rules.length === 0) return undefined;
  return compileStrictMasking(
    rules,
    strictPolicies.flatMap((policy) => policy.allowedFunctions ?? []),
  );
}

function checkSettings(statement: ParsedStatement, enforcing: boolean): StatementVerdict {
  const changes = settingsChanged(statement);
  if (changes.size === 0) return ALLOWED;
  // RESET client_encoding returns to the startup value, which the gateway set to UTF8.
  if (changes.get('client_encoding') === 'set') {
    return builtInBlock(CLIENT_ENCODING_RULE, statement.text, CLIENT_ENCODING_REASON);
  }
  // Without a policy a set_config of a computed name is left to the ParameterStatus check.
  if (!enforcing) return ALLOWED;
  for (const name of changes.keys()) {
    if (name === UNKNOWN_SETTING) {
      return builtInBlock(
        LEXING_SETTINGS_RULE,
        statement.text,
        'set_config with a setting name that is not a constant could change how SQL is read, which the policies on this database depend on; name the setting as a string',
      );
    }
    if (LEXING_SETTINGS.has(name)) {
      return builtInBlock(
        LEXING_SETTINGS_RULE,
        statement.text,
        `${name} cannot be changed while masking or guardrails apply: it changes how PostgreSQL reads SQL, and the gateway checks queries as read with its default`,
      );
    }
  }
  return ALLOWED;
}

/**
 * The settings a statement changes anywhere in its tree, lower-cased, each as set or reset:
 * `SET`, `SET LOCAL`, `SET NAMES` (client_encoding), `RESET x`, `SET x FROM CURRENT`, a
 * function's, a role's, a database's or the system's `SET x = …`, and calls of set_config
 * (UNKNOWN_SETTING when its name is not a constant). A reset of a lexing setting is refused
 * too: its reset value may come from the role or the database, which an earlier statement
 * can have changed. `RESET ALL` (and DISCARD ALL) are allowed: they also restore
 * client_encoding, and the server reports a changed standard_conforming_strings at once.
 */
function settingsChanged(statement: ParsedStatement): Map<string, 'set' | 'reset'> {
  const changes = new Map<string, 'set' | 'reset'>();
  const note = (setting: unknown) => {
    const { kind, name } = (setting ?? {}) as { kind?: unknown; name?: unknown };
    if (kind === 'VAR_RESET_ALL' || typeof name !== 'string') return;
    const key = name.toLowerCase();
    if (changes.get(key) !== 'set') changes.set(key, kind === 'VAR_RESET' ? 'reset' : 'set');
  };
  walkNodes(statement.node, (type, fields) => {
    if (type === 'VariableSetStmt') {
      note(fields);
    } else if (fields.setstmt !== undefined) {
      // ALTER ROLE / DATABASE / SYSTEM … SET: the parse tree holds the SET unwrapped.
      note(fields.setstmt);
    } else if (type === 'FuncCall' && lastName(fields.funcname)?.toLowerCase() === 'set_config') {
      const first = Array.isArray(fields.args) ? fields.args[0] : undefined;
      changes.set(stringConstant(first)?.trim().toLowerCase() ?? UNKNOWN_SETTING, 'set');
    }
    return true;
  });
  return changes;
}

function builtInBlock(rule: string, statement: string, reason: string): StatementVerdict {
  return {
    blocked: true,
    rule,
    statement,
    reason,
    code: SQLSTATE.insufficientPrivilege,
    builtIn: true,
  };
}
