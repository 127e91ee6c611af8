/**
 * One terminal tab's content: the toolbar (recorded indicator, time left, find), the expiry
 * warning, xterm itself, and the opening / failed / ended overlays. The session logic lives in
 * TerminalConnection; xterm is loaded on first use (see xtermSession.ts).
 */
import { Circle, Search, X } from 'lucide-react';
import { useEffect, useId, useRef, useState } from 'react';
import type { DesktopApi } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import type { Theme } from '../theme/themePreference.ts';
import { expiryWarning, expiryWarningText } from '../time/expiryWarning.ts';
import { formatClockTime, formatTimeLeft } from '../time/formatTimeLeft.ts';
import { useNow } from '../time/useNow.ts';
import { endReasonMessage } from './endReasonMessage.ts';
import { terminalGpuAllowed } from './gpuPreference.ts';
import { type ConnectionState, TerminalConnection } from './terminalConnection.ts';
import type { TerminalEventRouter } from './terminalEventRouter.ts';
import type { XtermSession } from './xtermSession.ts';

export type PanelState =
  | ConnectionState
  | { kind: 'loading' }
  | { kind: 'load-failed'; message: string };

export interface TerminalTab {
  id: string;
  resourceId: string;
  resourceName: string;
  /** The resource name, with " (2)" etc. when several tabs show the same resource. */
  label: string;
  /** A query console on a PostgreSQL resource (issue #15); a terminal when absent. */
  kind?: 'terminal' | 'console';
}

export function TerminalPanel({
  api,
  router,
  tab,
  active,
  theme,
  tabElementId,
  panelElementId,
  onState,
  onClose,
}: {
  api: DesktopApi;
  router: TerminalEventRouter;
  tab: TerminalTab;
  active: boolean;
  theme: Theme;
  tabElementId: string;
  panelElementId: string;
  onState(tabId: string, state: PanelState): void;
  onClose(tabId: string): void;
}) {
  const hostRef = useRef<HTMLDivElement>(null);
  const xtermRef = useRef<XtermSession | null>(null);
  const connectionRef = useRef<TerminalConnection | null>(null);
  const themeRef = useRef(theme);
  const [state, setState] = useState<PanelState>({ kind: 'loading' });
  const [searchOpen, setSearchOpen] = useState(false);

  // Mount: load xterm, create the screen, open the session. Unmount (tab closed): close it.
  // biome-ignore lint/correctness/useExhaustiveDependencies: one session per mounted tab
  useEffect(() => {
    let cancelled = false;
    import('./xtermSession.ts')
      .then(({ createXtermSession }) => {
        const host = hostRef.current;
        if (cancelled || host === null) return;
        const xterm = createXtermSession(host, {
          theme: themeRef.current,
          gpu: terminalGpuAllowed(),
          onInput: (data) => connectionRef.current?.input(data),
          onResize: (size) => connectionRef.current?.resize(size),
          onFindRequested: () => setSearchOpen(true),
        });
        xtermRef.current = xterm;
        xterm.fit();
        const connection = new TerminalConnection({
          api,
          router,
          resourceId: tab.resourceId,
          screen: xterm,
          onState: setState,
          describeError,
        });
        connectionRef.current = connection;
        connection.open();
      })
      .catch((error: unknown) => {
        if (!cancelled) {
          setState({
            kind: 'load-failed',
            message: `The terminal could not load: ${describeError(error)} Reload the window.`,
          });
        }
      });
    return () => {
      cancelled = true;
      connectionRef.current?.close();
      connectionRef.current = null;
      xtermRef.current?.dispose();
      xtermRef.current = null;
    };
  }, []);

  useEffect(() => {
    onState(tab.id, state);
  }, [onState, tab.id, state]);

  useEffect(() => {
    themeRef.current = theme;
    xtermRef.current?.setTheme(theme);
  }, [theme]);

  // Fit xterm to its box whenever the box changes (window resize, sidebar, tab shown).
  useEffect(() => {
    const host = hostRef.current;
    if (host === null) return;
    const observer = new ResizeObserver(() => xtermRef.current?.fit());
    observer.observe(host);
    return () => observer.disconnect();
  }, []);

  // A tab brought to front gets the keyboard (unless an overlay asks for attention).
  useEffect(() => {
    if (!active || searchOpen) return;
    const frame = requestAnimationFrame(() => {
      xtermRef.current?.fit();
      if (state.kind === 'live') xtermRef.current?.focus();
    });
    return () => cancelAnimationFrame(frame);
  }, [active, searchOpen, state.kind]);

  const reconnect = () => {
    xtermRef.current?.write('\r\n\x1b[2m── reconnecting ──\x1b[0m\r\n');
    connectionRef.current?.open();
  };

  return (
    <div
      role="tabpanel"
      id={panelElementId}
      aria-labelledby={tabElementId}
      hidden={!active}
      className="terminal-panel"
    >
      <section className="terminal-frame" aria-label={`Terminal ${tab.label}`}>
        <TerminalToolbar
          state={state}
          resourceName={tab.resourceName}
          onFind={() => setSearchOpen((open) => !open)}
        />
        <ExpiryBanner state={state} />
        <div className="terminal-body">
          <div ref={hostRef} className="terminal-host" data-state={state.kind} />
          {/* Floats over the output: opening Find must not resize the pty (or drop the selection). */}
          {searchOpen && xtermRef.current ? (
            <SearchBar
              xterm={xtermRef.current}
              onClose={() => {
                setSearchOpen(false);
                xtermRef.current?.focus();
              }}
            />
          ) : null}
          <Overlay
            state={state}
            tab={tab}
            active={active}
            onReconnect={reconnect}
            onClose={() => onClose(tab.id)}
          />
        </div>
      </section>
    </div>
  );
}

