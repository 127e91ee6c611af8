/**
 * The prompt's row of the terminal, rebuilt from what the shell echoes while a line is edited:
 * enough of a terminal to follow a line editor's redraws (bash's readline, zsh's zle) —
 * printable text overwrites, CR, BS, cursor moves (CSI A/B/C/D/G), erases (CSI K/J/X),
 * character insert/delete (CSI @/P) — and nothing more. Rows other than the prompt's are only
 * counted, so a completion listing printed below the prompt (zsh moves back up after it) does
 * not disturb the line.
 *
 * `lost` says the row can no longer be trusted: the cursor was placed absolutely, went above
 * the prompt's row, something overwrote the prompt (a wrapped long line, output of a program
 * that does not echo), or the echo grew implausibly long. The caller then falls back to keys.
 */

/** Echo bytes followed per line; past this the row is given up (it is not a line editor's). */
const MAX_ECHO_CHARS = 64 * 1024;
/** Columns followed; a cursor beyond is not a command line's. */
const MAX_COLUMNS = 8192;

type State = 'text' | 'escape' | 'csi' | 'string' | 'stringEscape' | 'charset';

export class EchoLine {
  private cells: string[] = [];
  private col = 0;
  private row = 0;
  private promptCells: string[] = [];
  /** The row the cursor is on when it is not the prompt's: a redraw of the prompt may start. */
  private other: string[] = [];
  private state: State = 'text';
  private params = '';
  private seen = 0;
  /** Where the line starts: the prompt's width. */
  promptColumn = 0;
  lost = false;

  /** Starts a line after `prompt` (the output since the last line break: the prompt). */
  start(prompt: string): void {
    this.cells = [];
    this.col = 0;
    this.row = 0;
    this.state = 'text';
    this.lost = false;
    this.feed(prompt);
    this.lost = this.row !== 0;
    this.row = 0;
    this.promptColumn = this.col;
    this.promptCells = this.cells.slice(0, this.col);
    this.seen = 0;
  }

  /** Applies echoed output. */
  feed(text: string): void {
    if (this.lost) return;
    this.seen += text.length;
    if (this.seen > MAX_ECHO_CHARS) {
      this.lost = true;
      return;
    }
    for (const char of text) this.char(char);
  }

  /** Whether the cursor is on the prompt's row (a listing below it is finished). */
  onPromptRow(): boolean {
    return this.row === 0;
  }

  /** The line as shown after the prompt, and the cursor's position in it. */
  line(): { chars: string[]; cursor: number } {
    const chars = this.cells.slice(this.promptColumn).map((cell) => cell ?? ' ');
    // Erased cells at the end are blanks the editor left, not typed spaces after the cursor.
    while (chars.length > this.col - this.promptColumn && chars[chars.length - 1] === ' ') {
      chars.pop();
    }
    return { chars, cursor: Math.max(0, this.col - this.promptColumn) };
  }

  private char(char: string): void {
    const code = char.codePointAt(0) as number;
    switch (this.state) {
      case 'escape':
        this.escape(char);
        return;
      case 'charset':
        this.state = 'text';
        return;
      case 'csi':
        if (code >= 0x40 && code <= 0x7e) {
          this.state = 'text';
          this.csi(this.params, char);
        } else this.params += char;
        return;
      case 'string':
        if (code === 0x07 || code === 0x9c) this.state = 'text';
        else if (code === 0x1b) this.state = 'stringEscape';
        return;
      case 'stringEscape':
        this.state = char === '\\' ? 'text' : 'string';
        return;
      default:
        break;
    }
    if (code >= 0x20 && code !== 0x7f && !(code >= 0x80 && code <= 0x9f)) {
      this.print(char);
      return;
    }
    switch (code) {
      case 0x0d:
        this.col = 0;
        break;
      case 0x0a:
        this.row += 1;
        this.other = [];
        break;
      case 0x08:
        this.col = Math.max(0, this.col - 1);
        break;
      case 0x09:
        this.moveTo(this.col + 8 - (this.col % 8));
        break;
      case 0x1b:
        this.state = 'escape';
        break;
      case 0x9b:
        this.params = '';
        this.state = 'csi';
        break;
      case 0x9d:
      case 0x90:
        this.state = 'string';
        break;
    }
  }

  private escape(char: string): void {
    this.state = 'text';
    if (char === '[') {
      this.params = '';
      this.state = 'csi';
    } else if (char === ']' || char === 'P' || char === 'X' || char === '^' || char === '_') {
      this.state = 'string';
    } else if (char === '(' || char === ')' || char === '#' || char === '%') {
      this.state = 'charset';
    } else if (char === 'M') {
      this.row -= 1; // reverse index
      if (this.row < 0) this.lost = true;
    }
    // ESC 7/8 (save/restore cursor), ESC =/>, …: no effect on the row's text we can follow.
  }

  private csi(params: string, final: string): void {
    if (params.startsWith('?') || params.startsWith('>') || params.startsWith('=')) return;
    const n = Math.max(1, Number.parseInt(params, 10) || 1);
    const first = Number.parseInt(params, 10) || 0;
    switch (final) {
      case 'C':
        this.moveTo(this.col + n);
        break;
      case 'D':
        this.col = Math.max(0, this.col - n);
        break;
      case 'G':
        this.moveTo(n - 1);
        break;
      case 'A':
        this.row -= n;
        if (this.row < 0) this.lost = true;
        break;
      case 'B':
        this.row += n;
        break;
      case 'K':
        if (this.row !== 0) break;
        if (first === 0) this.cells.length = Math.min(this.cells.length, this.col);
        else if (first === 1) this.blank(0, this.col + 1);
        else this.cells = [];
        break;
      case 'J':
        // Below the cursor (0) also clears the rest of its row; 1 and 2 reach above.
        if (first === 0) {
          if (this.row === 0) this.cells.length = Math.min(this.cells.length, this.col);
        } else this.lost = true;
        break;
      case 'X':
        if (this.row === 0) this.blank(this.col, this.col + n);
        break;
      case 'P':
        if (this.row === 0) this.cells.splice(this.col, n);
        break;
      case '@':
        if (this.row === 0 && this.col < this.cells.length) {
          this.cells.splice(this.col, 0, ...new Array<string>(n).fill(' '));
        }
        break;
      case 'H':
      case 'f':
      case 'd':
        this.lost = true; // absolute: the prompt's row is not known on the screen
        break;
    }
  }

  private print(char: string): void {
    if (this.row === 0) {
      // Writing over the prompt with something else: not a redraw of this line.
      if (this.col < this.promptColumn && this.promptCells[this.col] !== char) this.lost = true;
      while (this.cells.length < this.col) this.cells.push(' ');
      this.cells[this.col] = char;
    } else if (this.row > 0 && this.promptColumn > 0) {
      // bash prints a completion listing below the line, then the prompt and the line anew:
      // a row that starts with the prompt becomes the prompt's row.
      this.other[this.col] = char;
      if (this.col + 1 === this.promptColumn && sameCells(this.other, this.promptCells)) {
        this.row = 0;
        this.cells = [...this.other];
      }
    }
    this.moveTo(this.col + 1);
  }

  private blank(from: number, to: number): void {
    for (let i = from; i < Math.min(to, this.cells.length); i++) this.cells[i] = ' ';
  }

  private moveTo(col: number): void {
    this.col = col;
    if (col > MAX_COLUMNS) this.lost = true;
  }
}

function sameCells(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((cell, i) => cell === b[i]);
}
