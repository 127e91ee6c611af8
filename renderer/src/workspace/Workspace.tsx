/**
 * The signed-in app: header, resources and recent recordings on the left, and on the right
 * either the terminal tabs or the Recordings view (search, playback, live watch); the keyboard
 * shortcuts that move between tabs. Terminal tabs stay mounted (hidden) while Recordings is in
 * front, so their sessions carry on.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { AppState, DesktopApi, ResourceSummary } from '../../../main/ipc/contract.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { SecretStoreNotice } from '../components/SecretStoreNotice.tsx';
import { useAction } from '../components/useAction.ts';
import { RecordingsPanel } from '../recordings/RecordingsPanel.tsx';
import { RecordingsView } from '../recordings/RecordingsView.tsx';
import type { PlayerTarget } from '../replay/RecordingPlayer.tsx';
import { ResourcePanel } from '../resources/ResourcePanel.tsx';
import { type Toast, Toasts } from '../settings/components/Toasts.tsx';
import { RequestAccessDialog } from '../settings/requests/RequestAccessDialog.tsx';
import { requestToast } from '../settings/requests/requestToast.ts';
import { SettingsView } from '../settings/SettingsView.tsx';
import type { PanelState, TerminalTab } from '../terminals/TerminalPanel.tsx';
import { TerminalTabs } from '../terminals/TerminalTabs.tsx';
import { tabLabel } from '../terminals/tabLabel.ts';
import { TerminalEventRouter } from '../terminals/terminalEventRouter.ts';
import type { Theme } from '../theme/themePreference.ts';
import { DbConnectionDialog } from '../tunnels/DbConnectionDialog.tsx';
import { TunnelsView } from '../tunnels/TunnelsView.tsx';
import { openTunnels } from '../tunnels/tunnelText.ts';
import { useTunnels } from '../tunnels/useTunnels.ts';
import { StatusBar } from '../workbench/StatusBar.tsx';
import { useReportActivity, WorkbenchActivityContext } from '../workbench/useWorkbenchActivity.ts';
import { WorkbenchActivityStore } from '../workbench/workbenchActivity.ts';
import { WorkspaceHeader } from './WorkspaceHeader.tsx';
import { cycleTab, tabAfterClose, workspaceShortcut } from './workspaceShortcut.ts';

let nextTabNumber = 1;

/**
 * Holds the status bar's activity store (issue #15) above everything in the workspace, so any
 * panel — terminal tabs here, consoles and tunnels beside them — can report its live count.
 */
export function Workspace(props: Parameters<typeof WorkspaceLayout>[0]) {
  const activity = useMemo(() => new WorkbenchActivityStore(), []);
  return (
    <WorkbenchActivityContext.Provider value={activity}>
      <WorkspaceLayout {...props} />
    </WorkbenchActivityContext.Provider>
  );
}

