import { beforeAll, describe, expect, it } from 'vitest';
import { type DatabasePolicy, databasePolicyInputSchema } from '../../../shared/api/apiSchemas.ts';
import { loadSqlParser, type SqlParser } from '../../policy/sqlParse.ts';
import { tryPolicy } from './policyTrial.ts';

const policy = (input: unknown): DatabasePolicy => databasePolicyInputSchema.parse(input);

describe('tryPolicy: what a session under a policy would do, on the real parser', () => {
  let parser: SqlParser;
  beforeAll(async () => {
    parser = await loadSqlParser();
  });

  const guarded = policy({
    guardrails: [
      { kind: 'statement', name: 'no-unbounded-delete', classes: ['delete_without_where'] },
    ],
    masking: [
      { name: 'emails', match: { kind: 'column', pattern: '^email$' } },
      { name: 'cards', match: { kind: 'preset', preset: 'card' }, style: 'partial' },
    ],
  });

  it('refuses by the guardrail that matches, naming the statement', () => {
    const result = tryPolicy(parser, {
      policy: guarded,
      sampleQuery:
        'select 1; WITH gone AS (DELETE FROM orders RETURNING id) SELECT count(*) FROM gone',
    });
    expect(result.verdict).toBe('refused');
    expect(result.refusal).toMatchObject({ rule: 'no-unbounded-delete', kind: 'guardrail' });
    expect(result.refusal?.statement).toMatch(/DELETE FROM orders/);
    expect(result.result).toBeNull();
  });

  it('refuses a masked column used in a predicate under strict masking', () => {
    const result = tryPolicy(parser, {
      policy: guarded,
      sampleQuery: "select id from users where email like 'a%'",
    });
    expect(result.verdict).toBe('refused');
    expect(result.refusal?.kind).toBe('strict_masking');
    expect(result.notes.join(' ')).toMatch(/views/);
  });

  it("refuses a query PostgreSQL's grammar does not accept, as the gateway's own rule", () => {
    const result = tryPolicy(parser, { policy: guarded, sampleQuery: 'selec * from users' });
    expect(result.refusal).toMatchObject({ kind: 'built_in', rule: 'unparsable' });
  });

  it('allows a plain select and masks the sample result as the client would see it', () => {
    const result = tryPolicy(parser, {
      policy: guarded,
      sampleQuery: 'select id, email, note from users',
      sampleResult: {
        columns: [
          { name: 'id', type: 'int4' },
          { name: 'email', type: 'text' },
          { name: 'note', type: 'text' },
        ],
        rows: [
          ['1', 'ann@example.com', 'paid with 4111 1111 1111 1111'],
          ['2', null, 'nothing here'],
        ],
      },
    });
    expect(result.verdict).toBe('allowed');
    expect(result.result?.columns.map((c) => [c.name, c.treatment, c.rules])).toEqual([
      ['id', 'clear', []],
      ['email', 'masked', ['emails']],
      ['note', 'scanned', ['cards']],
    ]);
    expect(result.result?.rows).toEqual([
      ['1', '****', 'paid with ****1111'],
      ['2', null, 'nothing here'],
    ]);
  });

  it('says when a type is unknown, and nulls a non-text column a column rule hits', () => {
    const result = tryPolicy(parser, {
      policy: policy({
        maskingMode: 'basic',
        masking: [
          { name: 'salary', match: { kind: 'column', pattern: 'salary' } },
          { name: 'odd', match: { kind: 'type', types: ['no_such_type'] } },
        ],
      }),
      sampleQuery: 'select salary, tag from staff',
      sampleResult: {
        columns: [
          { name: 'salary', type: 'numeric' },
          { name: 'tag', type: 'my_enum' },
        ],
        rows: [['1000.50', 'blue']],
      },
    });
    expect(result.result?.rows).toEqual([[null, 'blue']]);
    expect(result.result?.columns[0]?.treatment).toBe('nulled');
    expect(result.notes).toEqual([
      expect.stringContaining('no_such_type'),
      expect.stringContaining('my_enum'),
    ]);
  });
});
