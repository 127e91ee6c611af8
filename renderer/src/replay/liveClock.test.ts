import { describe, expect, it } from 'vitest';
import { liveElapsedMs } from './liveClock.ts';

describe('liveElapsedMs', () => {
  const anchor = { elapsedMs: 60_000, at: 1_000 };

  it('runs on while no output arrives', () => {
    expect(liveElapsedMs(anchor, 1_000, 0)).toBe(60_000);
    expect(liveElapsedMs(anchor, 31_000, 59_000)).toBe(90_000);
  });

  it('is never behind the newest event, and never runs backwards from the anchor', () => {
    expect(liveElapsedMs(anchor, 2_000, 75_000)).toBe(75_000);
    expect(liveElapsedMs(anchor, 500, 0)).toBe(60_000);
  });
});
