/**
 * The terminal player: the recorded screen (xterm at the recorded size, following resizes),
 * play/pause, speed 0.25×–16×, idle-skip, a timeline with the activity graph to seek on, the
 * reconstructed command lines to jump to, and optionally the keystrokes as they were typed.
 * Playback logic is PlaybackEngine's; this file is the DOM around it.
 *
 * The screen is shown whole by default: the font is scaled so the recorded grid fits the pane
 * ("Fit"); "100 %" shows it at the normal font size, the pane scrolling (issue #16).
 *
 * Live (`live` set): no clock and no seeking — `live.frames` events are written as they arrive.
 *
 * Keys while the player has focus: Space play/pause, ←/→ 5 s, Shift+←/→ 30 s, < / > speed.
 */
import { Circle, Pause, Play } from 'lucide-react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { DesktopApi, PlaybackEvent, PlaybackInfo } from '../../../main/ipc/contract.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { terminalGpuAllowed } from '../terminals/gpuPreference.ts';
import type { Theme } from '../theme/themePreference.ts';
import { appendKeystrokes } from './keystrokeLabel.ts';
import { useLiveElapsed } from './liveClock.ts';
import type { LiveFeed } from './liveFeed.ts';
import { PlaybackTimeline } from './PlaybackTimeline.tsx';
import { type EngineState, PlaybackEngine } from './playbackEngine.ts';
import { formatSpeed, PLAYBACK_SPEEDS, stepSpeed } from './playbackSpeed.ts';
import { formatPlaybackTime } from './playbackTime.ts';
import type { PlayerTerminal } from './playerTerminal.ts';
import { lastIndexAtOrBefore } from './timelineIndex.ts';
import { type PlayerZoom, ZoomChoice } from './ZoomChoice.tsx';

