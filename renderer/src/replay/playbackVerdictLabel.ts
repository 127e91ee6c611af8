/**
 * The integrity banner's words for a playback verdict (issue #6): verified / interrupted:
 * verified to seq N / failed at seq N. A failed recording also gets the warning shown BEFORE
 * anything of it plays.
 */
import type { PlaybackInfo } from '../../../main/ipc/contract.ts';
import { formatPlaybackTime } from './playbackTime.ts';

export type PlaybackVerdict = PlaybackInfo['verdict'];

export interface VerdictBanner {
  tone: 'ok' | 'warn' | 'bad' | 'info';
  title: string;
  /** Shown with the title; for failed, what it means for the person looking at it. */
  detail: string;
}

/** Main's messages may lack the final stop; the banner adds sentences after them. */
function sentence(text: string): string {
  const t = text.trim();
  return t === '' || /[.!?]$/.test(t) ? t : `${t}.`;
}

/**
 * `live`: the session is still being recorded and watched. Main checks each frame's chain as
 * it arrives and signatures at each checkpoint, so "partial" only means "not finished yet" —
 * the banner says that instead of "interrupted". A failure is a failure, live or not.
 */
export function playbackVerdictLabel(verdict: PlaybackVerdict, live = false): VerdictBanner {
  if (live && verdict.status !== 'failed') {
    return {
      tone: 'info',
      title: 'Live: checked as it arrives',
      detail: `${sentence(verdict.message)} The final verdict shows when the session ends.`,
    };
  }
  const key =
    verdict.keySource === 'pinned'
      ? `the pinned recording key ${verdict.recordingKeyFingerprint}`
      : `the key you gave, ${verdict.recordingKeyFingerprint}`;
  switch (verdict.status) {
    case 'verified':
      return {
        tone: 'ok',
        title: 'Verified',
        detail: `Hash chain and signature hold, checked against ${key}.`,
      };
    case 'partial':
      return {
        tone: 'warn',
        title: `Interrupted: verified to seq ${verdict.verifiedThroughSeq}`,
        detail: `The recording stopped early: ${sentence(verdict.message)} Everything through seq ${verdict.verifiedThroughSeq} is signed and checked against ${key}; anything after it is not covered by a signature.`,
      };
    case 'verifying': {
      // Issue #16: shown while the download runs; never further than a signature reaches.
      const total = verdict.totalMs ?? null;
      const through = formatPlaybackTime(verdict.verifiedThroughMs ?? 0, total ?? 0);
      return {
        tone: 'info',
        title:
          total === null
            ? `Verified up to ${through}`
            : `Verified up to ${through} of ${formatPlaybackTime(total)}`,
        detail: `Everything through ${through} (seq ${verdict.verifiedThroughSeq}) is signed and checked against ${key}; the rest is checked as it downloads, and a moment you jump to beyond it is checked between its two signed checkpoints before it shows. The final verdict shows when the download ends.`,
      };
    }
    case 'failed': {
      const at =
        verdict.firstBadSeq === null
          ? 'Failed verification'
          : `Failed at seq ${verdict.firstBadSeq}`;
      return {
        tone: 'bad',
        title: at,
        detail:
          verdict.firstBadSeq === null || verdict.firstBadSeq === 0
            ? `${sentence(verdict.message)} This recording cannot be trusted: it was altered or is not signed by ${key}.`
            : `${sentence(verdict.message)} Frames from seq ${verdict.firstBadSeq} on were altered or damaged; only what comes before can be trusted, and even that only as evidence that something was changed.`,
      };
    }
  }
}