function TerminalToolbar({
  state,
  resourceName,
  onFind,
}: {
  state: PanelState;
  resourceName: string;
  onFind(): void;
}) {
  const now = useNow(1000);
  const expiresAt = state.kind === 'live' || state.kind === 'ended' ? state.expiresAt : null;
  const sessionId = state.kind === 'live' || state.kind === 'ended' ? state.sessionId : null;
  const warning =
    expiresAt !== null && state.kind === 'live' ? expiryWarning(expiresAt, now) : null;
  return (
    <div className="terminal-toolbar">
      <span className="terminal-title">{resourceName}</span>
      {sessionId !== null ? (
        <code className="session-id muted" title="Session id (the recording's name)">
          {sessionId}
        </code>
      ) : null}
      <span className="spacer" />
      {/* Every session through the gateway is recorded; the indicator says so at all times. */}
      <span
        role="status"
        aria-label="Recorded"
        className={state.kind === 'live' ? 'recorded' : 'recorded recorded-done'}
        title={
          state.kind === 'live'
            ? 'This session is recorded by the gateway: every keystroke and all output.'
            : 'Sessions on this resource are recorded by the gateway.'
        }
      >
        <Circle className="recorded-dot" size={9} fill="currentColor" aria-hidden="true" /> Recorded
      </span>
      {expiresAt !== null && state.kind === 'live' ? (
        <span
          className={warning?.kind === 'none' ? 'time-left' : 'time-left time-left-warn'}
          title={`The gateway ends this session at ${formatClockTime(expiresAt)}.`}
        >
          {formatTimeLeft(expiresAt, now)}
        </span>
      ) : null}
      <button
        type="button"
        className="button button-ghost button-small"
        aria-label="Find in terminal"
        title="Find in terminal (Ctrl+Shift+F)"
        onClick={onFind}
        disabled={state.kind === 'loading' || state.kind === 'load-failed'}
      >
        <Search size={15} aria-hidden="true" />
      </button>
    </div>
  );
}

function ExpiryBanner({ state }: { state: PanelState }) {
  const now = useNow(1000);
  if (state.kind !== 'live') return null;
  const warning = expiryWarning(state.expiresAt, now);
  const text = expiryWarningText(warning, formatClockTime(state.expiresAt));
  if (text === null) return null;
  return (
    <div
      role="alert"
      className={
        warning.kind === 'soon' && warning.minutes === 5
          ? 'alert alert-warn banner'
          : 'alert alert-error banner'
      }
    >
      {text}
    </div>
  );
}

