/**
 * The settings panel: navigation on the left (grouped, like a desktop app's preferences), the
 * chosen page on the right. Which pages a person sees comes from the registry
 * (settingsSections.ts) and their role.
 */
import { ArrowLeft } from 'lucide-react';
import './settings.css';
import { useMemo, useState } from 'react';
import type { DesktopApi } from '../../../main/ipc/contract.ts';
import { SETTINGS_GROUPS, sectionsFor } from './settingsSections.ts';
import type { Viewer } from './viewer.ts';

export function SettingsView({
  api,
  viewer,
  initialSection,
  onClose,
  onWatchLive,
}: {
  api: DesktopApi;
  viewer: Viewer;
  initialSection?: string;
  onClose(): void;
  onWatchLive(sessionId: string, resourceName: string): void;
}) {
  const sections = useMemo(() => sectionsFor(viewer), [viewer]);
  const [chosen, setChosen] = useState(initialSection);
  const current = sections.find((s) => s.id === chosen) ?? sections[0];
  if (!current) return null;
  const Page = current.component;
  return (
    <div className="settings">
      <nav className="settings-nav" aria-label="Settings">
        <button type="button" className="button button-ghost settings-back" onClick={onClose}>
          <ArrowLeft size={16} aria-hidden="true" /> Back to workspace
        </button>
        {SETTINGS_GROUPS.map((group) => {
          const inGroup = sections.filter((s) => s.group === group);
          if (inGroup.length === 0) return null;
          return (
            <div key={group} className="settings-nav-group">
              <h2 className="settings-nav-heading">{group}</h2>
              <ul>
                {inGroup.map((section) => (
                  <li key={section.id}>
                    <button
                      type="button"
                      className="settings-nav-item"
                      aria-current={section.id === current.id ? 'page' : undefined}
                      title={section.summary}
                      onClick={() => setChosen(section.id)}
                    >
                      {section.label}
                    </button>
                  </li>
                ))}
              </ul>
            </div>
          );
        })}
      </nav>
      <main className="settings-page" aria-labelledby="settings-page-title">
        <header className="settings-page-head">
          <h1 id="settings-page-title">{current.label}</h1>
        </header>
        <Page key={current.id} api={api} viewer={viewer} onWatchLive={onWatchLive} />
      </main>
    </div>
  );
}
