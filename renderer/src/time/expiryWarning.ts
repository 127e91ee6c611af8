/**
 * Which warning a terminal tab shows before its session ends (issue #5: 5 min and 1 min before
 * `expiresAt`). The gateway ends the session at that time whatever the client does, so the
 * banner is the person's only chance to finish or save.
 */
export type ExpiryWarning =
  | { kind: 'none' }
  | { kind: 'soon'; minutes: 5 | 1 }
  | { kind: 'expired' };

export const WARN_AT_MINUTES = [5, 1] as const;

export function expiryWarning(expiresAt: string, nowMs: number): ExpiryWarning {
  const endMs = Date.parse(expiresAt);
  if (Number.isNaN(endMs)) return { kind: 'none' };
  const leftMs = endMs - nowMs;
  if (leftMs <= 0) return { kind: 'expired' };
  if (leftMs <= 60_000) return { kind: 'soon', minutes: 1 };
  if (leftMs <= 5 * 60_000) return { kind: 'soon', minutes: 5 };
  return { kind: 'none' };
}

export function expiryWarningText(warning: ExpiryWarning, endsAtClock: string): string | null {
  switch (warning.kind) {
    case 'none':
      return null;
    case 'soon':
      return warning.minutes === 1
        ? `This session ends in less than a minute (at ${endsAtClock}). Save your work now.`
        : `This session ends in less than 5 minutes (at ${endsAtClock}). Finish up or save your work.`;
    case 'expired':
      return `This session's time ran out at ${endsAtClock}; the gateway is closing it.`;
  }
}
