/** The frame of every screen before the workspace: brand, theme toggle, one centred card. */
import { type ReactNode, useEffect } from 'react';
import { ThemeToggle } from '../theme/ThemeToggle.tsx';
import type { Theme } from '../theme/themePreference.ts';

export interface ThemeProps {
  theme: Theme;
  onToggleTheme(): void;
}

export function CardLayout({
  title,
  children,
  theme,
  onToggleTheme,
  wide = false,
}: ThemeProps & { title: string; children: ReactNode; wide?: boolean }) {
  useEffect(() => {
    document.title = `${title} — Witness`;
  }, [title]);
  return (
    <div className="card-screen">
      <header className="card-screen-bar">
        <span className="brand">
          <img className="brand-mark" src="favicon.svg" alt="" />
          Witness
        </span>
        <ThemeToggle theme={theme} onToggle={onToggleTheme} />
      </header>
      <main className={wide ? 'card card-wide' : 'card'} aria-labelledby="screen-title">
        <h1 id="screen-title">{title}</h1>
        {children}
      </main>
    </div>
  );
}
