import { describe, expect, it } from 'vitest';
import { blockedBy } from './blockedStatement.ts';

describe('blockedBy', () => {
  it('names the guardrail and its reason', () => {
    expect(blockedBy('42501', 'blocked by guardrail "no-drop": DROP TABLE is not allowed')).toEqual(
      {
        rule: 'no-drop',
        reason: 'DROP TABLE is not allowed',
      },
    );
  });

  it('names built-in gateway rules, strict masking and masking refusals', () => {
    expect(blockedBy('42501', 'blocked by gateway rule "fast-path": no')?.rule).toBe('fast-path');
    expect(blockedBy('42501', 'blocked by strict masking: cast of ssn')?.rule).toBe(
      'strict masking',
    );
    expect(blockedBy('42501', 'refused by the gateway: binary COPY')).toEqual({
      rule: 'masking',
      reason: 'binary COPY',
    });
  });

  it('ignores the same words under another SQLSTATE and ordinary permission errors', () => {
    expect(blockedBy('P0001', 'blocked by guardrail "x": y')).toBeNull();
    expect(blockedBy('42501', 'permission denied for table orders')).toBeNull();
  });
});
