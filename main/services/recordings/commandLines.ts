/**
 * Command lines reconstructed from what was typed: keystrokes with line editing applied
 * (Backspace/DEL, ^U, ^W, ^C) up to Enter. Escape sequences (arrow keys, function keys) are
 * dropped: history recall and Tab completion happen in the remote shell and cannot be seen in
 * the input alone, so a line is what the keys spell, which is what an auditor searches for.
 */

export interface CommandLine {
  /** ms from the session's start, when Enter was pressed. */
  t: number;
  text: string;
}

/** Longest line kept (a paste of a whole file is not a command). */
const MAX_LINE_CHARS = 4096;

export class CommandLineBuilder {
  private line = '';
  private escape: 'none' | 'esc' | 'csi' | 'ss3' | 'osc' = 'none';
  readonly commands: CommandLine[] = [];

  /** Feeds decoded input typed at `t`. */
  push(t: number, text: string): void {
    for (const char of text) this.key(t, char);
  }

  private key(t: number, char: string): void {
    const code = char.codePointAt(0) ?? 0;
    switch (this.escape) {
      case 'esc':
        this.escape = char === '[' ? 'csi' : char === 'O' ? 'ss3' : char === ']' ? 'osc' : 'none';
        return;
      case 'csi':
        if (code >= 0x40 && code <= 0x7e) this.escape = 'none';
        return;
      case 'ss3':
        this.escape = 'none';
        return;
      case 'osc':
        if (code === 0x07 || code === 0x1b) this.escape = 'none';
        return;
      default:
        break;
    }
    if (code === 0x1b) {
      this.escape = 'esc';
    } else if (code === 0x0d || code === 0x0a) {
      const text = this.line.trim();
      if (text) this.commands.push({ t, text });
      this.line = '';
    } else if (code === 0x7f || code === 0x08) {
      this.line = Array.from(this.line).slice(0, -1).join('');
    } else if (code === 0x15 || code === 0x03) {
      // ^U kills the line; ^C abandons it.
      this.line = '';
    } else if (code === 0x17) {
      // ^W: the word before the cursor, and the spaces after it.
      this.line = this.line.replace(/\S*\s*$/, '');
    } else if (code >= 0x20 || code === 0x09) {
      if (this.line.length < MAX_LINE_CHARS) this.line += code === 0x09 ? ' ' : char;
    }
  }
}
