import { describe, expect, it } from 'vitest';
import { expiryWarning, expiryWarningText } from './expiryWarning.ts';

const now = Date.parse('2026-01-01T12:00:00Z');
const at = (seconds: number) => new Date(now + seconds * 1000).toISOString();

describe('expiryWarning', () => {
  it('stays quiet until five minutes before the end', () => {
    expect(expiryWarning(at(5 * 60 + 1), now)).toEqual({ kind: 'none' });
    expect(expiryWarning(at(5 * 60), now)).toEqual({ kind: 'soon', minutes: 5 });
    expect(expiryWarning(at(61), now)).toEqual({ kind: 'soon', minutes: 5 });
  });

  it('escalates one minute before, then reports expiry', () => {
    expect(expiryWarning(at(60), now)).toEqual({ kind: 'soon', minutes: 1 });
    expect(expiryWarning(at(1), now)).toEqual({ kind: 'soon', minutes: 1 });
    expect(expiryWarning(at(0), now)).toEqual({ kind: 'expired' });
  });

  it('ignores an unparseable time rather than warning forever', () => {
    expect(expiryWarning('garbage', now)).toEqual({ kind: 'none' });
  });

  it('words each level with the clock time', () => {
    expect(expiryWarningText({ kind: 'none' }, '12:05')).toBeNull();
    expect(expiryWarningText({ kind: 'soon', minutes: 5 }, '12:05')).toContain(
      '5 minutes (at 12:05)',
    );
    expect(expiryWarningText({ kind: 'soon', minutes: 1 }, '12:05')).toContain(
      'less than a minute',
    );
    expect(expiryWarningText({ kind: 'expired' }, '12:05')).toContain('ran out at 12:05');
  });
});
