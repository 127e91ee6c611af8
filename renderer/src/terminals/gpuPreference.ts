/**
 * Whether terminals may use the WebGL renderer. On by default; `localStorage['witness.terminal.gpu']
 * = 'off'` keeps xterm on its DOM renderer — the escape hatch VS Code offers too
 * (terminal.integrated.gpuAcceleration) for drivers that draw glyphs badly, and what the e2e
 * tests use to read terminal text from the DOM (WebGL draws to a canvas).
 */
export const GPU_STORAGE_KEY = 'witness.terminal.gpu';

export function terminalGpuAllowed(): boolean {
  try {
    return localStorage.getItem(GPU_STORAGE_KEY) !== 'off';
  } catch {
    return true;
  }
}
