import { describe, expect, it } from 'vitest';
import { formatTimeLeft } from './formatTimeLeft.ts';

const now = Date.parse('2026-01-01T12:00:00Z');
const at = (seconds: number) => new Date(now + seconds * 1000).toISOString();

describe('formatTimeLeft', () => {
  it('says there is no end for a standing grant', () => {
    expect(formatTimeLeft(null, now)).toBe('no end');
  });

  it('is coarse far from the end and precise near it', () => {
    expect(formatTimeLeft(at(3 * 86_400 + 2 * 3600), now)).toBe('3 d 2 h left');
    expect(formatTimeLeft(at(3600 + 5 * 60), now)).toBe('1 h 05 min left');
    expect(formatTimeLeft(at(42 * 60 + 30), now)).toBe('42 min left');
    expect(formatTimeLeft(at(4 * 60 + 7), now)).toBe('4 min 07 s left');
    expect(formatTimeLeft(at(59), now)).toBe('59 s left');
  });

  it('rounds a partial second up, so "0 s left" is never shown before the end', () => {
    expect(formatTimeLeft(new Date(now + 200).toISOString(), now)).toBe('1 s left');
  });

  it('says expired at and after the end, and unknown for a bad timestamp', () => {
    expect(formatTimeLeft(at(0), now)).toBe('expired');
    expect(formatTimeLeft(at(-10), now)).toBe('expired');
    expect(formatTimeLeft('not a time', now)).toBe('unknown end');
  });
});
