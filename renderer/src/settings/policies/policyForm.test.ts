import { describe, expect, it } from 'vitest';
import { newMaskingRule, parseSampleResult, validatePolicy } from './policyForm.ts';

describe('the policy form', () => {
  it('names the rule field that is wrong, as the gateway names it', () => {
    const errors = validatePolicy({
      maskingMode: 'strict',
      masking: [{ ...newMaskingRule(0), match: { kind: 'column', pattern: '(' } }],
      guardrails: [
        { kind: 'statement', name: 'g', classes: [] },
        { kind: 'regex', name: '', pattern: 'x' },
      ],
    });
    expect(errors).toEqual({
      'masking.0.pattern': 'Not a valid regular expression.',
      'guardrails.0.classes': expect.any(String),
      'guardrails.1.name': 'Name the rule.',
    });
  });

  it('reads a sample result typed as text', () => {
    expect(parseSampleResult('id:int4, email', '1 | ann@example.com\n2 | NULL\n')).toEqual({
      columns: [
        { name: 'id', type: 'int4' },
        { name: 'email', type: 'text' },
      ],
      rows: [
        ['1', 'ann@example.com'],
        ['2', null],
      ],
    });
    expect(parseSampleResult('', '')).toBeUndefined();
    expect(parseSampleResult('a, b', '1')).toBe('Row 1 has 1 values; there are 2 columns.');
  });
});
