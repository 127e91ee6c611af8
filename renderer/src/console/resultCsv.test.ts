import { describe, expect, it } from 'vitest';
import { resultCsv, resultJson } from './resultCsv.ts';

describe('result export', () => {
  it('writes CSV the way COPY … WITH CSV HEADER does', () => {
    const csv = resultCsv({
      columns: [{ name: 'id' }, { name: 'a,b' }, { name: 'note' }],
      rows: [
        ['1', 'plain', null],
        ['2', '', 'say "hi"'],
        ['3', 'line\nbreak', '\\.'],
      ],
    });
    expect(csv).toBe('id,"a,b",note\n1,plain,\n2,"","say ""hi"""\n3,"line\nbreak","\\."\n');
  });

  it('writes JSON objects with text values and nulls, repeated names kept apart', () => {
    const json = JSON.parse(
      resultJson({ columns: [{ name: 'x' }, { name: 'x' }], rows: [['1', null]] }),
    );
    expect(json).toEqual([{ x: '1', x_2: null }]);
  });
});
