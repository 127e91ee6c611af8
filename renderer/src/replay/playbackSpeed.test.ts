import { describe, expect, it } from 'vitest';
import { formatSpeed, PLAYBACK_SPEEDS, stepSpeed } from './playbackSpeed.ts';

describe('playback speeds', () => {
  it('runs from 0.25× to 16× in doublings', () => {
    expect(PLAYBACK_SPEEDS[0]).toBe(0.25);
    expect(PLAYBACK_SPEEDS[PLAYBACK_SPEEDS.length - 1]).toBe(16);
    for (let i = 1; i < PLAYBACK_SPEEDS.length; i++) {
      expect(PLAYBACK_SPEEDS[i]).toBe((PLAYBACK_SPEEDS[i - 1] ?? 0) * 2);
    }
  });
  it('steps up and down and stops at the ends', () => {
    expect(stepSpeed(1, 1)).toBe(2);
    expect(stepSpeed(1, -1)).toBe(0.5);
    expect(stepSpeed(16, 1)).toBe(16);
    expect(stepSpeed(0.25, -1)).toBe(0.25);
    expect(stepSpeed(3, 1)).toBe(1);
  });
  it('formats with ×', () => {
    expect(formatSpeed(0.25)).toBe('0.25×');
    expect(formatSpeed(16)).toBe('16×');
  });
});