function WorkspaceLayout({
  api,
  state,
  theme,
  active,
  onToggleTheme,
  onSigningOut,
  onState,
}: {
  api: DesktopApi;
  state: AppState;
  theme: Theme;
  /** False while another screen (a deep-linked enroll) covers it: shortcuts are off. */
  active: boolean;
  onToggleTheme(): void;
  onSigningOut(): void;
  onState(state: AppState): void;
}) {
  const router = useMemo(() => new TerminalEventRouter(), []);
  const [tabs, setTabs] = useState<TerminalTab[]>([]);
  const [activeId, setActiveId] = useState<string | null>(null);
  const [tabStates, setTabStates] = useState<Record<string, PanelState['kind']>>({});
  const [recordingsKey, setRecordingsKey] = useState(0);
  const [view, setView] = useState<'terminals' | 'recordings' | 'settings' | 'tunnels'>(
    'terminals',
  );
  // Tunnels (issue #15): the list main announces, the resource whose tunnel is being opened,
  // and the one whose DBeaver/pgAdmin connection is shown.
  const tunnels = useTunnels(api);
  const [openingTunnel, setOpeningTunnel] = useState<ResourceSummary | null>(null);
  const [dbConnection, setDbConnection] = useState<ResourceSummary | null>(null);
  const [requesting, setRequesting] = useState<ResourceSummary | null>(null);
  const [resourcesKey, setResourcesKey] = useState(0);
  const [toasts, setToasts] = useState<Toast[]>([]);
  const [playerTarget, setPlayerTarget] = useState<PlayerTarget | null>(null);
  const canWatchLive = state.account?.role === 'admin' || state.account?.role === 'auditor';
  const searchRef = useRef<HTMLInputElement>(null);
  const signOut = useAction();
  // Terminal and console tabs report their state alike; the status bar counts them apart.
  const liveTabs = (kind: 'console' | 'terminal') =>
    tabs.filter((tab) => (tab.kind ?? 'terminal') === kind && tabStates[tab.id] === 'live').length;
  useReportActivity('terminals', liveTabs('terminal'));
  useReportActivity('consoles', liveTabs('console'));
  useReportActivity('tunnels', openTunnels(tunnels).length);

  // Terminal events go through one router to the tab that owns each terminal.
  useEffect(() => {
    const offData = api.on('terminal.data', (event) => router.data(event));
    const offEnded = api.on('terminal.ended', (event) => router.ended(event));
    return () => {
      offData();
      offEnded();
    };
  }, [api, router]);

  // Access requests (issue #14): a decision on mine, or a new one I may decide, is announced;
  // an approval also re-reads the resources, so "Open terminal" appears without a reload.
  const username = state.account?.username ?? '';
  useEffect(
    () =>
      api.on('requests.changed', (event) => {
        const toast = requestToast(event, username);
        // A decided request's "new request" notice is stale: it goes.
        const stale = event.request.state === 'pending' ? null : `${event.request.id}-created`;
        setToasts((current) => [
          ...current.filter((t) => t.id !== toast?.id && t.id !== stale),
          ...(toast ? [toast] : []),
        ]);
        if (event.request.username === username) setResourcesKey((k) => k + 1);
      }),
    [api, username],
  );
  const dismissToast = useCallback(
    (id: string) => setToasts((current) => current.filter((t) => t.id !== id)),
    [],
  );

  const openTerminal = useCallback((resource: ResourceSummary) => {
    const id = `t${nextTabNumber++}`;
    setTabs((current) => {
      const label = tabLabel(
        current.map((t) => t.label),
        resource.name,
      );
      // A PostgreSQL resource opens a query console (issue #15), in the same tab strip.
      const kind = resource.kind === 'postgres' ? 'console' : 'terminal';
      return [
        ...current,
        { id, resourceId: resource.id, resourceName: resource.name, label, kind },
      ];
    });
    setActiveId(id);
    setView('terminals');
  }, []);

  const showRecording = useCallback((target: PlayerTarget | null) => {
    setPlayerTarget(target);
    setView('recordings');
  }, []);

  const closeTab = useCallback(
    (tabId: string) => {
      const ids = tabs.map((t) => t.id);
      setActiveId((active) => tabAfterClose(ids, tabId, active));
      setTabs((current) => current.filter((t) => t.id !== tabId));
      setTabStates(({ [tabId]: _closed, ...rest }) => rest);
      // The closed session's recording is now complete.
      setRecordingsKey((k) => k + 1);
    },
    [tabs],
  );

  const onTabState = useCallback((tabId: string, panel: PanelState) => {
    setTabStates((current) =>
      current[tabId] === panel.kind ? current : { ...current, [tabId]: panel.kind },
    );
    if (panel.kind === 'ended' || panel.kind === 'live') setRecordingsKey((k) => k + 1);
  }, []);

  // The window title names the terminal in front (task switchers, screen readers).
  useEffect(() => {
    if (!active) return;
    const label = tabs.find((t) => t.id === activeId)?.label;
    document.title = label ? `${label} — Witness` : 'Witness';
  }, [active, tabs, activeId]);

  // Captured at the window so the shortcuts work while xterm has focus.
  useEffect(() => {
    if (!active) return;
    const onKeyDown = (event: KeyboardEvent) => {
      const shortcut = workspaceShortcut(event);
      if (shortcut === null) return;
      event.preventDefault();
      event.stopPropagation();
      const ids = tabs.map((t) => t.id);
      switch (shortcut) {
        case 'focus-resources':
          searchRef.current?.focus();
          searchRef.current?.select();
          break;
        case 'close-tab':
          if (activeId !== null) closeTab(activeId);
          break;
        case 'previous-tab':
          setView('terminals');
          setActiveId(cycleTab(ids, activeId, -1));
          break;
        case 'next-tab':
          setView('terminals');
          setActiveId(cycleTab(ids, activeId, 1));
          break;
      }
    };
    window.addEventListener('keydown', onKeyDown, { capture: true });
    return () => window.removeEventListener('keydown', onKeyDown, { capture: true });
  }, [active, tabs, activeId, closeTab]);

  return (
    <div className="workspace">
      <WorkspaceHeader
        state={state}
        theme={theme}
        onToggleTheme={onToggleTheme}
        signingOut={signOut.busy}
        settingsOpen={view === 'settings'}
        onToggleSettings={() => setView((v) => (v === 'settings' ? 'terminals' : 'settings'))}
        onSignOut={() =>
          signOut.run(async () => {
            onSigningOut();
            onState(await api.call('account.logout', {}));
          })
        }
      />
      <ErrorAlert message={signOut.error} />
      <SecretStoreNotice status={state.secretStore} />
      {view === 'settings' && state.account ? (
        <SettingsView
          api={api}
          viewer={state.account}
          onClose={() => setView('terminals')}
          onWatchLive={(sessionId, resourceName) =>
            showRecording({ kind: 'live', sessionId, resourceName })
          }
        />
      ) : null}
      {/* Kept mounted behind the settings, so terminal sessions carry on. */}
      <div className="workspace-body" hidden={view === 'settings'}>
        <aside className="sidebar" aria-label="Resources and recordings">
          <ResourcePanel
            api={api}
            localGateway={state.localGateway}
            searchRef={searchRef}
            onOpenTerminal={openTerminal}
            onRequestAccess={setRequesting}
            onOpenTunnel={(resource) => {
              setOpeningTunnel(resource);
              setView('tunnels');
            }}
            onDbConnection={setDbConnection}
            refreshKey={resourcesKey}
          />
          <RecordingsPanel
            api={api}
            refreshKey={recordingsKey}
            onPlay={(sessionId) =>
              showRecording({ kind: 'session', sessionId, startAtMs: null, focusSeq: null })
            }
            onShowAll={() => showRecording(null)}
          />
        </aside>
        <div className="workspace-main">
          <nav className="view-switch" aria-label="Views">
            <button
              type="button"
              className="view-switch-button"
              aria-pressed={view === 'terminals'}
              onClick={() => setView('terminals')}
            >
              Terminals{tabs.length > 0 ? ` (${tabs.length})` : ''}
            </button>
            <button
              type="button"
              className="view-switch-button"
              aria-pressed={view === 'recordings'}
              onClick={() => setView('recordings')}
            >
              Recordings
            </button>
            <button
              type="button"
              className="view-switch-button"
              aria-pressed={view === 'tunnels'}
              onClick={() => setView('tunnels')}
            >
              Tunnels
              {openTunnels(tunnels).length > 0 ? ` (${openTunnels(tunnels).length})` : ''}
            </button>
          </nav>
          {view === 'tunnels' ? (
            <main className="recordings-area" aria-label="Tunnels">
              <TunnelsView
                api={api}
                tunnels={tunnels}
                opening={openingTunnel}
                onOpeningDone={() => setOpeningTunnel(null)}
                onShowRecording={(sessionId, resourceName, live) =>
                  showRecording(
                    live && canWatchLive
                      ? { kind: 'live', sessionId, resourceName }
                      : { kind: 'session', sessionId, startAtMs: null, focusSeq: null },
                  )
                }
              />
            </main>
          ) : null}
          {view === 'recordings' ? (
            <main className="recordings-area" aria-labelledby="recordings-view-title">
              <RecordingsView
                api={api}
                theme={theme}
                canWatchLive={canWatchLive}
                target={playerTarget}
                onTarget={setPlayerTarget}
              />
            </main>
          ) : null}
          <main className="terminal-area" aria-label="Terminals" hidden={view !== 'terminals'}>
            <TerminalTabs
              api={api}
              router={router}
              tabs={tabs}
              states={tabStates}
              activeId={activeId}
              theme={theme}
              onActivate={setActiveId}
              onClose={closeTab}
              onState={onTabState}
            />
          </main>
        </div>
      </div>
      {requesting ? (
        <RequestAccessDialog
          api={api}
          resource={requesting}
          onClose={() => setRequesting(null)}
          onRequested={() => {
            setToasts((current) => [
              ...current,
              {
                id: `sent-${requesting.id}-${Date.now()}`,
                title: `Access to ${requesting.name} requested`,
                body: 'You are told here as soon as an approver decides (Settings → Requests).',
                tone: 'info',
              },
            ]);
            setRequesting(null);
          }}
        />
      ) : null}
      {dbConnection ? (
        <DbConnectionDialog
          api={api}
          resource={dbConnection}
          onClose={() => setDbConnection(null)}
        />
      ) : null}
      <Toasts toasts={toasts} onDismiss={dismissToast} />
      <StatusBar api={api} state={state} />
    </div>
  );
}
