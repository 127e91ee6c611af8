/**
 * The tab strip and the panels of every open terminal. Panels of background tabs stay mounted
 * (hidden), so their sessions and scrollback live on while another tab is shown.
 */
import { X } from 'lucide-react';
import type { KeyboardEvent } from 'react';
import type { DesktopApi } from '../../../main/ipc/contract.ts';
import { ConsolePanel } from '../console/ConsolePanel.tsx';
import type { Theme } from '../theme/themePreference.ts';
import { cycleTab } from '../workspace/workspaceShortcut.ts';
import { type PanelState, TerminalPanel, type TerminalTab } from './TerminalPanel.tsx';
import type { TerminalEventRouter } from './terminalEventRouter.ts';

const tabElementId = (id: string) => `terminal-tab-${id}`;
const panelElementId = (id: string) => `terminal-panel-${id}`;

export function TerminalTabs({
  api,
  router,
  tabs,
  states,
  activeId,
  theme,
  onActivate,
  onClose,
  onState,
}: {
  api: DesktopApi;
  router: TerminalEventRouter;
  tabs: readonly TerminalTab[];
  states: Readonly<Record<string, PanelState['kind']>>;
  activeId: string | null;
  theme: Theme;
  onActivate(tabId: string): void;
  onClose(tabId: string): void;
  onState(tabId: string, state: PanelState): void;
}) {
  // Arrow keys move between tabs (WAI-ARIA tabs pattern, automatic activation).
  const onTabKeyDown = (event: KeyboardEvent<HTMLButtonElement>) => {
    const ids = tabs.map((t) => t.id);
    let next: string | null = null;
    if (event.key === 'ArrowRight') next = cycleTab(ids, activeId, 1);
    else if (event.key === 'ArrowLeft') next = cycleTab(ids, activeId, -1);
    else if (event.key === 'Home') next = ids[0] ?? null;
    else if (event.key === 'End') next = ids.at(-1) ?? null;
    if (next === null) return;
    event.preventDefault();
    onActivate(next);
    document.getElementById(tabElementId(next))?.focus();
  };

  if (tabs.length === 0) {
    return (
      <div className="terminals-empty">
        <div>
          <h2>No terminal open</h2>
          <p className="muted">
            Choose <strong>Open terminal</strong> on an SSH resource, or{' '}
            <strong>Open console</strong> on a PostgreSQL one. Every session is recorded by the
            gateway.
          </p>
          <dl className="shortcuts">
            <dt>
              <kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>T</kbd>
            </dt>
            <dd>Search resources</dd>
            <dt>
              <kbd>Ctrl</kbd>+<kbd>PgUp</kbd> / <kbd>PgDn</kbd>
            </dt>
            <dd>Previous / next tab</dd>
            <dt>
              <kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>W</kbd>
            </dt>
            <dd>Close tab</dd>
            <dt>
              <kbd>Ctrl</kbd>+<kbd>Shift</kbd>+<kbd>C</kbd> / <kbd>V</kbd> / <kbd>F</kbd>
            </dt>
            <dd>Copy, paste, find in a terminal</dd>
          </dl>
        </div>
      </div>
    );
  }

  return (
    <div className="terminals">
      <div role="tablist" aria-label="Terminals" className="tab-strip">
        {tabs.map((tab) => {
          const selected = tab.id === activeId;
          const phase = states[tab.id] ?? 'loading';
          return (
            <div
              key={tab.id}
              role="presentation"
              className={selected ? 'tab-wrap tab-wrap-selected' : 'tab-wrap'}
            >
              <button
                type="button"
                role="tab"
                id={tabElementId(tab.id)}
                aria-selected={selected}
                aria-controls={panelElementId(tab.id)}
                tabIndex={selected ? 0 : -1}
                className="tab"
                onClick={() => onActivate(tab.id)}
                onKeyDown={onTabKeyDown}
                title={`${tab.resourceName} — ${phaseText(phase)}`}
              >
                <span className={`tab-dot tab-dot-${phase}`} aria-hidden="true" />
                {tab.label}
              </button>
              <button
                type="button"
                className="tab-close"
                aria-label={`Close tab ${tab.label}`}
                title="Close tab (Ctrl+Shift+W)"
                tabIndex={selected ? 0 : -1}
                onClick={() => onClose(tab.id)}
              >
                <X size={14} aria-hidden="true" />
              </button>
            </div>
          );
        })}
      </div>
      {tabs.map((tab) =>
        tab.kind === 'console' ? (
          <ConsolePanel
            key={tab.id}
            api={api}
            tab={tab}
            active={tab.id === activeId}
            tabElementId={tabElementId(tab.id)}
            panelElementId={panelElementId(tab.id)}
            onState={onState}
          />
        ) : (
          <TerminalPanel
            key={tab.id}
            api={api}
            router={router}
            tab={tab}
            active={tab.id === activeId}
            theme={theme}
            tabElementId={tabElementId(tab.id)}
            panelElementId={panelElementId(tab.id)}
            onState={onState}
            onClose={onClose}
          />
        ),
      )}
    </div>
  );
}

function phaseText(phase: PanelState['kind']): string {
  switch (phase) {
    case 'loading':
    case 'opening':
      return 'opening';
    case 'live':
      return 'connected, recorded';
    case 'ended':
      return 'ended';
    case 'failed':
    case 'load-failed':
      return 'could not open';
  }
}
