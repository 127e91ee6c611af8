/**
 * @xterm/headless and @xterm/addon-serialize for Node: both ship CommonJS builds whose typings
 * declare named exports, so they are loaded with `require` and typed from their declarations
 * (a default import would need esModuleInterop for the types and differs between loaders).
 */
import { createRequire } from 'node:module';
import type { SerializeAddon as SerializeAddonType } from '@xterm/addon-serialize';
import type { Terminal as TerminalType } from '@xterm/headless';

const require = createRequire(import.meta.url);
const { Terminal } = require('@xterm/headless') as { Terminal: typeof TerminalType };
const { SerializeAddon } = require('@xterm/addon-serialize') as {
  SerializeAddon: typeof SerializeAddonType;
};

/** Scrollback kept by playback terminals; snapshots carry at most SNAPSHOT_SCROLLBACK of it. */
export const PLAYER_SCROLLBACK = 1000;
/** Rows of scrollback in a snapshot: enough to scroll back a few screens, small enough to send. */
export const SNAPSHOT_SCROLLBACK = 300;

/** A headless terminal that can be written to (awaiting the parse) and serialized. */
export class HeadlessTerminal {
  private readonly terminal: TerminalType;
  private readonly serializer: SerializeAddonType;

  constructor(cols: number, rows: number) {
    this.terminal = new Terminal({
      cols,
      rows,
      scrollback: PLAYER_SCROLLBACK,
      allowProposedApi: true,
    });
    this.serializer = new SerializeAddon();
    // The addon's typings name the browser Terminal; the headless one has the same API.
    this.terminal.loadAddon(this.serializer as unknown as Parameters<TerminalType['loadAddon']>[0]);
  }

  get cols(): number {
    return this.terminal.cols;
  }

  get rows(): number {
    return this.terminal.rows;
  }

  write(data: string): Promise<void> {
    return new Promise((resolve) => this.terminal.write(data, resolve));
  }

  resize(cols: number, rows: number): void {
    if (cols !== this.terminal.cols || rows !== this.terminal.rows)
      this.terminal.resize(cols, rows);
  }

  serialize(): string {
    return this.serializer.serialize({ scrollback: SNAPSHOT_SCROLLBACK });
  }

  dispose(): void {
    this.terminal.dispose();
  }
}
