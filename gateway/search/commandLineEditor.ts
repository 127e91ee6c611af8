/**
 * Keystrokes → the command lines they typed, for search and for the player's command list:
 * printable text is appended, Backspace/^H deletes a character, ^W a word, ^U the line, ^C
 * abandons it, Enter (CR or LF) completes it. Escape sequences (arrow keys, function keys,
 * bracketed-paste markers) are skipped; pasted text between the markers is kept.
 *
 * What it cannot know: history recall (↑), tab completion and cursor movement happen in the
 * shell, whose echo is in the output, not the input. A line edited that way is reconstructed
 * from the keys alone; the output text (indexed too) still holds what the shell showed.
 */

/** A line longer than this is cut (a paste of a file is not a command line). */
export const MAX_COMMAND_LINE = 4096;

type State = 'text' | 'escape' | 'csi' | 'ss3';

export interface CompletedLine {
  text: string;
  /** Index in the chunk passed to `push` of the Enter that completed it. */
  at: number;
}

export class CommandLineEditor {
  private line = '';
  private state: State = 'text';

  /** Feeds decoded keystrokes; returns the lines Enter completed in this chunk (non-blank). */
  push(chunk: string): CompletedLine[] {
    const done: CompletedLine[] = [];
    let index = 0;
    for (const char of chunk) {
      const code = char.codePointAt(0) as number;
      switch (this.state) {
        case 'escape':
          this.state = code === 0x5b ? 'csi' : code === 0x4f ? 'ss3' : 'text';
          break;
        case 'csi':
          if (code >= 0x40 && code <= 0x7e) this.state = 'text';
          break;
        case 'ss3':
          this.state = 'text';
          break;
        case 'text':
          if (code === 0x0d || code === 0x0a) {
            const text = this.line.trim();
            if (text.length > 0) done.push({ text, at: index });
            this.line = '';
          } else if (code === 0x1b) this.state = 'escape';
          else if (code === 0x7f || code === 0x08) this.line = [...this.line].slice(0, -1).join('');
          else if (code === 0x15 || code === 0x03)
            this.line = ''; // ^U kills, ^C abandons
          else if (code === 0x17)
            this.line = this.line.replace(/\S*\s*$/u, ''); // ^W
          else if (code === 0x09) {
            // Tab: completion happens in the shell; its result is only in the output.
          } else if (code >= 0x20 && this.line.length < MAX_COMMAND_LINE) this.line += char;
          break;
      }
      index += char.length;
    }
    return done;
  }

  /** The line typed so far and not yet entered. */
  pending(): string {
    return this.line;
  }
}