export function TerminalPlayer({
  api,
  info,
  theme,
  startAtMs,
  startAfterSeq,
  acceptFailed,
  live,
  liveRunning = true,
}: {
  api: DesktopApi;
  info: PlaybackInfo;
  theme: Theme;
  /** Open at this moment (a search hit), paused. */
  startAtMs: number | null;
  /** The hit's frame: open just after it, rather than after all of `startAtMs`'s millisecond. */
  startAfterSeq: number | null;
  /** The user chose to look at a recording that failed verification. */
  acceptFailed: boolean;
  live: LiveFeed | null;
  /** The watched session has not ended: the clock runs between outputs. */
  liveRunning?: boolean;
}) {
  const hostRef = useRef<HTMLElement>(null);
  const terminalRef = useRef<PlayerTerminal | null>(null);
  const engineRef = useRef<PlaybackEngine | null>(null);
  const themeRef = useRef(theme);
  const [state, setState] = useState<EngineState | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [showKeys, setShowKeys] = useState(false);
  const showKeysRef = useRef(false);
  const [keys, setKeys] = useState('');
  const [liveEnd, setLiveEnd] = useState(live === null ? 0 : info.durationMs);
  const liveClock = useLiveElapsed(info.durationMs, liveEnd, live !== null && liveRunning);
  const [zoom, setZoom] = useState<PlayerZoom>('fit');
  const zoomRef = useRef(zoom);
  /** The newest known length: it may grow while xterm loads, before the engine exists. */
  const durationRef = useRef(info.durationMs);

  /** Fits the grid to the screen's pane (its padding excluded), or shows it at 100 %. */
  const refit = useCallback(() => {
    const terminal = terminalRef.current;
    const host = hostRef.current;
    if (terminal === null || host === null) return;
    if (zoomRef.current === 'actual') {
      terminal.fit(null);
      return;
    }
    const style = getComputedStyle(host);
    const px = (value: string) => Number.parseFloat(value) || 0;
    terminal.fit({
      width: host.clientWidth - px(style.paddingLeft) - px(style.paddingRight),
      height: host.clientHeight - px(style.paddingTop) - px(style.paddingBottom),
    });
  }, []);

  useEffect(() => {
    zoomRef.current = zoom;
    refit();
  }, [zoom, refit]);

  // The pane changes size with the window, the sidebar and the command list.
  useEffect(() => {
    const host = hostRef.current;
    if (host === null) return;
    const observer = new ResizeObserver(() => refit());
    observer.observe(host);
    return () => observer.disconnect();
  }, [refit]);

  useEffect(() => {
    themeRef.current = theme;
    terminalRef.current?.setTheme(theme);
  }, [theme]);

  // biome-ignore lint/correctness/useExhaustiveDependencies: one terminal and engine per opened recording
  useEffect(() => {
    let cancelled = false;
    let offLive: (() => void) | null = null;
    import('./playerTerminal.ts')
      .then(({ createPlayerTerminal }) => {
        const host = hostRef.current;
        if (cancelled || host === null) return;
        const terminal = createPlayerTerminal(host, {
          theme: themeRef.current,
          gpu: terminalGpuAllowed(),
          size: info.size,
        });
        terminalRef.current = terminal;
        terminal.onGridResize(refit);
        refit();
        // The web font may arrive after the first measurement and change the cells' size.
        void document.fonts?.ready.then(() => {
          if (!cancelled) refit();
        });
        if (live !== null) {
          offLive = live.subscribe((events) => {
            for (const e of events) writeLive(terminal, e);
            const last = events[events.length - 1];
            if (last) setLiveEnd((end) => Math.max(end, last.t));
          });
          return;
        }
        const engine = new PlaybackEngine({
          durationMs: info.durationMs,
          initialSize: info.size,
          fetchFrames: (r) =>
            api.call('playback.frames', {
              playbackId: info.playbackId,
              fromMs: r.fromMs,
              toMs: r.toMs,
              ...(r.fromSeq === undefined ? {} : { fromSeq: r.fromSeq }),
              includeInput: true,
              ...(acceptFailed ? { acceptFailedVerification: true } : {}),
            }),
          seek: (atMs, afterSeq) =>
            api.call('playback.seek', {
              playbackId: info.playbackId,
              atMs,
              ...(afterSeq === undefined ? {} : { afterSeq }),
              ...(acceptFailed ? { acceptFailedVerification: true } : {}),
            }),
          sink: {
            reset: (snapshot, size) => {
              terminal.reset(snapshot, size);
              setKeys('');
            },
            write: (data) => terminal.write(data),
            resize: (size) => terminal.resize(size),
            input: (data) => {
              if (showKeysRef.current) setKeys((shown) => appendKeystrokes(shown, data));
            },
          },
          onChange: (s) => {
            if (!cancelled) setState(s);
          },
          now: () => performance.now(),
          requestFrame: (cb) => requestAnimationFrame(cb),
          cancelFrame: (h) => cancelAnimationFrame(h),
        });
        engineRef.current = engine;
        engine.setDuration(durationRef.current);
        const first =
          startAtMs !== null && (startAtMs > 0 || startAfterSeq !== null)
            ? engine.seek(startAtMs, startAfterSeq ?? undefined)
            : engine.load();
        first.catch((e: unknown) => setLoadError(String(e)));
      })
      .catch((e: unknown) => {
        if (!cancelled) setLoadError(`Could not load the terminal: ${String(e)}`);
      });
    return () => {
      cancelled = true;
      offLive?.();
      engineRef.current?.dispose();
      engineRef.current = null;
      terminalRef.current?.dispose();
      terminalRef.current = null;
    };
  }, [api, info.playbackId]);

  // A progressive open learns the whole length after it opened (issue #16).
  useEffect(() => {
    durationRef.current = info.durationMs;
    engineRef.current?.setDuration(info.durationMs);
  }, [info.durationMs]);

  const engine = engineRef.current;
  const playheadMs = live !== null ? liveEnd : (state?.playheadMs ?? 0);
  const durationMs = live !== null ? liveEnd : info.durationMs;
  const commandTimes = useMemo(() => info.commands.map((c) => c.t), [info.commands]);
  const currentCommand = lastIndexAtOrBefore(commandTimes, playheadMs);

  // Dragging the slider asks for many positions; one seek at a time, then the latest asked for
  // (each seek is a keyframe replay in main — queueing them all would lag behind the pointer).
  const seekState = useRef<{ running: boolean; pending: number | null }>({
    running: false,
    pending: null,
  });
  const seek = (atMs: number) => {
    const engine = engineRef.current;
    if (!engine) return;
    const s = seekState.current;
    if (s.running) {
      s.pending = atMs;
      return;
    }
    s.running = true;
    void engine.seek(atMs).finally(() => {
      s.running = false;
      const next = s.pending;
      s.pending = null;
      if (next !== null) seek(next);
    });
  };
  const togglePlay = () => {
    const e = engineRef.current;
    if (!e) return;
    if (e.current.playing) e.pause();
    else e.play();
  };
  const setSpeed = (speed: number) => engineRef.current?.setSpeed(speed);

  const onKeyDown = (event: React.KeyboardEvent) => {
    if (live !== null || engine === null) return;
    const target = event.target as HTMLElement;
    // Controls keep their own keys (Space on a button presses it, arrows move the slider);
    // xterm's hidden textarea (focused by a click on the screen) takes no input here.
    if (['INPUT', 'SELECT', 'BUTTON'].includes(target.tagName)) return;
    if (target.tagName === 'TEXTAREA' && !target.classList.contains('xterm-helper-textarea'))
      return;
    const big = event.shiftKey ? 30_000 : 5_000;
    if (event.key === ' ') togglePlay();
    else if (event.key === 'ArrowLeft') seek(playheadMs - big);
    else if (event.key === 'ArrowRight') seek(playheadMs + big);
    else if (event.key === '<') setSpeed(stepSpeed(engine.current.speed, -1));
    else if (event.key === '>') setSpeed(stepSpeed(engine.current.speed, 1));
    else return;
    // Captured before xterm's own handler, which would swallow the key.
    event.preventDefault();
    event.stopPropagation();
  };

  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: the player takes its own keys (space, arrows) when focused
    <div className="terminal-player" tabIndex={0} onKeyDownCapture={onKeyDown}>
      <div className="player-main">
        <div className="player-screen-wrap">
          <section
            ref={hostRef}
            className="player-screen terminal-host"
            aria-label="Recorded terminal"
          />
          {showKeys && keys !== '' ? (
            <div className="keystrokes" aria-label="Keystrokes" role="log">
              {keys}
            </div>
          ) : null}
        </div>
        <ErrorAlert message={loadError ?? state?.error ?? null} />
        {live === null ? (
          <div className="player-controls">
            <button
              type="button"
              className="button button-primary button-small play-button"
              onClick={togglePlay}
              disabled={engine === null}
              aria-label={state?.playing ? 'Pause' : 'Play'}
            >
              {state?.playing ? (
                <>
                  <Pause size={14} aria-hidden="true" /> Pause
                </>
              ) : (
                <>
                  <Play size={14} aria-hidden="true" /> Play
                </>
              )}
            </button>
            <PlaybackTimeline
              info={info}
              playheadMs={playheadMs}
              onSeek={seek}
              disabled={engine === null}
            />
            <output className="player-time" aria-label="Playback time">
              {formatPlaybackTime(playheadMs, durationMs)} / {formatPlaybackTime(durationMs)}
            </output>
            <label className="player-option">
              <span className="visually-hidden">Playback speed</span>
              <select
                aria-label="Playback speed"
                value={state?.speed ?? 1}
                onChange={(e) => setSpeed(Number(e.target.value))}
              >
                {PLAYBACK_SPEEDS.map((s) => (
                  <option key={s} value={s}>
                    {formatSpeed(s)}
                  </option>
                ))}
              </select>
            </label>
            <label className="player-option">
              <input
                type="checkbox"
                checked={state?.idleSkip ?? true}
                onChange={(e) => engineRef.current?.setIdleSkip(e.target.checked)}
              />
              Skip idle time
            </label>
            <label className="player-option">
              <input
                type="checkbox"
                checked={showKeys}
                onChange={(e) => {
                  showKeysRef.current = e.target.checked;
                  setShowKeys(e.target.checked);
                  setKeys('');
                }}
              />
              Show keystrokes
            </label>
            <ZoomChoice zoom={zoom} onZoom={setZoom} />
            {state?.buffering ? (
              <span className="muted small" role="status">
                Loading…
              </span>
            ) : null}
          </div>
        ) : (
          <div className="player-controls">
            <span className="badge badge-status-recording" role="status">
              <Circle size={8} fill="currentColor" aria-hidden="true" /> Live
            </span>
            <output className="player-time" aria-label="Playback time">
              {formatPlaybackTime(liveClock)}
            </output>
            <span className="muted small">Read-only: you are watching, not typing.</span>
            <ZoomChoice zoom={zoom} onZoom={setZoom} />
          </div>
        )}
      </div>
      {live === null ? (
        <nav className="command-list" aria-label="Commands">
          <h3>Commands</h3>
          {info.commands.length === 0 ? (
            <p className="muted small">No command lines were reconstructed.</p>
          ) : (
            <ol>
              {info.commands.map((c, i) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: two commands may share a time
                <li key={`${c.t}-${i}`}>
                  <button
                    type="button"
                    className={`command${i === currentCommand ? ' command-current' : ''}`}
                    aria-current={i === currentCommand ? 'step' : undefined}
                    aria-label={`Jump to ${formatPlaybackTime(c.t, durationMs)}: ${c.text}`}
                    onClick={() => seek(c.t)}
                  >
                    <span className="command-time">{formatPlaybackTime(c.t, durationMs)}</span>
                    <code>{c.text}</code>
                  </button>
                </li>
              ))}
            </ol>
          )}
        </nav>
      ) : null}
    </div>
  );
}

function writeLive(terminal: PlayerTerminal, event: PlaybackEvent): void {
  if (event.kind === 'output') terminal.write(event.data);
  else if (event.kind === 'resize' && event.size) terminal.resize(event.size);
}
