/**
 * What one PostgreSQL session is held to: the union of its resource's and its grant's masking
 * and guardrail rules (apiSchemas: a grant's policy is "added, for sessions under this grant,
 * to the resource's own"), plus one rule of the gateway's own: client_encoding stays UTF8,
 * because the guardrail lexer and masking read the bytes as UTF-8 (a client that switched to
 * e.g. SJIS could hide a quote inside a multi-byte character). The proxy also watches the
 * server's ParameterStatus for client_encoding, which catches what no lexer can see (a function
 * that calls set_config).
 */
import type { DatabasePolicy } from '../../../shared/api/apiSchemas.ts';
import { compileGuardrails, type Guardrails } from '../../policy/guardrails.ts';
import { compileMasking, type ResultMasker } from '../../policy/masking.ts';
import { type SqlStatement, splitStatements } from '../../policy/sqlLexer.ts';
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
    };

export interface SessionPolicy {
  masker: ResultMasker;
  hasGuardrails: boolean;
  /** Checks every statement of one query string (a Query message, or a Parse's text). */
  check(sql: string, standardConformingStrings: boolean): StatementVerdict;
}

export const CLIENT_ENCODING_RULE = 'client_encoding';
const CLIENT_ENCODING_REASON =
  'client_encoding cannot be changed in a session through Witness: the gateway reads queries and results as UTF-8';

const ALLOWED: StatementVerdict = { blocked: false };

export function compileSessionPolicy(...policies: DatabasePolicy[]): SessionPolicy {
  const guardrailRules = policies.flatMap((policy) => policy.guardrails);
  const maskingRules = policies.flatMap((policy) => policy.masking);
  const guardrails: Guardrails = compileGuardrails(guardrailRules);
  const masker = compileMasking(maskingRules);
  return {
    masker,
    hasGuardrails: guardrailRules.length > 0,
    check(sql, standardConformingStrings) {
      // Cheap pre-test: the statement must name the setting (or NAMES) to change it.
      if (/client_encoding|names|set_config|u&/i.test(sql)) {
        for (const statement of splitStatements(sql, { standardConformingStrings })) {
          if (changesClientEncoding(statement)) {
            return {
              blocked: true,
              rule: CLIENT_ENCODING_RULE,
              statement: statement.text.trim(),
              reason: CLIENT_ENCODING_REASON,
              code: SQLSTATE.featureNotSupported,
              builtIn: true,
            };
          }
        }
      }
      if (guardrailRules.length === 0) return ALLOWED;
      const verdict = guardrails.checkStatements(sql, { standardConformingStrings });
      if (!verdict.blocked) return ALLOWED;
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
 * `SET [SESSION|LOCAL] client_encoding …`, `SET [SESSION|LOCAL] NAMES …`, or a call of
 * set_config('client_encoding', …) anywhere in the statement. RESET client_encoding and RESET
 * ALL are harmless: they return to the startup value, which the gateway set to UTF8.
 */
function changesClientEncoding(statement: SqlStatement): boolean {
  const tokens = statement.tokens;
  if (tokens[0]?.keyword === 'SET') {
    let i = 1;
    if (tokens[i]?.keyword === 'SESSION' || tokens[i]?.keyword === 'LOCAL') i++;
    const name = tokens[i];
    if (name?.keyword === 'NAMES') return true;
    if (name && settingName(name.text) === 'client_encoding') return true;
  }
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i]!.keyword !== 'SET_CONFIG' && settingName(tokens[i]!.text) !== 'set_config') {
      continue;
    }
    // Any string argument naming the setting: set_config('client_encoding', 'SJIS', false).
    for (let j = i + 1; j < tokens.length && j < i + 4; j++) {
      const token = tokens[j]!;
      if (token.kind === 'string' && /client_encoding/i.test(token.text)) return true;
    }
  }
  return false;
}

/**
 * A word or quoted identifier as the name it denotes: unquoted words fold to lower case,
 * `"x"` is taken as written, `U&"client\005fencoding"` has its escapes decoded (with the
 * default escape character; a UESCAPE clause is left to the ParameterStatus check).
 */
function settingName(text: string): string {
  if (/^u&"/i.test(text) && text.endsWith('"')) {
    return text
      .slice(3, -1)
      .replace(/""/g, '"')
      .replace(/\\(?:\+([0-9a-f]{6})|([0-9a-f]{4})|\\)/gi, (sequence, long, short) => {
        const code = Number.parseInt(long ?? short ?? '5c', 16);
        return code <= 0x10ffff ? String.fromCodePoint(code) : sequence;
      });
  }
  if (text.startsWith('"') && text.endsWith('"') && text.length >= 2) {
    return text.slice(1, -1).replace(/""/g, '"');
  }
  return text.toLowerCase();
}
