/**
 * One opened recording: main downloads (or takes from its cache) and verifies it while this
 * shows progress; then the integrity banner, the exports, and the terminal or database player.
 * A recording that failed verification shows only the failure and the warning until the person
 * chooses to look anyway (frames are then asked for with `acceptFailedVerification`).
 *
 * Targets: a gateway recording (optionally at a moment — a search hit), an offline bundle already
 * opened by the Open bundle dialog, or a live session to watch.
 */
import { ArrowLeft } from 'lucide-react';
import { useEffect, useMemo, useState } from 'react';
import type { DesktopApi, EventPayload, PlaybackInfo } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { isDesktopError } from '../desktopApi/getDesktopApi.ts';
import { formatBytes } from '../recordings/verdictLabel.ts';
import type { Theme } from '../theme/themePreference.ts';
import { DatabasePlayer } from './DatabasePlayer.tsx';
import { ExportButtons } from './ExportButtons.tsx';
import { IntegrityBanner, MissingBanner } from './IntegrityBanner.tsx';
import { LiveDuration } from './liveClock.ts';
import { LiveRouter } from './liveFeed.ts';
import { formatDuration } from './playbackTime.ts';
import { TerminalPlayer } from './TerminalPlayer.tsx';

export type PlayerTarget =
  | { kind: 'session'; sessionId: string; startAtMs: number | null; focusSeq: number | null }
  | { kind: 'bundle'; info: PlaybackInfo }
  | { kind: 'live'; sessionId: string; resourceName?: string };

type Progress = EventPayload<'playback.progress'>;
type LiveEnd = EventPayload<'live.ended'>;
type QueryEntry = EventPayload<'live.queries'>['entries'][number];

const PHASES: Record<Progress['phase'], string> = {
  download: 'Downloading',
  verify: 'Verifying',
  index: 'Indexing',
  keyframes: 'Building keyframes',
};

