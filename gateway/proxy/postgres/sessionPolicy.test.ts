import { describe, expect, it } from 'vitest';
import { loadSqlParser } from '../../policy/sqlParse.ts';
import { compileSessionPolicy } from './sessionPolicy.ts';

const parser = await loadSqlParser();
const none = { masking: [], guardrails: [] };
const masked = {
  masking: [
    { name: 'ssn', match: { kind: 'column' as const, pattern: '^ssn$' }, style: 'full' as const },
  ],
  guardrails: [],
};

describe('compileSessionPolicy', () => {
  it('keeps client_encoding UTF8 however a statement tries to change it', () => {
    const policy = compileSessionPolicy(parser, none);
    for (const sql of [
      "SET client_encoding TO 'SJIS'",
      "set session client_encoding = 'LATIN1'",
      "SET LOCAL client_encoding TO 'LATIN1'",
      "SET NAMES 'LATIN1'",
      'SET "client_encoding" TO \'LATIN1\'',
      'SET U&"client\\005fencoding" TO \'LATIN1\'',
      `SET U&"client!005fencoding" UESCAPE '!' TO 'LATIN1'`,
      "SELECT 1; SET client_encoding TO 'SJIS'",
      "SELECT set_config('client_encoding', 'SJIS', false)",
      "SELECT pg_catalog.set_config('CLIENT_ENCODING', 'SJIS', false)",
      "SELECT * FROM set_config('client_encoding', 'SJIS', false)",
    ]) {
      expect(policy.check(sql), sql).toMatchObject({
        blocked: true,
        rule: 'client_encoding',
        code: '42501',
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
      expect(policy.check(sql), sql).toEqual({ blocked: false });
    }
  });

  it('pins the lexing settings while masking or guardrails apply, and only then', () => {
    const policy = compileSessionPolicy(parser, masked);
    expect(policy.enforcing).toBe(true);
    for (const sql of [
      'SET standard_conforming_strings = off',
      'set standard_conforming_strings to on',
      'SET LOCAL standard_conforming_strings TO DEFAULT',
      'SET SESSION "standard_conforming_strings" = off',
      `SET U&"standard!005fconforming_strings" UESCAPE '!' = off`,
      'RESET standard_conforming_strings',
      'SET backslash_quote = on',
      'SELECT 1; SET backslash_quote TO safe_encoding',
      "SELECT set_config('standard_conforming_strings', 'off', false)",
      "SELECT set_config(' Standard_Conforming_Strings ', 'off', false)",
      "SELECT set_config('standard_' || 'conforming_strings', 'off', false)",
      // Spellings of set_config the text pre-filter (MAY_CHANGE_SETTINGS) must still look at.
      `SELECT U&"\\0073et_config"('standard_conforming_strings', 'off', false)`,
      `SELECT u&"!0073!0065!0074_config" UESCAPE '!'('standard_conforming_strings', 'off', false)`,
      `SELECT pg_catalog.SeT_CoNfIg('backslash_quote', 'on', false)`,
      'ALTER ROLE CURRENT_USER SET standard_conforming_strings = off',
      'ALTER DATABASE d SET backslash_quote = on',
      "CREATE FUNCTION f() RETURNS int LANGUAGE sql SET standard_conforming_strings = off AS 'SELECT 1'",
    ]) {
      expect(policy.check(sql), sql).toMatchObject({
        blocked: true,
        rule: 'lexing_settings',
        code: '42501',
        builtIn: true,
        reason: expect.stringMatching(/standard_conforming_strings|backslash_quote|set_config/),
      });
    }
    for (const sql of [
      'RESET ALL',
      'DISCARD ALL',
      'SHOW standard_conforming_strings',
      "SELECT current_setting('standard_conforming_strings')",
      "SELECT set_config('application_name', 'x', false)",
      "SET application_name = 'standard_conforming_strings'",
      'SET escape_string_warning = off',
    ]) {
      expect(policy.check(sql), sql).toEqual({ blocked: false });
    }
    const open = compileSessionPolicy(parser, none);
    expect(open.enforcing).toBe(false);
    expect(open.check('SET standard_conforming_strings = off')).toEqual({ blocked: false });
  });

  it('refuses what does not parse where a policy applies, and forwards it where none does', () => {
    const policy = compileSessionPolicy(parser, masked);
    expect(policy.check("SELECT 'abc")).toMatchObject({
      blocked: true,
      rule: 'unparsable',
      code: '42501',
      reason: expect.stringContaining('unterminated quoted string'),
    });
    expect(policy.check('SELEC 1')).toMatchObject({ blocked: true, rule: 'unparsable' });
    const long = policy.check(`SELECT '${'x'.repeat(100_000)}`);
    expect(long).toMatchObject({ blocked: true, rule: 'unparsable' });
    expect(long.blocked && long.reason.length).toBeLessThan(400);
    expect(compileSessionPolicy(parser, none).check("SELECT 'abc")).toEqual({ blocked: false });
    expect(compileSessionPolicy(parser, none).check("SELECT names FROM 'x")).toEqual({
      blocked: false,
    });
  });

  it("applies the union of the resource's and the grant's rules", () => {
    const policy = compileSessionPolicy(
      parser,
      { masking: [], guardrails: [{ kind: 'statement', name: 'no-drop', classes: ['drop'] }] },
      {
        masking: [{ name: 'emails', match: { kind: 'preset', preset: 'email' }, style: 'full' }],
        guardrails: [{ kind: 'regex', name: 'no-grants', pattern: '^grant\\b' }],
      },
    );
    expect(policy.hasGuardrails).toBe(true);
    expect(policy.masker.hasRules).toBe(true);
    expect(policy.check('DROP TABLE t')).toMatchObject({
      rule: 'no-drop',
      code: '42501',
      builtIn: false,
    });
    expect(policy.check('GRANT ALL ON t TO x')).toMatchObject({ rule: 'no-grants' });
    expect(policy.check('SELECT 1')).toEqual({ blocked: false });
    expect(compileSessionPolicy(parser, none, none).hasGuardrails).toBe(false);
  });

  it("holds a strict policy's column rules on the parse tree; basic ones only on results", () => {
    const strict = { ...masked, maskingMode: 'strict' as const, allowedFunctions: ['audit_fn'] };
    const policy = compileSessionPolicy(parser, strict);
    expect(policy.catalogQuery).toContain('pg_get_viewdef');
    expect(policy.check('SELECT upper(ssn) FROM people')).toMatchObject({
      blocked: true,
      rule: 'ssn',
      code: '42501',
      builtIn: false,
      label: 'strict masking',
    });
    expect(policy.check('SELECT ssn, audit_fn(id) FROM people')).toEqual({ blocked: false });
    // A stored policy without a mode is basic: no parse-tree check, no catalog query.
    const basic = compileSessionPolicy(parser, masked);
    expect(basic.catalogQuery).toBeUndefined();
    expect(basic.check('SELECT upper(ssn) FROM people')).toEqual({ blocked: false });
    // A policy's mode holds for its own rules: a strict grant without column rules leaves a
    // basic resource's rules basic.
    const mixed = compileSessionPolicy(parser, masked, { ...none, maskingMode: 'strict' });
    expect(mixed.check('SELECT upper(ssn) FROM people')).toEqual({ blocked: false });
  });

  it('refuses what strict masking refuses through a view read from the catalog', () => {
    const policy = compileSessionPolicy(parser, { ...masked, maskingMode: 'strict' });
    policy.learnCatalog([
      ['public', 'v', ' SELECT people.ssn AS x\n   FROM people;'],
      ['public', 'broken', 'not sql'],
    ]);
    expect(policy.check('SELECT * FROM v')).toMatchObject({ blocked: true, rule: 'ssn' });
    expect(policy.check('SELECT * FROM broken')).toMatchObject({
      blocked: true,
      rule: 'strict_lineage',
    });
    expect(policy.check('SELECT * FROM people')).toEqual({ blocked: false });
  });
});
