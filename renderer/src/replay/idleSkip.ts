/**
 * Idle-skip: a recording of a one-hour session is mostly waiting. When it is on, a gap between
 * two events longer than `maxIdleMs` of recording time plays as `maxIdleMs` (the pause stays
 * visible, just short), whatever the speed.
 *
 * `advancePlayhead` is the whole clock: from where the playhead is, how far `wallMs` of real
 * time moves it at `speed`, given the time of the next recorded event. It never jumps past that
 * event, so every chunk is written in order and none is skipped.
 */
export interface AdvanceInput {
  playheadMs: number;
  wallMs: number;
  speed: number;
  /** Time of the next event at or after the playhead; null when there is none (end of data). */
  nextEventMs: number | null;
  durationMs: number;
  /** null: idle-skip off. */
  maxIdleMs: number | null;
}

export function advancePlayhead(input: AdvanceInput): number {
  const { playheadMs, wallMs, speed, nextEventMs, durationMs, maxIdleMs } = input;
  let step = Math.max(0, wallMs) * speed;
  if (maxIdleMs !== null && nextEventMs !== null) {
    const gap = nextEventMs - playheadMs;
    if (gap > maxIdleMs) {
      // Of this gap, only the last maxIdleMs is played: jump to its start, then move on.
      const skipTo = nextEventMs - maxIdleMs;
      return Math.min(durationMs, Math.min(nextEventMs, skipTo + step));
    }
  }
  if (maxIdleMs !== null && nextEventMs === null) {
    // Nothing left but silence up to the end: play at most maxIdleMs of it.
    const remaining = durationMs - playheadMs;
    if (remaining > maxIdleMs) step = Math.max(step, remaining - maxIdleMs);
  }
  return Math.min(durationMs, playheadMs + step);
}

/** The idle time idle-skip removes from a recording, for the "skips N min of idle" hint. */
export function idleTimeSkipped(
  eventTimes: readonly number[],
  durationMs: number,
  maxIdleMs: number,
): number {
  let skipped = 0;
  let previous = 0;
  for (const t of eventTimes) {
    if (t - previous > maxIdleMs) skipped += t - previous - maxIdleMs;
    previous = Math.max(previous, t);
  }
  if (durationMs - previous > maxIdleMs) skipped += durationMs - previous - maxIdleMs;
  return skipped;
}
