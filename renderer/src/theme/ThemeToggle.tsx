import type { Theme } from './themePreference.ts';

/** One stable name ("Dark theme") with aria-pressed, so the e2e can find it in either theme. */
export function ThemeToggle({ theme, onToggle }: { theme: Theme; onToggle(): void }) {
  return (
    <button
      type="button"
      className="button button-ghost theme-toggle"
      aria-label="Dark theme"
      aria-pressed={theme === 'dark'}
      title={theme === 'dark' ? 'Switch to the light theme' : 'Switch to the dark theme'}
      onClick={onToggle}
    >
      <span aria-hidden="true">{theme === 'dark' ? '☾' : '☀'}</span>
    </button>
  );
}
