import { describe, expect, it } from 'vitest';
import { cellKind, cellLine, inspectedValue, TYPE_OIDS } from './cellText.ts';

describe('cell text', () => {
  it('tells NULL from the empty string', () => {
    expect(cellKind(null, TYPE_OIDS.text)).toBe('null');
    expect(cellKind('', TYPE_OIDS.text)).toBe('empty');
    expect(cellLine(null)).toBe('NULL');
    expect(cellLine('')).toBe('');
  });

  it('pretty-prints json and jsonb in the inspector, keeps other values as sent', () => {
    expect(inspectedValue('{"a": [1, 2]}', TYPE_OIDS.jsonb)).toBe(
      '{\n  "a": [\n    1,\n    2\n  ]\n}',
    );
    expect(inspectedValue('not json', TYPE_OIDS.json)).toBe('not json');
    expect(inspectedValue('2026-12-07 22:00:00+01', TYPE_OIDS.timestamptz)).toBe(
      '2026-12-07 22:00:00+01',
    );
    expect(cellKind('\\xdead', TYPE_OIDS.bytea)).toBe('bytea');
  });

  it('keeps a row one line high', () => {
    expect(cellLine('a\nb\r\nc')).toBe('a↵b↵c');
  });
});
