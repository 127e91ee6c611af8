/**
 * The command lines typed in a terminal, rebuilt from a recording's keystrokes and output: the
 * one reconstruction used by search (gateway/search), the desktop player's command list and the
 * CLI's `witness recordings commands`, so all three show the same commands.
 *
 * Two views of the line are kept, and the shell's own wins when it can be trusted:
 * - **the echo** (echoLine.ts): what the shell drew after its prompt. Only the shell knows what
 *   Tab completed, what ↑ or ^R recalled, what its ^U or ^W erased (bash and zsh differ) and
 *   which keys it did not bind at all; its echo shows the result. Keys typed after the last
 *   echo (a line typed and entered in one write) are applied to it with the key rules below.
 * - **the keys** (keys.ts + the rules in `applyKey`): printable text and bracketed paste are
 *   inserted at the cursor; Backspace, Delete, ^D, ^U (to the line's start), ^K, ^W, ^A/^E,
 *   Home/End and ←/→ edit as readline does; ^C abandons the line; Tab and ↑/↓ change nothing
 *   (a Tab is not a space). Used when there is no trustworthy echo: no output was recorded,
 *   none came after the line began, or the echo left the prompt's row (a long line wrapped, a
 *   program without a line editor).
 *
 * While a full-screen program holds the alternate screen (less, top, vim), keys are not a
 * command line: `q` quitting a pager never becomes a command, nor does anything typed in vim.
 * Escape sequences in the input (terminal replies: OSC, DCS, CSI; SS3 keys) never reach a
 * line. A line ends at Enter (CR or LF), also inside a paste.
 */
import { EchoLine } from './echoLine.ts';
import { type Key, KeyTokenizer } from './keys.ts';
import { OutputWatch } from './outputWatch.ts';

/** A line longer than this is cut (a paste of a file is not a command line). */
export const MAX_COMMAND_LINE = 4096;

interface LineBuffer {
  chars: string[];
  cursor: number;
}

/** A line entered, with what the caller passed along with the keys that entered it. */
export interface EnteredLine<Stamp> {
  text: string;
  stamp: Stamp;
}

/**
 * `Stamp` is whatever the caller wants back with a line (the input frame's seq and time): a
 * line can be returned by a later `output` call, when the shell's final redraw is seen.
 */
export class CommandLineReconstructor<Stamp = undefined> {
  private readonly tokenizer = new KeyTokenizer();
  private readonly watch = new OutputWatch();
  private readonly echo = new EchoLine();
  private echoDecoder = new TextDecoder('utf-8');
  private keys: LineBuffer = { chars: [], cursor: 0 };
  /** A key has been typed since the last Enter: the line has begun. */
  private editing = false;
  /** Output came after the line began (the shell echoed something). */
  private echoed = false;
  /** Keys typed after the last output, which the echo does not show yet. */
  private sinceEcho: Key[] = [];
  /**
   * A line entered while its echo was trusted, waiting for the shell's last redraw before the
   * line break (zsh removes an auto-inserted space only then); `fallback` if it never comes.
   */
  private entered: { stamp: Stamp; fallback: string } | undefined;

  /** Feeds decoded keystrokes; returns the non-blank lines entered so far, in order. */
  input(text: string, stamp: Stamp): EnteredLine<Stamp>[] {
    const keys = this.tokenizer.push(text);
    const done: EnteredLine<Stamp>[] = [];
    if (keys.length > 0) this.finishEntered(done, false);
    if (this.watch.fullScreen) return done;
    for (const key of keys) {
      if (key.type === 'enter') {
        this.enter(done, stamp);
      } else if (key.type === 'abandon') {
        this.reset();
      } else if (key.type === 'paste') {
        // Each pasted line break enters the line before it, as the shell will run it.
        const pieces = key.text.split(/\r\n|\r|\n/);
        pieces.forEach((piece, index) => {
          if (index > 0) this.enter(done, stamp);
          if (piece.length > 0) this.key({ type: 'paste', text: piece });
        });
      } else if (key.type === 'eof' && !this.editing) {
        // ^D on an empty line ends the shell: nothing to record.
      } else {
        this.key(key);
      }
    }
    return done;
  }

