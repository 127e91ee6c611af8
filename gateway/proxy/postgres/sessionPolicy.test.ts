import { describe, expect, it } from 'vitest';
import { compileSessionPolicy } from './sessionPolicy.ts';

const none = { masking: [], guardrails: [] };

describe('compileSessionPolicy', () => {
  it('keeps client_encoding UTF8 however a statement tries to change it', () => {
    const policy = compileSessionPolicy(none);
    for (const sql of [
      "SET client_encoding TO 'SJIS'",
      "set session client_encoding = 'LATIN1'",
      "SET LOCAL client_encoding TO 'LATIN1'",
      "SET NAMES 'LATIN1'",
      'SET "client_encoding" TO \'LATIN1\'',
      'SET U&"client\\005fencoding" TO \'LATIN1\'',
      "SELECT 1; SET client_encoding TO 'SJIS'",
      "SELECT set_config('client_encoding', 'SJIS', false)",
      "SELECT pg_catalog.set_config('CLIENT_ENCODING', 'SJIS', false)",
    ]) {
      expect(policy.check(sql, true), sql).toMatchObject({
        blocked: true,
        rule: 'client_encoding',
        code: '0A000',
        builtIn: true,
      });
    }
    for (const sql of [
      'RESET client_encoding',
      'SHOW client_encoding',
      "SELECT 'SET client_encoding TO SJIS'",
      "SELECT current_setting('client_encoding')",
      'SELECT names FROM people',
    ]) {
      expect(policy.check(sql, true), sql).toEqual({ blocked: false });
    }
  });

  it("applies the union of the resource's and the grant's rules", () => {
    const policy = compileSessionPolicy(
      { masking: [], guardrails: [{ kind: 'statement', name: 'no-drop', classes: ['drop'] }] },
      {
        masking: [{ name: 'emails', match: { kind: 'preset', preset: 'email' }, style: 'full' }],
        guardrails: [{ kind: 'regex', name: 'no-grants', pattern: '^grant\\b' }],
      },
    );
    expect(policy.hasGuardrails).toBe(true);
    expect(policy.masker.hasRules).toBe(true);
    expect(policy.check('DROP TABLE t', true)).toMatchObject({ rule: 'no-drop', code: '42501' });
    expect(policy.check('GRANT ALL ON t TO x', true)).toMatchObject({ rule: 'no-grants' });
    expect(policy.check('SELECT 1', true)).toEqual({ blocked: false });
    expect(compileSessionPolicy(none, none).hasGuardrails).toBe(false);
  });
});