export function RecordingPlayer({
  api,
  target,
  theme,
  onBack,
}: {
  api: DesktopApi;
  target: PlayerTarget;
  theme: Theme;
  onBack(): void;
}) {
  /**
   * The latest `playback.updated` (issue #16). It also replaces `info` (its length, commands and
   * activity grow as the download goes on); the players keep their engine, keyed by playback id.
   */
  const [updated, setUpdated] = useState<PlaybackInfo | null>(null);
  const [info, setInfo] = useState<PlaybackInfo | null>(
    target.kind === 'bundle' ? target.info : null,
  );
  const [error, setError] = useState<string | null>(null);
  /** The gateway lists the recording but its bytes are gone: shown as the verdict, "Missing". */
  const [missing, setMissing] = useState<string | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [acceptFailed, setAcceptFailed] = useState(false);
  const [liveEnd, setLiveEnd] = useState<LiveEnd | null>(null);
  /** Another terminal channel of the session than the first (a second shell), once chosen. */
  const [channel, setChannel] = useState<number | undefined>(undefined);
  const live = useMemo(() => (target.kind === 'live' ? new LiveRouter() : null), [target]);
  const liveQueries = useMemo(
    () => (target.kind === 'live' ? new LiveRouter<QueryEntry>() : null),
    [target],
  );
  const sessionId = target.kind === 'bundle' ? target.info.sessionId : target.sessionId;

  useEffect(() => {
    let cancelled = false;
    let opened: PlaybackInfo | null = target.kind === 'bundle' ? target.info : null;
    const offs: (() => void)[] = [];
    if (target.kind === 'session') {
      offs.push(
        api.on('playback.progress', (p) => {
          if (p.sessionId === target.sessionId && !cancelled) setProgress(p);
        }),
      );
      // Issue #16: the verdict of a playback opened while it downloads grows, then is final.
      offs.push(
        api.on('playback.updated', (p) => {
          if (cancelled || p.info.playbackId !== opened?.playbackId) return;
          setUpdated(p.info);
          setInfo(p.info);
        }),
      );
      api
        .call('recordings.open', {
          sessionId: target.sessionId,
          ...(channel === undefined ? {} : { channel }),
        })
        .then((result) => {
          opened = result;
          if (cancelled)
            api.call('playback.close', { playbackId: result.playbackId }).catch(() => {});
          else setInfo(result);
        })
        .catch((e: unknown) => {
          if (cancelled) return;
          if (isDesktopError(e) && e.code === 'recording_missing') setMissing(e.message);
          else setError(describeError(e));
        });
    } else if (target.kind === 'live' && live !== null) {
      // Subscribed before asking, so no frame sent before the answer is lost.
      offs.push(api.on('live.frames', (p) => live.deliver(p.playbackId, p.events)));
      offs.push(api.on('live.queries', (p) => liveQueries?.deliver(p.playbackId, p.entries)));
      offs.push(
        api.on('live.ended', (p) => {
          if (!cancelled && p.playbackId === opened?.playbackId) setLiveEnd(p);
        }),
      );
      api
        .call('live.watch', { sessionId: target.sessionId })
        .then((result) => {
          opened = result;
          if (cancelled) api.call('live.stop', { playbackId: result.playbackId }).catch(() => {});
          else setInfo(result);
        })
        .catch((e: unknown) => {
          if (!cancelled) setError(describeError(e));
        });
    }
    return () => {
      cancelled = true;
      for (const off of offs) off();
      if (opened !== null) {
        const { playbackId } = opened;
        const verb = target.kind === 'live' ? 'live.stop' : 'playback.close';
        api.call(verb, { playbackId }).catch(() => {});
      }
    };
  }, [api, target, live, liveQueries, channel]);

  const verdict =
    liveEnd?.verdict ??
    (updated !== null && updated.playbackId === info?.playbackId ? updated.verdict : null) ??
    info?.verdict ??
    null;
  const gate = verdict?.status === 'failed' && !acceptFailed;
  // A live watch's header is written before the recording names its resource.
  const title =
    info?.resourceName ?? (target.kind === 'live' ? target.resourceName : undefined) ?? sessionId;

  return (
    <section className="player" aria-label="Recording player">
      <div className="player-head">
        <button type="button" className="button button-ghost button-small" onClick={onBack}>
          <ArrowLeft size={15} aria-hidden="true" /> Back to recordings
        </button>
        <h2 className="player-title">
          {title}
          {target.kind === 'bundle' ? (
            <span className="badge badge-demo">Offline bundle</span>
          ) : null}
        </h2>
        <span className="muted small player-meta">
          {info?.username ? `${info.username} · ` : ''}
          {info?.startedAt ? `${new Date(info.startedAt).toLocaleString()} · ` : ''}
          {info === null ? (
            ''
          ) : info.source === 'live' ? (
            <LiveDuration
              startElapsedMs={info.durationMs}
              running={liveEnd === null}
              format={formatDuration}
            />
          ) : (
            formatDuration(info.durationMs)
          )}{' '}
          · <code>{sessionId}</code>
        </span>
      </div>
      <ErrorAlert message={error} />
      {missing === null ? null : <MissingBanner message={missing} />}
      {info === null && error === null && missing === null ? (
        <div className="player-opening" role="status" aria-label="Opening recording">
          {target.kind === 'live' ? 'Connecting to the live session…' : 'Opening the recording…'}
          {progress ? (
            <>
              <span>
                {' '}
                {PHASES[progress.phase]} {formatBytes(progress.bytes)}
                {progress.totalBytes ? ` of ${formatBytes(progress.totalBytes)}` : ''}
              </span>
              <progress
                aria-label={`${PHASES[progress.phase]} the recording`}
                max={progress.totalBytes ?? undefined}
                value={progress.totalBytes ? progress.bytes : undefined}
              />
            </>
          ) : null}
        </div>
      ) : null}
      {verdict !== null ? (
        <IntegrityBanner
          verdict={verdict}
          gate={gate}
          live={info?.source === 'live' && liveEnd === null}
          onShowAnyway={() => setAcceptFailed(true)}
          onBack={onBack}
        />
      ) : null}
      {liveEnd !== null ? (
        <div className="alert alert-info" role="status" aria-label="Live session ended">
          {liveEnd.reason === 'session-ended'
            ? (liveEnd.message ?? 'The session ended.')
            : (liveEnd.message ?? 'Watching stopped.')}
        </div>
      ) : null}
      {info !== null && !gate ? (
        <>
          {info.source === 'gateway' ? (
            <ExportButtons
              api={api}
              sessionId={info.sessionId}
              kind={info.kind}
              channel={info.channel}
            />
          ) : null}
          {info.source === 'gateway' && info.channels.length > 1 ? (
            <label className="player-option">
              Terminal{' '}
              <select
                aria-label="Terminal channel"
                value={info.channel ?? ''}
                onChange={(e) => {
                  setInfo(null);
                  setChannel(Number(e.target.value));
                }}
              >
                {info.channels.map((c, i) => (
                  <option key={c} value={c}>
                    {i === 0 ? `Channel ${c} (first)` : `Channel ${c}`}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
          {info.kind === 'terminal' ? (
            <TerminalPlayer
              api={api}
              info={info}
              theme={theme}
              startAtMs={
                target.kind === 'session' && channel === undefined ? target.startAtMs : null
              }
              startAfterSeq={
                target.kind === 'session' && channel === undefined ? target.focusSeq : null
              }
              acceptFailed={acceptFailed}
              live={live === null ? null : live.feed(info.playbackId)}
              liveRunning={liveEnd === null}
            />
          ) : (
            <DatabasePlayer
              api={api}
              info={info}
              acceptFailed={acceptFailed}
              focusSeq={target.kind === 'session' ? target.focusSeq : null}
              live={liveQueries === null ? null : liveQueries.feed(info.playbackId)}
            />
          )}
        </>
      ) : null}
    </section>
  );
}
