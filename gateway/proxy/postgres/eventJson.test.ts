import { describe, expect, it } from 'vitest';
import { MAX_FRAME_DATA_BYTES } from '../../../shared/recording/recordingFormat.ts';
import { encodeEventJson } from './eventJson.ts';

describe('encodeEventJson', () => {
  it('leaves ordinary events exact', () => {
    const value = { protocol: 'simple', sql: 'SELECT 1' };
    expect(JSON.parse(encodeEventJson(value).toString())).toEqual(value);
  });

  it('shortens the long strings of an event that would not fit one frame, and says so', () => {
    const sql = `INSERT INTO t VALUES ('${'x'.repeat(3 * 1024 * 1024)}')`;
    const bytes = encodeEventJson({ protocol: 'extended', sql, params: ['1', 'y'.repeat(2e6)] });
    expect(bytes.length).toBeLessThanOrEqual(MAX_FRAME_DATA_BYTES);
    const decoded = JSON.parse(bytes.toString());
    expect(decoded.truncated).toBe(true);
    expect(decoded.protocol).toBe('extended');
    expect(decoded.sql.startsWith("INSERT INTO t VALUES ('xxx")).toBe(true);
    expect(decoded.sql).toMatch(/… \(\d+ characters\)$/);
    expect(decoded.params[0]).toBe('1');
  });
});
