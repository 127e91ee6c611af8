import { describe, expect, it } from 'vitest';
import { formatDuration, formatPlaybackTime, parsePlaybackTime } from './playbackTime.ts';

describe('formatPlaybackTime', () => {
  it('m:ss under an hour, h:mm:ss from an hour (or when the recording is that long)', () => {
    expect(formatPlaybackTime(0)).toBe('0:00');
    expect(formatPlaybackTime(59_999)).toBe('0:59');
    expect(formatPlaybackTime(61_000)).toBe('1:01');
    expect(formatPlaybackTime(3_723_000)).toBe('1:02:03');
    expect(formatPlaybackTime(61_000, 3_600_000)).toBe('0:01:01');
  });
  it('negative and non-finite times read as 0', () => {
    expect(formatPlaybackTime(-5)).toBe('0:00');
    expect(formatPlaybackTime(Number.NaN)).toBe('0:00');
  });
});

describe('formatDuration', () => {
  it('seconds, minutes, hours', () => {
    expect(formatDuration(12_400)).toBe('12 s');
    expect(formatDuration(187_000)).toBe('3 min 07 s');
    expect(formatDuration(3_720_000)).toBe('1 h 02 min');
  });
});

describe('parsePlaybackTime', () => {
  it('reads s, m:ss and h:mm:ss', () => {
    expect(parsePlaybackTime('90')).toBe(90_000);
    expect(parsePlaybackTime(' 1:30 ')).toBe(90_000);
    expect(parsePlaybackTime('1:02:03')).toBe(3_723_000);
  });
  it('refuses what is not a time', () => {
    expect(parsePlaybackTime('')).toBeNull();
    expect(parsePlaybackTime('1:x')).toBeNull();
    expect(parsePlaybackTime('1:2:3:4')).toBeNull();
    expect(parsePlaybackTime('-1')).toBeNull();
  });
});
