/**
 * The seek bar: a native range input (keyboard and screen readers get a real slider, with the
 * time as its value text) over the activity graph (output bytes per bucket) and command marks.
 */
import { useMemo } from 'react';
import type { PlaybackInfo } from '../../../main/ipc/contract.ts';
import { formatPlaybackTime } from './playbackTime.ts';
import { activityHeights, downsample } from './timelineIndex.ts';

const BARS = 240;

export function PlaybackTimeline({
  info,
  playheadMs,
  onSeek,
  disabled,
}: {
  info: PlaybackInfo;
  playheadMs: number;
  onSeek(atMs: number): void;
  disabled: boolean;
}) {
  const heights = useMemo(() => activityHeights(downsample(info.activity, BARS)), [info.activity]);
  const duration = Math.max(1, info.durationMs);
  const played = Math.min(1, playheadMs / duration);
  return (
    <div className="timeline">
      <div className="timeline-graph" aria-hidden="true">
        {heights.map((h, i) => (
          <span
            // biome-ignore lint/suspicious/noArrayIndexKey: bars are positions on the time axis
            key={i}
            className={`timeline-bar${(i + 0.5) / heights.length <= played ? ' timeline-bar-played' : ''}`}
            style={{ height: `${Math.round(h * 100)}%` }}
          />
        ))}
        {info.commands.map((c, i) => (
          <span
            // biome-ignore lint/suspicious/noArrayIndexKey: marks are positions on the time axis
            key={`c${i}`}
            className="timeline-mark"
            style={{ left: `${(c.t / duration) * 100}%` }}
          />
        ))}
      </div>
      <input
        type="range"
        className="timeline-slider"
        aria-label="Playback position"
        min={0}
        max={duration}
        step={100}
        value={Math.min(duration, playheadMs)}
        aria-valuetext={`${formatPlaybackTime(playheadMs, duration)} of ${formatPlaybackTime(duration)}`}
        disabled={disabled}
        onChange={(e) => onSeek(Number(e.target.value))}
      />
    </div>
  );
}
