/**
 * The read-only xterm a recording plays into. Loaded with a dynamic import like the live
 * terminal (xterm is its own chunk). The grid is the recorded size, not the window's: a
 * recording made at 120×40 is shown at 120×40, because re-wrapping to the pane would show a
 * screen the user never saw. `fit` scales the font instead so the whole grid shows (issue #16);
 * at 100 % the pane scrolls.
 */
import { WebglAddon } from '@xterm/addon-webgl';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { terminalThemes } from '../terminals/xtermSession.ts';
import type { Theme } from '../theme/themePreference.ts';
import { BASE_FONT_PX, type Box, fitFontSize, gridFits, MIN_FONT_PX } from './fitFontSize.ts';

export interface PlayerTerminal {
  reset(snapshot: string, size: { cols: number; rows: number }): void;
  write(data: string): void;
  resize(size: { cols: number; rows: number }): void;
  setTheme(theme: Theme): void;
  /** Scales the font so the grid fits `available` (CSS pixels), or back to 100 % with null. */
  fit(available: Box | null): void;
  /** Called after the grid changed size (a recorded resize, a new font size). */
  onGridResize(listener: () => void): void;
  dispose(): void;
}

export function createPlayerTerminal(
  host: HTMLElement,
  options: { theme: Theme; gpu: boolean; size: { cols: number; rows: number } },
): PlayerTerminal {
  const term = new Terminal({
    theme: terminalThemes[options.theme],
    fontFamily: '"JetBrains Mono", "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace',
    fontSize: BASE_FONT_PX,
    lineHeight: 1.15,
    cols: options.size.cols,
    rows: options.size.rows,
    cursorBlink: false,
    disableStdin: true,
    scrollback: 5000,
  });
  term.open(host);
  let webgl: WebglAddon | null = null;
  host.dataset.renderer = 'dom';
  if (options.gpu) {
    try {
      webgl = new WebglAddon();
      webgl.onContextLoss(() => {
        webgl?.dispose();
        webgl = null;
        host.dataset.renderer = 'dom';
      });
      term.loadAddon(webgl);
      host.dataset.renderer = 'webgl';
    } catch {
      webgl?.dispose();
      webgl = null;
    }
  }
  const listeners: (() => void)[] = [];
  const resize = (size: { cols: number; rows: number }) => {
    if (size.cols !== term.cols || size.rows !== term.rows) {
      term.resize(size.cols, size.rows);
      for (const listener of listeners) listener();
    }
  };
  /** The grid as drawn: xterm sizes `.xterm-screen` to columns × rows of cells. */
  const grid = (): Box => {
    const screen = host.querySelector<HTMLElement>('.xterm-screen');
    return { width: screen?.offsetWidth ?? 0, height: screen?.offsetHeight ?? 0 };
  };
  const setFont = (px: number) => {
    if (term.options.fontSize !== px) term.options.fontSize = px;
    host.dataset.fontSize = String(px);
  };
  return {
    reset(snapshot, size) {
      term.reset();
      resize(size);
      if (snapshot !== '') term.write(snapshot);
    },
    write: (data) => term.write(data),
    resize,
    setTheme(theme) {
      term.options.theme = terminalThemes[theme];
    },
    fit(available) {
      if (available === null) {
        setFont(BASE_FONT_PX);
        return;
      }
      // Cells do not scale exactly with the font (rounding): measure, adjust, measure again.
      for (let i = 0; i < 4; i++) {
        const font = term.options.fontSize ?? BASE_FONT_PX;
        const measured = grid();
        const next = fitFontSize(font, measured, available);
        if (next === font || (next > font && gridFits(measured, available) && i > 0)) break;
        setFont(next);
      }
      // Rounded up past the edge: step down until the grid fits.
      for (let i = 0; i < 8 && !gridFits(grid(), available); i++) {
        const font = term.options.fontSize ?? BASE_FONT_PX;
        if (font <= MIN_FONT_PX) break;
        setFont(font - 0.25);
      }
    },
    onGridResize(listener) {
      listeners.push(listener);
    },
    dispose() {
      webgl?.dispose();
      term.dispose();
    },
  };
}
