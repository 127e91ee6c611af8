/**
 * The workspace's keyboard shortcuts (issue #5). Ctrl+Shift combinations are used because a
 * plain Ctrl+letter belongs to the remote shell (Ctrl+W deletes a word, Ctrl+T transposes).
 * The terminal's own shortcuts (copy, paste, find) live in terminalShortcut.ts.
 */
export type WorkspaceShortcut = 'focus-resources' | 'close-tab' | 'previous-tab' | 'next-tab';

/** The fields of a KeyboardEvent this reads, so it can be tested without a DOM. */
export interface KeyChord {
  key: string;
  ctrlKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  metaKey: boolean;
}

export function workspaceShortcut(e: KeyChord): WorkspaceShortcut | null {
  if (!e.ctrlKey || e.altKey || e.metaKey) return null;
  // With Shift held, e.key is upper-case for letters.
  const key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
  if (e.shiftKey && key === 't') return 'focus-resources';
  if (e.shiftKey && key === 'w') return 'close-tab';
  if (!e.shiftKey && key === 'PageUp') return 'previous-tab';
  if (!e.shiftKey && key === 'PageDown') return 'next-tab';
  return null;
}

export type TerminalShortcut = 'copy' | 'paste' | 'find';

export function terminalShortcut(e: KeyChord): TerminalShortcut | null {
  if (!e.ctrlKey || !e.shiftKey || e.altKey || e.metaKey) return null;
  switch (e.key.toLowerCase()) {
    case 'c':
      return 'copy';
    case 'v':
      return 'paste';
    case 'f':
      return 'find';
    default:
      return null;
  }
}

/** The tab to show after moving by `step` from `activeId`, wrapping at either end. */
export function cycleTab(tabIds: readonly string[], activeId: string | null, step: 1 | -1) {
  if (tabIds.length === 0) return null;
  const at = activeId === null ? -1 : tabIds.indexOf(activeId);
  if (at === -1) return tabIds[0] ?? null;
  return tabIds[(at + step + tabIds.length) % tabIds.length] ?? null;
}

/** After closing `closedId`, the neighbour to its left (or the new first tab). */
export function tabAfterClose(
  tabIds: readonly string[],
  closedId: string,
  activeId: string | null,
) {
  const remaining = tabIds.filter((id) => id !== closedId);
  if (activeId !== closedId)
    return activeId !== null && remaining.includes(activeId) ? activeId : (remaining[0] ?? null);
  const at = tabIds.indexOf(closedId);
  return remaining[Math.max(0, at - 1)] ?? null;
}
