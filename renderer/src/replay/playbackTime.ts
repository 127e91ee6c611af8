/**
 * Time on the player's clock: "m:ss" under an hour, "h:mm:ss" from one hour, so the readout
 * does not change width while a one-hour recording plays. Times are milliseconds from the start
 * of the session (what the recording's `t` is).
 */
export function formatPlaybackTime(ms: number, totalMs: number = ms): string {
  const clamped = Number.isFinite(ms) && ms > 0 ? ms : 0;
  const seconds = Math.floor(clamped / 1000);
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  const ss = String(s).padStart(2, '0');
  if (h > 0 || totalMs >= 3_600_000) return `${h}:${String(m).padStart(2, '0')}:${ss}`;
  return `${m}:${ss}`;
}

/** "1 h 02 min", "3 min 07 s", "12 s" — a recording's length in the list and the player header. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h > 0) return `${h} h ${String(m).padStart(2, '0')} min`;
  return `${m} min ${String(s).padStart(2, '0')} s`;
}

/** Accepts "90", "1:30", "1:02:03" (what a person types into "Go to time"); null if not a time. */
export function parsePlaybackTime(text: string): number | null {
  const parts = text.trim().split(':');
  if (parts.length === 0 || parts.length > 3) return null;
  let seconds = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part)) return null;
    seconds = seconds * 60 + Number(part);
  }
  return seconds * 1000;
}
