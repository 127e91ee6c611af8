/**
 * Time left until a grant or session ends, in the words the resource list and the tab strip
 * show. Coarse far away (hours and minutes), precise near the end (seconds under ten minutes),
 * because that is when a person decides whether to save their work.
 */
export function formatTimeLeft(endsAt: string | null, nowMs: number): string {
  if (endsAt === null) return 'no end';
  const endMs = Date.parse(endsAt);
  if (Number.isNaN(endMs)) return 'unknown end';
  const leftMs = endMs - nowMs;
  if (leftMs <= 0) return 'expired';
  const totalSeconds = Math.ceil(leftMs / 1000);
  const days = Math.floor(totalSeconds / 86_400);
  const hours = Math.floor((totalSeconds % 86_400) / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (days > 0) return `${days} d ${hours} h left`;
  if (hours > 0) return `${hours} h ${pad(minutes)} min left`;
  if (minutes >= 10) return `${minutes} min left`;
  if (minutes > 0) return `${minutes} min ${pad(seconds)} s left`;
  return `${seconds} s left`;
}

function pad(n: number): string {
  return n.toString().padStart(2, '0');
}

/** "14:02" in the user's locale, for "ends at" lines next to the countdown. */
export function formatClockTime(iso: string, locale?: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit' });
}
