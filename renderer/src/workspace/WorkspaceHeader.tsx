import { LogOut, Settings } from 'lucide-react';
import type { AppState } from '../../../main/ipc/contract.ts';
import { LocalGatewayBadge } from '../components/LocalGatewayBadge.tsx';
import { ThemeToggle } from '../theme/ThemeToggle.tsx';
import type { Theme } from '../theme/themePreference.ts';
import { roleName } from '../workbench/roleName.ts';

export function WorkspaceHeader({
  state,
  theme,
  onToggleTheme,
  onSignOut,
  signingOut,
  settingsOpen,
  onToggleSettings,
}: {
  state: AppState;
  theme: Theme;
  onToggleTheme(): void;
  onSignOut(): void;
  signingOut: boolean;
  /** The settings panel (issue #14) is in front. */
  settingsOpen: boolean;
  onToggleSettings(): void;
}) {
  const gateway = state.gateway;
  const account = state.account;
  return (
    <header className="app-header">
      <span className="brand">
        <img className="brand-mark" src="favicon.svg" alt="" />
        Witness
      </span>
      {gateway ? (
        <span className="gateway-line" title={`CA ${gateway.caFingerprint}`}>
          <span className="muted">Gateway</span> <code>{gateway.url}</code>
          {gateway.isLocal ? <LocalGatewayBadge /> : null}
        </span>
      ) : null}
      <span className="spacer" />
      {account ? (
        <span className="who">
          <span className="visually-hidden">Signed in as </span>
          <span className="avatar" aria-hidden="true">
            {account.username.slice(0, 1).toUpperCase()}
          </span>
          <span>
            <strong>{account.username}</strong>{' '}
            <span className="muted">· {roleName(account.role)}</span>
          </span>
        </span>
      ) : null}
      <button
        type="button"
        className="button"
        aria-pressed={settingsOpen}
        onClick={onToggleSettings}
        title="Users, groups, grants, access requests and live sessions"
      >
        <Settings size={16} aria-hidden="true" /> Settings
      </button>
      <ThemeToggle theme={theme} onToggle={onToggleTheme} />
      <button type="button" className="button" onClick={onSignOut} disabled={signingOut}>
        <LogOut size={16} aria-hidden="true" /> Sign out
      </button>
    </header>
  );
}
