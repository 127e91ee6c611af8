/**
 * Light or dark: the user's saved choice wins, else the system's prefers-color-scheme (issue #5).
 */
export type Theme = 'light' | 'dark';

export const THEME_STORAGE_KEY = 'witness.theme';

export function initialTheme(saved: string | null, systemPrefersDark: boolean): Theme {
  if (saved === 'light' || saved === 'dark') return saved;
  return systemPrefersDark ? 'dark' : 'light';
}

/** What the theme button does from here. */
export function themeToggleLabel(current: Theme): string {
  return current === 'dark' ? 'Switch to light theme' : 'Switch to dark theme';
}
