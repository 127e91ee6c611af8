/**
 * What the command-line reconstruction needs from a terminal's output while no line is being
 * edited, at a cost that stays negligible on bulk output: whether a full-screen program (less,
 * top, vim) holds the screen, and the text since the last line break (the prompt, once the
 * shell prints it). Works on raw bytes: a native search for ESC, and only the end of each chunk
 * is kept.
 *
 * Full screen is the alternate screen (`CSI ? 1049 h`, 1047 or 47) — or, for programs that
 * draw on the normal screen, application cursor keys (`CSI ? 1 h`, curses' keypad mode) *and*
 * a clear of the whole screen (`CSI 2 J`) after it, until the keys are switched back
 * (`CSI ? 1 l`). procps-ng's `top` is such a program: it never switches screens, so its quit
 * key `q` became the start of the next command (issue #16). Keypad mode alone is not enough:
 * zsh setups that send it around every line edit (oh-my-zsh's zle-line-init) would lose every
 * command line.
 */

/** The prompt is what follows the last line break; this much of it is kept. */
const MAX_TAIL_BYTES = 1024;
/** An alternate-screen switch split across chunks is at most this long. */
const MAX_CARRY_BYTES = 16;
const ESC = 0x1b;
const LF = 0x0a;

export class OutputWatch {
  private alternateScreen = false;
  /** Application cursor keys are on (`CSI ? 1 h`). */
  private cursorKeys = false;
  /** The whole screen was cleared while application cursor keys were on. */
  private clearedInKeypadMode = false;

  /** A full-screen program holds the screen (and so the keys): see the module comment. */
  get fullScreen(): boolean {
    return this.alternateScreen || this.clearedInKeypadMode;
  }
  private carry: Buffer | undefined;
  private tail: Buffer = Buffer.alloc(0);

  /** Notes one chunk of output. */
  push(data: Uint8Array): void {
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const carry = this.carry;
    this.carry = undefined;
    this.scan(carry ? Buffer.concat([carry, bytes]) : bytes);
    this.keepTail(bytes);
  }

  /** Output since the last line break (decoded), then forgotten: the next line starts there. */
  takeTail(): string {
    const text = this.tail.toString('utf8');
    this.tail = Buffer.alloc(0);
    return text;
  }

  /** Forgets the tail (a line was entered: what follows is its output, then a prompt). */
  clearTail(): void {
    this.tail = Buffer.alloc(0);
  }

  private scan(bytes: Buffer): void {
    let at = bytes.indexOf(ESC);
    while (at >= 0) {
      const end = this.controlSequence(bytes, at);
      if (end === -1) {
        if (bytes.length - at <= MAX_CARRY_BYTES) this.carry = Buffer.from(bytes.subarray(at));
        return;
      }
      at = bytes.indexOf(ESC, end);
    }
  }

  /**
   * Reads `ESC [ ? Pm h|l` or `ESC [ 2 J` at `at`: returns where to search on, or -1 when the
   * chunk ends inside what could still be one.
   */
  private controlSequence(bytes: Buffer, at: number): number {
    if (at + 2 >= bytes.length) return -1;
    if (bytes[at + 1] !== 0x5b) return at + 1;
    if (bytes[at + 2] === 0x32) {
      if (at + 3 >= bytes.length) return -1;
      if (bytes[at + 3] === 0x4a && this.cursorKeys) this.clearedInKeypadMode = true;
      return at + 3;
    }
    if (bytes[at + 2] !== 0x3f) return at + 1;
    let i = at + 3;
    while (i < bytes.length && i - at <= MAX_CARRY_BYTES) {
      const byte = bytes[i] as number;
      if (byte === 0x68 || byte === 0x6c) {
        const modes = bytes.toString('latin1', at + 3, i).split(';');
        const on = byte === 0x68;
        if (modes.some((mode) => mode === '1049' || mode === '1047' || mode === '47')) {
          this.alternateScreen = on;
        }
        if (modes.includes('1')) {
          this.cursorKeys = on;
          if (!on) this.clearedInKeypadMode = false;
        }
        return i + 1;
      }
      if (!((byte >= 0x30 && byte <= 0x39) || byte === 0x3b)) return i;
      i += 1;
    }
    return i < bytes.length ? i : -1;
  }

  private keepTail(bytes: Buffer): void {
    const from = Math.max(0, bytes.length - MAX_TAIL_BYTES);
    // Only the end is searched: a 1 MiB chunk with no line break costs nothing more.
    const lineBreak = bytes.subarray(from).lastIndexOf(LF);
    if (lineBreak >= 0) {
      this.tail = Buffer.from(bytes.subarray(from + lineBreak + 1));
      return;
    }
    const joined = from === 0 ? Buffer.concat([this.tail, bytes]) : bytes.subarray(from);
    this.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - MAX_TAIL_BYTES)));
  }
}