  /** Feeds raw output bytes (the echo and all else); returns lines this output completed. */
  output(data: Uint8Array): EnteredLine<Stamp>[] {
    const done: EnteredLine<Stamp>[] = [];
    if (this.entered) {
      const text = this.echoDecoder.decode(data, { stream: true });
      const lineBreak = text.indexOf('\n');
      this.echo.feed(lineBreak >= 0 ? text.slice(0, lineBreak) : text);
      if (lineBreak >= 0 || this.echo.lost) this.finishEntered(done, true);
    }
    const wasFullScreen = this.watch.fullScreen;
    this.watch.push(data);
    if (this.watch.fullScreen !== wasFullScreen) {
      this.finishEntered(done, false);
      this.reset();
    } else if (this.editing && !this.entered && !this.echo.lost) {
      this.echo.feed(this.echoDecoder.decode(data, { stream: true }));
      this.echoed = true;
      this.sinceEcho = [];
    }
    return done;
  }

  /** The line typed so far and not yet entered. */
  pending(): string {
    return this.editing ? this.current().join('') : '';
  }

  private key(key: Key): void {
    if (!this.editing) {
      this.editing = true;
      this.echoed = false;
      this.echoDecoder = new TextDecoder('utf-8');
      this.echo.start(this.watch.takeTail());
    }
    applyKey(this.keys, key);
    this.sinceEcho.push(key);
  }

  /** Whether the shell's echo can be believed for the line being edited. */
  private echoTrusted(): boolean {
    return this.editing && this.echoed && !this.echo.lost && this.echo.onPromptRow();
  }

  private current(): string[] {
    if (!this.echoTrusted()) return this.keys.chars;
    const shown = this.echo.line();
    const line = { chars: shown.chars, cursor: Math.min(shown.cursor, shown.chars.length) };
    for (const key of this.sinceEcho) applyKey(line, key);
    return line.chars;
  }

  private enter(done: EnteredLine<Stamp>[], stamp: Stamp): void {
    if (this.echoTrusted()) {
      // The echo goes on until the shell moves to the next line.
      this.entered = { stamp, fallback: this.current().join('') };
      this.sinceEcho = [];
      this.keys = { chars: [], cursor: 0 };
      this.watch.clearTail();
      return;
    }
    push(done, this.current().join(''), stamp);
    this.reset();
  }

  private finishEntered(done: EnteredLine<Stamp>[], fromEcho: boolean): void {
    const entered = this.entered;
    if (!entered) return;
    this.entered = undefined;
    const text = fromEcho && this.echoTrusted() ? this.current().join('') : entered.fallback;
    push(done, text, entered.stamp);
    this.reset();
  }

  private reset(): void {
    this.keys = { chars: [], cursor: 0 };
    this.editing = false;
    this.echoed = false;
    this.sinceEcho = [];
    this.watch.clearTail();
  }
}

function push<Stamp>(done: EnteredLine<Stamp>[], line: string, stamp: Stamp): void {
  const text = line.trim();
  if (text.length > 0) done.push({ text, stamp });
}

/** The key rules: what a key does to a line when the shell's echo cannot say. */
function applyKey(line: LineBuffer, key: Key): void {
  const { chars } = line;
  switch (key.type) {
    case 'char':
    case 'paste': {
      const room = MAX_COMMAND_LINE - chars.length;
      const inserted = [...key.text].slice(0, Math.max(0, room));
      chars.splice(line.cursor, 0, ...inserted);
      line.cursor += inserted.length;
      break;
    }
    case 'backspace':
      if (line.cursor > 0) {
        chars.splice(line.cursor - 1, 1);
        line.cursor -= 1;
      }
      break;
    case 'delete':
    case 'eof':
      chars.splice(line.cursor, 1);
      break;
    case 'left':
      line.cursor = Math.max(0, line.cursor - 1);
      break;
    case 'right':
      line.cursor = Math.min(chars.length, line.cursor + 1);
      break;
    case 'home':
      line.cursor = 0;
      break;
    case 'end':
      line.cursor = chars.length;
      break;
    case 'killToStart':
      chars.splice(0, line.cursor);
      line.cursor = 0;
      break;
    case 'killToEnd':
      chars.length = line.cursor;
      break;
    case 'killWord': {
      // The word before the cursor and the blanks between it and the cursor (readline's ^W).
      let from = line.cursor;
      while (from > 0 && /\s/u.test(chars[from - 1] as string)) from -= 1;
      while (from > 0 && !/\s/u.test(chars[from - 1] as string)) from -= 1;
      chars.splice(from, line.cursor - from);
      line.cursor = from;
      break;
    }
    default:
      // Tab, history, Alt-keys: only the echo can tell.
      break;
  }
}
