import { describe, expect, it } from 'vitest';
import { type CopyFormat, CopyRowSplitter, decodeCopyRow, encodeCopyRow } from './copyRows.ts';

const TEXT: CopyFormat = {
  kind: 'text',
  delimiter: '\t',
  null: '\\N',
  quote: '"',
  escape: '"',
  header: false,
};
const CSV: CopyFormat = {
  kind: 'csv',
  delimiter: ',',
  null: '',
  quote: '"',
  escape: '"',
  header: false,
};
const b = (text: string) => Buffer.from(text, 'utf8');
const strings = (values: (Buffer | null)[]) =>
  values.map((v) => (v === null ? null : v.toString('utf8')));

describe('COPY text format', () => {
  it('reads what the server writes: escapes, NULL, the delimiter inside a value', () => {
    expect(strings(decodeCopyRow(b('1\ta\\tb\\nc\\\\d\t\\N\t\\101\\x42'), TEXT))).toEqual([
      '1',
      'a\tb\nc\\d',
      null,
      'AB',
    ]);
  });

  it('writes a row back the same way it reads it', () => {
    const values = [b('x'), null, b('tab\there\nnew\\line'), b('')];
    const row = encodeCopyRow(values, TEXT);
    expect(row.toString()).toBe('x\t\\N\ttab\\there\\nnew\\\\line\t\n');
    expect(strings(decodeCopyRow(row.subarray(0, -1), TEXT))).toEqual(strings(values));
    const semicolon = { ...TEXT, delimiter: ';', null: 'NULL' };
    expect(encodeCopyRow([b('a;b'), null], semicolon).toString()).toBe('a\\;b;NULL\n');
  });
});

describe('COPY CSV format', () => {
  it('reads quoted values, doubled quotes, newlines in quotes, and NULL only unquoted', () => {
    expect(strings(decodeCopyRow(b('1,"a,b","say ""hi""","",,x'), CSV))).toEqual([
      '1',
      'a,b',
      'say "hi"',
      '',
      null,
      'x',
    ]);
    const backslash = { ...CSV, escape: '\\' };
    expect(strings(decodeCopyRow(b('"a\\"b\\\\c"'), backslash))).toEqual(['a"b\\c']);
  });

  it('quotes what needs it when writing', () => {
    expect(encodeCopyRow([b('****'), b('a,b'), b(''), null, b('q"')], CSV).toString()).toBe(
      '****,"a,b","",,"q"""\n',
    );
  });
});

describe('CopyRowSplitter', () => {
  it('joins rows split across messages and keeps quoted newlines inside their row', () => {
    const splitter = new CopyRowSplitter(CSV);
    expect(splitter.push(b('1,"multi')).map(String)).toEqual([]);
    expect(splitter.push(b('\nline"\n2,x\n3,')).map(String)).toEqual(['1,"multi\nline"', '2,x']);
    expect(splitter.end()?.toString()).toBe('3,');
    expect(splitter.end()).toBeUndefined();
    const text = new CopyRowSplitter(TEXT);
    expect(text.push(b('a\\nb\tc\nd')).map(String)).toEqual(['a\\nb\tc']);
    expect(text.push(b('\n')).map(String)).toEqual(['d']);
  });
});
