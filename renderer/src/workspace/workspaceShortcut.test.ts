import { describe, expect, it } from 'vitest';
import {
  cycleTab,
  type KeyChord,
  tabAfterClose,
  terminalShortcut,
  workspaceShortcut,
} from './workspaceShortcut.ts';

const chord = (key: string, mods: Partial<KeyChord> = {}): KeyChord => ({
  key,
  ctrlKey: false,
  shiftKey: false,
  altKey: false,
  metaKey: false,
  ...mods,
});
const ctrlShift = { ctrlKey: true, shiftKey: true };

describe('workspaceShortcut', () => {
  it('maps the documented chords', () => {
    expect(workspaceShortcut(chord('T', ctrlShift))).toBe('focus-resources');
    expect(workspaceShortcut(chord('W', ctrlShift))).toBe('close-tab');
    expect(workspaceShortcut(chord('PageUp', { ctrlKey: true }))).toBe('previous-tab');
    expect(workspaceShortcut(chord('PageDown', { ctrlKey: true }))).toBe('next-tab');
  });

  it('leaves plain Ctrl+letter to the shell', () => {
    expect(workspaceShortcut(chord('w', { ctrlKey: true }))).toBeNull();
    expect(workspaceShortcut(chord('t', { ctrlKey: true }))).toBeNull();
    expect(workspaceShortcut(chord('W', { ...ctrlShift, altKey: true }))).toBeNull();
    expect(workspaceShortcut(chord('PageUp'))).toBeNull();
  });
});

describe('terminalShortcut', () => {
  it('maps copy, paste and find on Ctrl+Shift only', () => {
    expect(terminalShortcut(chord('C', ctrlShift))).toBe('copy');
    expect(terminalShortcut(chord('V', ctrlShift))).toBe('paste');
    expect(terminalShortcut(chord('F', ctrlShift))).toBe('find');
    expect(terminalShortcut(chord('c', { ctrlKey: true }))).toBeNull(); // SIGINT stays with the shell
  });
});

describe('cycleTab and tabAfterClose', () => {
  const tabs = ['a', 'b', 'c'];
  it('wraps around both ends', () => {
    expect(cycleTab(tabs, 'c', 1)).toBe('a');
    expect(cycleTab(tabs, 'a', -1)).toBe('c');
    expect(cycleTab(tabs, 'b', 1)).toBe('c');
    expect(cycleTab([], null, 1)).toBeNull();
    expect(cycleTab(tabs, null, 1)).toBe('a');
  });

  it('shows the left neighbour after closing the active tab', () => {
    expect(tabAfterClose(tabs, 'b', 'b')).toBe('a');
    expect(tabAfterClose(tabs, 'a', 'a')).toBe('b');
    expect(tabAfterClose(['a'], 'a', 'a')).toBeNull();
    expect(tabAfterClose(tabs, 'c', 'a')).toBe('a');
  });
});
