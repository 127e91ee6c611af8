import { Moon, Sun } from 'lucide-react';
import type { Theme } from './themePreference.ts';
import { themeToggleLabel } from './themePreference.ts';

/**
 * Named for what a click does ("Switch to dark theme"), not for a state the person has to
 * decode from aria-pressed (issue #15); the icon shows the theme it switches to.
 */
export function ThemeToggle({ theme, onToggle }: { theme: Theme; onToggle(): void }) {
  const label = themeToggleLabel(theme);
  return (
    <button
      type="button"
      className="button button-ghost theme-toggle"
      aria-label={label}
      title={label}
      onClick={onToggle}
    >
      {theme === 'dark' ? (
        <Sun size={18} aria-hidden="true" />
      ) : (
        <Moon size={18} aria-hidden="true" />
      )}
    </button>
  );
}
