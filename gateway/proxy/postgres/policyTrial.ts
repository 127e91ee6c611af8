/**
 * "Try it" for a masking and guardrail policy (issue #14, `POST /v1/policies/try`): what a
 * PostgreSQL session held to this policy would do with a sample query, and how a sample result
 * would reach the client. It runs the session's own code — `compileSessionPolicy` (guardrails
 * and strict masking on libpg_query's parse, the gateway's built-in rules) and its result
 * masker — not a copy, so the answer is the proxy's answer.
 *
 * What a trial cannot know: the target's views (strict masking reads their definitions when a
 * session starts), and types that have no built-in OID. Those are said in `notes`.
 */
import {
  type DatabasePolicy,
  maskingModeOf,
  type PolicyTryResult,
} from '../../../shared/api/apiSchemas.ts';
import { type ColumnMask, typeOidsForName } from '../../policy/masking.ts';
import type { SqlParser } from '../../policy/sqlParse.ts';
import { compileSessionPolicy } from './sessionPolicy.ts';

export interface SampleResult {
  columns: { name: string; type: string }[];
  rows: (string | null)[][];
}

export interface PolicyTrialInput {
  policy: DatabasePolicy;
  sampleQuery: string;
  sampleResult?: SampleResult | undefined;
}

const TEXT_OID = typeOidsForName('text')[0] ?? 25;

/** Decides one trial. `parser` is the process's PostgreSQL parser (sqlParse.ts). */
export function tryPolicy(parser: SqlParser, input: PolicyTrialInput): PolicyTryResult {
  const session = compileSessionPolicy(parser, input.policy);
  const notes: string[] = [];
  for (const name of session.masker.unknownTypeNames) {
    notes.push(
      `The type ${name} in a masking rule is not a built-in type: the rule matches no column.`,
    );
  }
  const strictColumns =
    maskingModeOf(input.policy) === 'strict' &&
    input.policy.masking.some((rule) => rule.match.kind === 'column');
  if (strictColumns) {
    notes.push(
      "Strict masking also refuses queries through the target's views over masked columns; a trial does not know the target's views.",
    );
  }

  const verdict = session.check(input.sampleQuery);
  if (verdict.blocked) {
    return {
      verdict: 'refused',
      refusal: {
        rule: verdict.rule,
        kind: verdict.builtIn
          ? 'built_in'
          : verdict.label === 'strict masking'
            ? 'strict_masking'
            : 'guardrail',
        statement: verdict.statement,
        reason: verdict.reason,
      },
      result: null,
      notes,
    };
  }
  if (!input.sampleResult) return { verdict: 'allowed', refusal: null, result: null, notes };

  const { columns, rows } = input.sampleResult;
  const plan = session.masker.forColumns(
    columns.map((column) => {
      const oid = typeOidsForName(column.type)[0];
      if (oid === undefined) {
        notes.push(
          `The sample column ${column.name} has the type ${column.type}, which is not built in: tried as text.`,
        );
      }
      return { name: column.name, typeOid: oid ?? TEXT_OID, format: 0 };
    }),
  );
  const masked = rows.map((row) => {
    const values = row.map((value) => (value === null ? null : Buffer.from(value, 'utf8')));
    return session.masker
      .maskRow(plan, values)
      .values.map((value) => value?.toString('utf8') ?? null);
  });
  return {
    verdict: 'allowed',
    refusal: null,
    result: {
      columns: columns.map((column, i) => ({ ...column, ...treatmentOf(plan.columns[i]) })),
      rows: masked,
    },
    notes,
  };
}

/** What masking does to one column of the sample, as the answer names it. */
function treatmentOf(mask: ColumnMask | undefined): {
  treatment: 'clear' | 'masked' | 'nulled' | 'scanned';
  rules: string[];
} {
  if (mask === undefined || mask.kind === 'clear') return { treatment: 'clear', rules: [] };
  if (mask.kind === 'replace') return { treatment: 'masked', rules: [mask.rule] };
  if (mask.kind === 'null') return { treatment: 'nulled', rules: [mask.rule] };
  return { treatment: 'scanned', rules: [...mask.rules] };
}
