import { describe, expect, it } from 'vitest';
import { initialTheme, themeToggleLabel } from './themePreference.ts';

describe('initialTheme', () => {
  it('follows the system until the user chooses', () => {
    expect(initialTheme(null, true)).toBe('dark');
    expect(initialTheme(null, false)).toBe('light');
  });
  it('keeps the saved choice over the system', () => {
    expect(initialTheme('light', true)).toBe('light');
    expect(initialTheme('dark', false)).toBe('dark');
  });
  it('ignores a corrupt saved value', () => {
    expect(initialTheme('purple', true)).toBe('dark');
  });
});

describe('themeToggleLabel', () => {
  it('says what a click will do, not what is on', () => {
    expect(themeToggleLabel('light')).toBe('Switch to dark theme');
    expect(themeToggleLabel('dark')).toBe('Switch to light theme');
  });
});
