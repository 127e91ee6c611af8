/**
 * The read-only xterm a recording plays into. Loaded with a dynamic import like the live
 * terminal (xterm is its own chunk). The grid is the recorded size, not the window's: a
 * recording made at 120×40 is shown at 120×40 (scrolling if the pane is smaller), because
 * fitting would re-wrap the output differently from what the user saw.
 */
import { WebglAddon } from '@xterm/addon-webgl';
import { Terminal } from '@xterm/xterm';
import '@xterm/xterm/css/xterm.css';
import { terminalThemes } from '../terminals/xtermSession.ts';
import type { Theme } from '../theme/themePreference.ts';

export interface PlayerTerminal {
  reset(snapshot: string, size: { cols: number; rows: number }): void;
  write(data: string): void;
  resize(size: { cols: number; rows: number }): void;
  setTheme(theme: Theme): void;
  dispose(): void;
}

export function createPlayerTerminal(
  host: HTMLElement,
  options: { theme: Theme; gpu: boolean; size: { cols: number; rows: number } },
): PlayerTerminal {
  const term = new Terminal({
    theme: terminalThemes[options.theme],
    fontFamily: '"JetBrains Mono", "DejaVu Sans Mono", ui-monospace, Menlo, Consolas, monospace',
    fontSize: 13,
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
  const resize = (size: { cols: number; rows: number }) => {
    if (size.cols !== term.cols || size.rows !== term.rows) term.resize(size.cols, size.rows);
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
    dispose() {
      webgl?.dispose();
      term.dispose();
    },
  };
}
