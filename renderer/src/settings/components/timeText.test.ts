import { describe, expect, it } from 'vitest';
import { formatDuration, fromLocalInput, parseDuration, toLocalInput } from './timeText.ts';

describe('settings time text', () => {
  it('parses durations as people type them, and refuses the rest', () => {
    expect(parseDuration('2h')).toBe(7200);
    expect(parseDuration('1h 30m')).toBe(5400);
    expect(parseDuration('45')).toBe(2700);
    expect(parseDuration('90s')).toBe(90);
    expect(parseDuration('2 hours')).toBeNull();
    expect(parseDuration('')).toBeNull();
    expect(parseDuration('h2')).toBeNull();
  });

  it('writes durations back in the same units', () => {
    expect(formatDuration(7200)).toBe('2h');
    expect(formatDuration(5400)).toBe('1h 30m');
    expect(formatDuration(2700)).toBe('45m');
    expect(formatDuration(90)).toBe('90s');
  });

  it('round-trips a local date-time input to the minute', () => {
    const iso = '2026-03-04T05:06:00.000Z';
    expect(fromLocalInput(toLocalInput(iso))).toBe(iso);
    expect(fromLocalInput('')).toBeNull();
  });
});
