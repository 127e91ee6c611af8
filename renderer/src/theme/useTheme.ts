/** The page theme: applied as data-theme on <html> (styles.css keys off it) and saved. */
import { useCallback, useEffect, useState } from 'react';
import { initialTheme, THEME_STORAGE_KEY, type Theme } from './themePreference.ts';

function readSaved(): string | null {
  try {
    return localStorage.getItem(THEME_STORAGE_KEY);
  } catch {
    return null; // storage disabled: follow the system
  }
}

export function useTheme(): { theme: Theme; toggleTheme(): void } {
  const [theme, setTheme] = useState<Theme>(() =>
    initialTheme(readSaved(), window.matchMedia('(prefers-color-scheme: dark)').matches),
  );
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  // Until the user picks a theme, follow the system's when it changes (e.g. at sunset).
  useEffect(() => {
    const query = window.matchMedia('(prefers-color-scheme: dark)');
    const follow = () => {
      if (readSaved() === null) setTheme(query.matches ? 'dark' : 'light');
    };
    query.addEventListener('change', follow);
    return () => query.removeEventListener('change', follow);
  }, []);
  const toggleTheme = useCallback(() => {
    setTheme((current) => {
      const next = current === 'dark' ? 'light' : 'dark';
      try {
        localStorage.setItem(THEME_STORAGE_KEY, next);
      } catch {
        // not persisted; the choice still holds for this window
      }
      return next;
    });
  }, []);
  return { theme, toggleTheme };
}
