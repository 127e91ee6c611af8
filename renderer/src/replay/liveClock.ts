/**
 * How long a watched live session has run, for the header's duration and the live player's
 * clock (issue #16: both stood still while no output arrived). The gateway says how long the
 * session had run when the watch opened (`durationMs` of the opening info); from then on the
 * desktop's own monotonic clock counts, never behind the newest event's time (the two clocks
 * may drift apart; the recording's times win).
 */
import { createElement, useEffect, useState } from 'react';

export interface LiveClockAnchor {
  /** The session's elapsed time at `at`. */
  elapsedMs: number;
  /** `performance.now()` when it was. */
  at: number;
}

export function liveElapsedMs(anchor: LiveClockAnchor, now: number, newestEventMs: number): number {
  return Math.max(newestEventMs, anchor.elapsedMs + Math.max(0, now - anchor.at));
}

/** Ticks once a second while `running`; returns the elapsed time, frozen once stopped. */
export function useLiveElapsed(
  startElapsedMs: number,
  newestEventMs: number,
  running: boolean,
): number {
  const [anchor] = useState<LiveClockAnchor>(() => ({
    elapsedMs: startElapsedMs,
    at: performance.now(),
  }));
  const [now, setNow] = useState(() => performance.now());
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(() => setNow(performance.now()), 1000);
    return () => clearInterval(timer);
  }, [running]);
  return liveElapsedMs(anchor, now, newestEventMs);
}

/** The header's duration of a live session: runs while it is watched, stops when it ends. */
export function LiveDuration({
  startElapsedMs,
  running,
  format,
}: {
  startElapsedMs: number;
  running: boolean;
  format(ms: number): string;
}) {
  const elapsed = useLiveElapsed(startElapsedMs, 0, running);
  return createElement('span', { 'aria-label': 'Live duration' }, format(elapsed));
}
