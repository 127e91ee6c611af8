/**
 * Lookups on a recording's sorted timelines (resizes, command lines, keyframes): which entry
 * is in force at a time. Binary search, because a one-hour recording has thousands of them and
 * the player asks on every animation frame.
 */

/** Index of the last entry with `t <= atMs`, or -1 if every entry is later. `times` is ascending. */
export function lastIndexAtOrBefore(times: readonly number[], atMs: number): number {
  let lo = 0;
  let hi = times.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if ((times[mid] ?? Number.POSITIVE_INFINITY) <= atMs) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** The terminal size at `atMs`: the last resize at or before it, else the recording's first size. */
export function sizeAt(
  initial: TerminalSize,
  resizes: readonly { t: number; cols: number; rows: number }[],
  atMs: number,
): TerminalSize {
  const index = lastIndexAtOrBefore(
    resizes.map((r) => r.t),
    atMs,
  );
  const r = index >= 0 ? resizes[index] : undefined;
  return r === undefined ? initial : { cols: r.cols, rows: r.rows };
}

/**
 * Bar heights (0..1) for the activity graph: bytes per bucket on a square-root scale, so one
 * `cat` of a big file does not flatten every keystroke-sized bucket to nothing, and any
 * non-zero bucket stays visible.
 */
export function activityHeights(buckets: readonly number[]): number[] {
  let max = 0;
  for (const b of buckets) if (b > max) max = b;
  if (max <= 0) return buckets.map(() => 0);
  const top = Math.sqrt(max);
  return buckets.map((b) => (b <= 0 ? 0 : Math.max(0.06, Math.sqrt(b) / top)));
}

/** The time under a pointer at `x` on a timeline `width` pixels wide, clamped to the recording. */
export function timeAtPosition(x: number, width: number, durationMs: number): number {
  if (width <= 0) return 0;
  const ratio = Math.min(1, Math.max(0, x / width));
  return Math.round(ratio * durationMs);
}

/** Sums adjacent buckets down to at most `bars` (a one-hour recording has thousands of buckets). */
export function downsample(buckets: readonly number[], bars: number): number[] {
  if (buckets.length <= bars || bars <= 0) return [...buckets];
  const out = new Array<number>(bars).fill(0);
  for (let i = 0; i < buckets.length; i++) {
    const bar = Math.min(bars - 1, Math.floor((i * bars) / buckets.length));
    out[bar] = (out[bar] ?? 0) + (buckets[i] ?? 0);
  }
  return out;
}
