/**
 * Playback speeds, 0.25× to 16× (issue #6), in doubling steps so the keyboard shortcuts
 * ("<" / ">") and the menu offer the same choices.
 */
export const PLAYBACK_SPEEDS = [0.25, 0.5, 1, 2, 4, 8, 16] as const;
export type PlaybackSpeed = (typeof PLAYBACK_SPEEDS)[number];

/** The next speed up (+1) or down (-1), staying at the ends; an unknown speed snaps to 1×. */
export function stepSpeed(current: number, direction: 1 | -1): PlaybackSpeed {
  const index = PLAYBACK_SPEEDS.indexOf(current as PlaybackSpeed);
  if (index === -1) return 1;
  const next = Math.min(PLAYBACK_SPEEDS.length - 1, Math.max(0, index + direction));
  return PLAYBACK_SPEEDS[next] ?? 1;
}

export function formatSpeed(speed: number): string {
  return `${speed}×`;
}
