/**
 * The policies page's pure parts (issue #14): new rules, the sample result typed as text, and
 * the checks made as the admin types. The gateway validates the policy for real (the same
 * schema grants and resources use) and decides the trial with the proxy's own code.
 */
import type {
  GuardrailRuleDraft,
  MaskingRuleDraft,
  PolicyDraft,
} from '../../../../main/ipc/contract.ts';

/** The gateway's statement classes, for the guardrail checkboxes (contract.ts restates them). */
export const STATEMENT_CLASSES = [
  'drop',
  'truncate',
  'alter',
  'delete_without_where',
  'update_without_where',
  'merge_modify',
  'copy_from',
  'call',
  'do',
  'create_function',
  'create_trigger',
  'create_rule',
] as const satisfies readonly Extract<
  GuardrailRuleDraft,
  { kind: 'statement' }
>['classes'][number][];

export const EMPTY_POLICY: PolicyDraft = { masking: [], guardrails: [], maskingMode: 'strict' };

export function newMaskingRule(index: number): MaskingRuleDraft {
  return { name: `mask-${index + 1}`, match: { kind: 'column', pattern: '' }, style: 'full' };
}

export function newGuardrail(index: number): GuardrailRuleDraft {
  return { kind: 'statement', name: `guardrail-${index + 1}`, classes: ['drop', 'truncate'] };
}

/** Field errors by the names the gateway's issues use (`masking.0.pattern`, `guardrails.1.name`). */
export function validatePolicy(policy: PolicyDraft): Record<string, string> {
  const errors: Record<string, string> = {};
  const checkPattern = (key: string, pattern: string) => {
    if (pattern === '') {
      errors[key] = 'Write a regular expression.';
      return;
    }
    try {
      new RegExp(pattern, 'iu');
    } catch {
      errors[key] = 'Not a valid regular expression.';
    }
  };
  policy.masking.forEach((rule, i) => {
    if (rule.name.trim() === '') errors[`masking.${i}.name`] = 'Name the rule.';
    if (rule.match.kind === 'column' || rule.match.kind === 'value') {
      checkPattern(`masking.${i}.pattern`, rule.match.pattern);
    }
    if (rule.match.kind === 'type' && rule.match.types.length === 0) {
      errors[`masking.${i}.types`] = 'Name at least one type, e.g. text.';
    }
  });
  policy.guardrails.forEach((rule, i) => {
    if (rule.name.trim() === '') errors[`guardrails.${i}.name`] = 'Name the rule.';
    if (rule.kind === 'statement' && rule.classes.length === 0) {
      errors[`guardrails.${i}.classes`] = 'Pick at least one statement class.';
    }
    if (rule.kind === 'regex') checkPattern(`guardrails.${i}.pattern`, rule.pattern);
  });
  return errors;
}

export interface SampleResult {
  columns: { name: string; type: string }[];
  rows: (string | null)[][];
}

/**
 * The sample result as typed: columns `name:type, name:type` (type defaults to text), one row
 * per line with values separated by `|`, `NULL` for NULL. A string explains what is wrong.
 */
export function parseSampleResult(
  columnsText: string,
  rowsText: string,
): SampleResult | undefined | string {
  if (columnsText.trim() === '')
    return rowsText.trim() === '' ? undefined : 'Name the columns first.';
  const columns = columnsText
    .split(',')
    .map((c) => c.trim())
    .filter(Boolean)
    .map((c) => {
      const [name = '', type = 'text'] = c.split(':').map((p) => p.trim());
      return { name, type: type || 'text' };
    });
  if (columns.some((c) => c.name === '')) return 'Each column needs a name.';
  const rows: (string | null)[][] = [];
  for (const [i, line] of rowsText.split('\n').entries()) {
    if (line.trim() === '') continue;
    const values = line.split('|').map((v) => v.trim());
    if (values.length !== columns.length) {
      return `Row ${i + 1} has ${values.length} values; there are ${columns.length} columns.`;
    }
    rows.push(values.map((v) => (v === 'NULL' ? null : v)));
  }
  return { columns, rows };
}
