import { describe, expect, it } from 'vitest';
import {
  activityHeights,
  downsample,
  lastIndexAtOrBefore,
  sizeAt,
  timeAtPosition,
} from './timelineIndex.ts';

describe('lastIndexAtOrBefore', () => {
  const times = [0, 100, 100, 250, 900];
  it('finds the entry in force', () => {
    expect(lastIndexAtOrBefore(times, -1)).toBe(-1);
    expect(lastIndexAtOrBefore(times, 0)).toBe(0);
    expect(lastIndexAtOrBefore(times, 100)).toBe(2);
    expect(lastIndexAtOrBefore(times, 899)).toBe(3);
    expect(lastIndexAtOrBefore(times, 10_000)).toBe(4);
    expect(lastIndexAtOrBefore([], 5)).toBe(-1);
  });
  it('agrees with a linear scan on random data', () => {
    const sorted = Array.from({ length: 500 }, () => Math.floor(Math.random() * 10_000)).sort(
      (a, b) => a - b,
    );
    for (let i = 0; i < 200; i++) {
      const at = Math.floor(Math.random() * 11_000) - 500;
      let expected = -1;
      sorted.forEach((t, index) => {
        if (t <= at) expected = index;
      });
      expect(lastIndexAtOrBefore(sorted, at)).toBe(expected);
    }
  });
});

describe('sizeAt', () => {
  const initial = { cols: 80, rows: 24 };
  const resizes = [
    { t: 1000, cols: 120, rows: 40 },
    { t: 5000, cols: 100, rows: 30 },
  ];
  it('uses the first size before any resize, then the last resize in force', () => {
    expect(sizeAt(initial, resizes, 999)).toEqual(initial);
    expect(sizeAt(initial, resizes, 1000)).toEqual({ cols: 120, rows: 40 });
    expect(sizeAt(initial, resizes, 9000)).toEqual({ cols: 100, rows: 30 });
  });
});

describe('activityHeights', () => {
  it('square-root scale, zero stays zero, small activity stays visible', () => {
    const h = activityHeights([0, 1, 100, 10_000]);
    expect(h[0]).toBe(0);
    expect(h[1]).toBeGreaterThan(0);
    expect(h[2]).toBeCloseTo(0.1);
    expect(h[3]).toBe(1);
    expect(activityHeights([0, 0])).toEqual([0, 0]);
  });
});

describe('timeAtPosition', () => {
  it('maps pixels to time and clamps', () => {
    expect(timeAtPosition(50, 200, 60_000)).toBe(15_000);
    expect(timeAtPosition(-5, 200, 60_000)).toBe(0);
    expect(timeAtPosition(500, 200, 60_000)).toBe(60_000);
    expect(timeAtPosition(5, 0, 60_000)).toBe(0);
  });
});

describe('downsample', () => {
  it('keeps short series, sums long ones without losing bytes', () => {
    expect(downsample([1, 2, 3], 10)).toEqual([1, 2, 3]);
    const long = Array.from({ length: 3600 }, (_, i) => i % 7);
    const bars = downsample(long, 300);
    expect(bars).toHaveLength(300);
    expect(bars.reduce((a, b) => a + b, 0)).toBe(long.reduce((a, b) => a + b, 0));
  });
});