function SearchBar({ xterm, onClose }: { xterm: XtermSession; onClose(): void }) {
  const [query, setQuery] = useState('');
  const [found, setFound] = useState<boolean | null>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  useEffect(() => {
    inputRef.current?.focus();
    return () => xterm.clearSearch();
  }, [xterm]);
  const find = (direction: 'next' | 'previous') => {
    if (query === '') return;
    setFound(direction === 'next' ? xterm.findNext(query) : xterm.findPrevious(query));
  };
  return (
    <search aria-label="Find in terminal output" className="terminal-search">
      <input
        ref={inputRef}
        type="search"
        aria-label="Search terminal output"
        placeholder="Find in output"
        value={query}
        onChange={(e) => {
          setQuery(e.target.value);
          setFound(e.target.value === '' ? null : xterm.findNext(e.target.value));
        }}
        onKeyDown={(e) => {
          if (e.key === 'Enter') {
            e.preventDefault();
            find(e.shiftKey ? 'previous' : 'next');
          } else if (e.key === 'Escape') {
            e.preventDefault();
            onClose();
          }
        }}
        spellCheck={false}
      />
      {found === false ? <span className="muted small">No match</span> : null}
      <button type="button" className="button button-small" onClick={() => find('previous')}>
        Find previous
      </button>
      <button type="button" className="button button-small" onClick={() => find('next')}>
        Find next
      </button>
      <button
        type="button"
        className="button button-ghost button-small"
        aria-label="Close search"
        onClick={onClose}
      >
        <X size={15} aria-hidden="true" />
      </button>
    </search>
  );
}

function Overlay({
  state,
  tab,
  active,
  onReconnect,
  onClose,
}: {
  state: PanelState;
  tab: TerminalTab;
  active: boolean;
  onReconnect(): void;
  onClose(): void;
}) {
  const titleId = useId();
  const detailId = useId();
  const primaryRef = useRef<HTMLButtonElement>(null);
  const needsAction = state.kind === 'ended' || state.kind === 'failed';
  useEffect(() => {
    if (needsAction && active) primaryRef.current?.focus();
  }, [needsAction, active]);

  switch (state.kind) {
    case 'live':
      return null;
    case 'loading':
    case 'opening':
      return (
        <div className="terminal-overlay terminal-overlay-quiet">
          <p role="status">
            <span className="spinner" aria-hidden="true" /> Opening a recorded session on{' '}
            {tab.resourceName}…
          </p>
        </div>
      );
    case 'load-failed':
      return (
        <div className="terminal-overlay">
          <div role="alert" className="alert alert-error">
            {state.message}
          </div>
        </div>
      );
    case 'failed':
      return (
        <div
          className="terminal-overlay"
          role="alertdialog"
          aria-labelledby={titleId}
          aria-describedby={detailId}
        >
          <div className="overlay-card">
            <h3 id={titleId}>Could not open a session on {tab.resourceName}</h3>
            <p id={detailId}>{state.message}</p>
            <div className="actions">
              <button
                ref={primaryRef}
                type="button"
                className="button button-primary"
                onClick={onReconnect}
              >
                Try again
              </button>
              <button type="button" className="button" onClick={onClose}>
                Close tab
              </button>
            </div>
          </div>
        </div>
      );
    case 'ended': {
      const message = endReasonMessage(state.reason, tab.resourceName);
      return (
        <div
          className="terminal-overlay"
          role="alertdialog"
          aria-labelledby={titleId}
          aria-describedby={detailId}
        >
          <div className={`overlay-card end-${state.reason.kind}`}>
            <h3 id={titleId}>{message.title}</h3>
            <p id={detailId}>{message.detail}</p>
            <p className="muted small">
              The session was recorded as <code>{state.sessionId}</code>.
            </p>
            <div className="actions">
              <button
                ref={primaryRef}
                type="button"
                className={message.canReconnect ? 'button button-primary' : 'button'}
                onClick={onReconnect}
              >
                Reconnect
              </button>
              <button type="button" className="button" onClick={onClose}>
                Close tab
              </button>
            </div>
          </div>
        </div>
      );
    }
  }
}
