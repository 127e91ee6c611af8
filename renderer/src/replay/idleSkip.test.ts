import { describe, expect, it } from 'vitest';
import { advancePlayhead, idleTimeSkipped } from './idleSkip.ts';

const base = { durationMs: 100_000, maxIdleMs: null, speed: 1, nextEventMs: 50_000 };

describe('advancePlayhead', () => {
  it('moves by wall time × speed when idle-skip is off', () => {
    expect(advancePlayhead({ ...base, playheadMs: 1000, wallMs: 16 })).toBe(1016);
    expect(advancePlayhead({ ...base, playheadMs: 1000, wallMs: 16, speed: 16 })).toBe(1256);
    expect(advancePlayhead({ ...base, playheadMs: 1000, wallMs: 16, speed: 0.25 })).toBe(1004);
  });
  it('stops at the end of the recording', () => {
    expect(advancePlayhead({ ...base, playheadMs: 99_990, wallMs: 100, nextEventMs: null })).toBe(
      100_000,
    );
  });
  it('idle-skip: a long gap plays as maxIdleMs and never passes the next event', () => {
    const skip = { ...base, maxIdleMs: 2000 };
    // 49 s of silence ahead: jump to 2 s before the event, then move on.
    expect(advancePlayhead({ ...skip, playheadMs: 1000, wallMs: 16 })).toBe(48_016);
    // Inside the last 2 s: normal speed.
    expect(advancePlayhead({ ...skip, playheadMs: 48_016, wallMs: 16 })).toBe(48_032);
    // A huge wall step never overshoots the event.
    expect(advancePlayhead({ ...skip, playheadMs: 1000, wallMs: 60_000 })).toBe(50_000);
  });
  it('idle-skip: trailing silence to the end is shortened too', () => {
    const skip = { ...base, maxIdleMs: 2000, nextEventMs: null };
    expect(advancePlayhead({ ...skip, playheadMs: 60_000, wallMs: 16 })).toBe(98_000);
  });
  it('idle-skip off: the same long gap plays in real time', () => {
    expect(advancePlayhead({ ...base, playheadMs: 1000, wallMs: 16 })).toBe(1016);
  });
});

describe('idleTimeSkipped', () => {
  it('sums the part of each gap beyond maxIdleMs, including the tail', () => {
    expect(idleTimeSkipped([1000, 2000, 12_000], 20_000, 2000)).toBe(8000 + 6000);
    expect(idleTimeSkipped([], 1000, 2000)).toBe(0);
  });
});
