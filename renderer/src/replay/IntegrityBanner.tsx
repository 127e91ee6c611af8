/**
 * The integrity verdict above the player. Verified and interrupted are a status line; failed is
 * an alert with the warning, and while `gate` is set it replaces the player entirely: nothing
 * of a failed recording is shown until the person chooses to look anyway.
 */
import { CircleAlert, Info, ShieldCheck, TriangleAlert } from 'lucide-react';
import type { PlaybackInfo } from '../../../main/ipc/contract.ts';
import { playbackVerdictLabel } from './playbackVerdictLabel.ts';

const ICONS = { ok: ShieldCheck, warn: CircleAlert, info: Info, bad: TriangleAlert } as const;

export function IntegrityBanner({
  verdict,
  gate,
  live,
  onShowAnyway,
  onBack,
}: {
  verdict: PlaybackInfo['verdict'];
  /** Watching a session still being recorded. */
  live: boolean;
  /** Failed and not yet accepted: show the warning with its two choices. */
  gate: boolean;
  onShowAnyway(): void;
  onBack(): void;
}) {
  const label = playbackVerdictLabel(verdict, live);
  if (label.tone === 'bad') {
    return (
      <div
        className={`integrity integrity-bad${gate ? ' integrity-gate' : ''}`}
        role="alert"
        aria-label="Integrity"
      >
        <strong className="integrity-title">
          <TriangleAlert size={16} aria-hidden="true" />
          <span>{label.title}</span>
        </strong>
        <p>{label.detail}</p>
        {gate ? (
          <>
            <p>
              <strong>Warning:</strong> this recording is not what the gateway signed. Do not rely
              on it as a record of the session.
            </p>
            <div className="integrity-actions">
              <button type="button" className="button button-small" onClick={onBack}>
                Back to recordings
              </button>
              <button type="button" className="button button-small" onClick={onShowAnyway}>
                Show the recording anyway
              </button>
            </div>
          </>
        ) : null}
      </div>
    );
  }
  const Icon = ICONS[label.tone];
  return (
    <div className={`integrity integrity-${label.tone}`} role="status" aria-label="Integrity">
      <strong className="integrity-title">
        <Icon size={16} aria-hidden="true" />
        <span>{label.title}</span>
      </strong>
      <span className="muted small">{label.detail}</span>
    </div>
  );
}

/**
 * A recording the gateway lists but cannot produce (issue #12: its bytes were deleted): said
 * as "Missing" in the place the verdict would be, never as a bare error or "not found".
 */
export function MissingBanner({ message }: { message: string }) {
  return (
    <div className="integrity integrity-bad" role="alert" aria-label="Integrity">
      <strong className="integrity-title">
        <TriangleAlert size={16} aria-hidden="true" />
        <span>Missing</span>
      </strong>
      <p>{message}</p>
    </div>
  );
}
