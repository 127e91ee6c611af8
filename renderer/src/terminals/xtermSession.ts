/**
 * One xterm.js terminal with its addons, behind a small interface the React panel drives.
 * Loaded with a dynamic import, so xterm (the bulk of the renderer's code) is fetched only when
 * the first terminal tab opens and the sign-in screens paint sooner.
 *
 * Renderer: xterm 6 dropped the canvas addon, so the fallback from WebGL is xterm's built-in
 * DOM renderer. WebGL is tried in try/catch (no GPU, blocklisted driver, headless Chromium with
 * --disable-gpu) and dropped again if the context is lost later (GPU reset, too many contexts);
 * xterm then repaints with the DOM renderer on its own.
 */
import { FitAddon } from '@xterm/addon-fit';
import { SearchAddon } from '@xterm/addon-search';
import { WebglAddon } from '@xterm/addon-webgl';
import { type ITheme, Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import type { Theme } from '../theme/themePreference.ts';
import {
  type KeyChord,
  terminalShortcut,
  workspaceShortcut,
} from '../workspace/workspaceShortcut.ts';

export interface XtermSessionOptions {
  theme: Theme;
  /** False keeps the DOM renderer (see gpuPreference.ts). */
  gpu: boolean;
  /** Typed or pasted input (xterm has already applied bracketed paste if the shell asked). */
  onInput(data: string): void;
  onResize(size: { cols: number; rows: number }): void;
  /** Ctrl+Shift+F inside the terminal. */
  onFindRequested(): void;
}

export interface XtermSession {
  /** 'webgl' or 'dom' — shown as data-renderer on the host for tests and the bench. */
  renderer(): 'webgl' | 'dom';
  size(): { cols: number; rows: number };
  /** Resizes the grid to the host element; a no-op while the host is hidden (zero size). */
  fit(): void;
  /** `parsed` runs once xterm has processed `data` — only then may main be acked. */
  write(data: string, parsed?: () => void): void;
  setInputEnabled(enabled: boolean): void;
  setTheme(theme: Theme): void;
  focus(): void;
  findNext(query: string): boolean;
  findPrevious(query: string): boolean;
  clearSearch(): void;
  dispose(): void;
}

/** The terminal palettes, shared with the recording player. */
export const terminalThemes: Record<Theme, ITheme> = {
  dark: {
    background: '#0f1419',
    foreground: '#d8dee9',
    cursor: '#e6b450',
    cursorAccent: '#0f1419',
    selectionBackground: '#33415e',
    black: '#1c2128',
    red: '#f07178',
    green: '#aad94c',
    yellow: '#e6b450',
    blue: '#59c2ff',
    magenta: '#d2a6ff',
    cyan: '#95e6cb',
    white: '#c7c7c7',
    brightBlack: '#686868',
    brightRed: '#ff8f8f',
    brightGreen: '#c2e88d',
    brightYellow: '#ffd580',
    brightBlue: '#73d0ff',
    brightMagenta: '#dfbfff',
    brightCyan: '#b8f4e0',
    brightWhite: '#ffffff',
  },
  light: {
    background: '#fbfbfc',
    foreground: '#1f2328',
    cursor: '#0969da',
    cursorAccent: '#fbfbfc',
    selectionBackground: '#b6d5f9',
    black: '#24292f',
    red: '#cf222e',
    green: '#116329',
    yellow: '#8a6100',
    blue: '#0969da',
    magenta: '#8250df',
    cyan: '#1b7c83',
    white: '#6e7781',
    brightBlack: '#57606a',
    brightRed: '#a40e26',
    brightGreen: '#1a7f37',
    brightYellow: '#7d4e00',
    brightBlue: '#218bff',
    brightMagenta: '#a475f9',
    brightCyan: '#3192aa',
    brightWhite: '#8c959f',
  },
};

export function createXtermSession(host: HTMLElement, options: XtermSessionOptions): XtermSession {
  const term = new Terminal({
    theme: terminalThemes[options.theme],
    fontFamily: '"JetBrains Mono", "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace',
    fontSize: 14,
    lineHeight: 1.15,
    cursorBlink: true,
    scrollback: 10_000,
    // Screen readers get xterm's accessibility tree (a live region of output rows).
    screenReaderMode: false,
    allowProposedApi: false,
  });
  const fit = new FitAddon();
  const search = new SearchAddon();
  term.loadAddon(fit);
  term.loadAddon(search);
  term.open(host);

  let renderer: 'webgl' | 'dom' = 'dom';
  let webgl: WebglAddon | null = null;
  if (options.gpu) loadWebgl();
  host.dataset.renderer = renderer;

  function loadWebgl(): void {
    try {
      webgl = new WebglAddon();
      webgl.onContextLoss(() => {
        webgl?.dispose();
        webgl = null;
        renderer = 'dom';
        host.dataset.renderer = renderer;
      });
      term.loadAddon(webgl);
      renderer = 'webgl';
    } catch {
      webgl?.dispose();
      webgl = null;
      renderer = 'dom';
    }
  }

  term.attachCustomKeyEventHandler((event) => handleKey(event));
  term.onData((data) => options.onInput(data));
  // Only cols and rows: xterm 6 adds colsChanged/rowsChanged, which the contract refuses.
  term.onResize(({ cols, rows }) => options.onResize({ cols, rows }));

  function handleKey(event: KeyboardEvent): boolean {
    if (event.type !== 'keydown') return true;
    const chord: KeyChord = event;
    // Workspace shortcuts are handled by the window's capture listener; keep xterm out of them.
    if (workspaceShortcut(chord) !== null) return false;
    switch (terminalShortcut(chord)) {
      case 'copy': {
        event.preventDefault();
        const selection = term.getSelection();
        if (selection !== '') {
          navigator.clipboard.writeText(selection).catch(() => {
            // No clipboard permission: the selection stays, the user can retry.
          });
        }
        return false;
      }
      case 'paste':
        // Returning false without preventDefault lets the browser fire its paste event on
        // xterm's textarea; xterm's own paste handling then applies bracketed paste mode.
        return false;
      case 'find':
        event.preventDefault();
        options.onFindRequested();
        return false;
      case null:
        return true;
    }
  }

  return {
    renderer: () => renderer,
    size: () => ({ cols: term.cols, rows: term.rows }),
    fit() {
      if (host.clientWidth === 0 || host.clientHeight === 0) return;
      fit.fit();
    },
    write(data, parsed) {
      term.write(data, parsed);
    },
    setInputEnabled(enabled) {
      term.options.disableStdin = !enabled;
      term.options.cursorBlink = enabled;
    },
    setTheme(theme) {
      term.options.theme = terminalThemes[theme];
    },
    focus: () => term.focus(),
    findNext: (query) => search.findNext(query, { incremental: true }),
    findPrevious: (query) => search.findPrevious(query),
    clearSearch() {
      // The found text stays selected, so Find, Escape, Ctrl+Shift+C copies it.
      search.clearDecorations();
    },
    dispose() {
      webgl?.dispose();
      term.dispose();
    },
  };
}
