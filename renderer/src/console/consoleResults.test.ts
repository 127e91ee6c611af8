import { describe, expect, it } from 'vitest';
import { ConsoleResults } from './consoleResults.ts';

describe('ConsoleResults', () => {
  it('builds results from events in order, rows appended in place', () => {
    const results = new ConsoleResults();
    results.begin('r1', 'select 1; begin');
    results.apply({
      kind: 'result-start',
      runId: 'r1',
      resultIndex: 0,
      columns: [{ name: 'a', typeOid: 23, masked: false }],
    });
    expect(
      results.apply({ kind: 'rows', runId: 'r1', resultIndex: 0, rows: [['1'], [null]] }),
    ).toBe(2);
    results.apply({
      kind: 'result-end',
      runId: 'r1',
      resultIndex: 0,
      tag: 'SELECT 2',
      rowCount: 2,
    });
    results.apply({ kind: 'result-end', runId: 'r1', resultIndex: 1, tag: 'BEGIN', rowCount: 0 });
    expect(results.running).toBe(true);
    results.apply({
      kind: 'run-end',
      runId: 'r1',
      elapsedMs: 3.5,
      transaction: 'in-transaction',
      cancelled: false,
    });
    expect(results.running).toBe(false);
    expect(results.transaction).toBe('in-transaction');
    expect(results.run?.results.map((r) => [r.tag, r.rows.length])).toEqual([
      ['SELECT 2', 2],
      ['BEGIN', 0],
    ]);
  });

  it('keeps events that came before the run call answered', () => {
    const results = new ConsoleResults();
    results.apply({
      kind: 'result-start',
      runId: 'early',
      resultIndex: 0,
      columns: [{ name: 'a', typeOid: 23, masked: false }],
    });
    results.apply({ kind: 'rows', runId: 'early', resultIndex: 0, rows: [['1']] });
    results.begin('early', 'select 1');
    expect(results.run?.sql).toBe('select 1');
    expect(results.run?.results[0]?.rows).toEqual([['1']]);
  });

  it('still counts rows of a run no longer shown (so they are acked), and keeps the end', () => {
    const results = new ConsoleResults();
    results.begin('r2', 'select 2');
    expect(results.apply({ kind: 'rows', runId: 'old', resultIndex: 0, rows: [['x']] })).toBe(1);
    results.apply({ kind: 'ended', message: 'The grant was deleted.' });
    expect(results.ended).toBe('The grant was deleted.');
  });
});
