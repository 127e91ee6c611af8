/**
 * Keystrokes (decoded terminal input) → editing keys. A stateful tokenizer: an escape sequence
 * or a paste split across two chunks is still recognised. Sequences the line editor has no use
 * for — terminal replies to queries (OSC colours, DCS capabilities, CSI reports), function
 * keys, focus events — become nothing, so none of their bytes can leak into a command line.
 */

/**
 * `tab` and `opaque` (Up/Down, ^P/^N/^R, Alt+key, Ctrl+arrows) change the line in ways only
 * the shell knows (completion, history, its own word rules): the shell's echo shows the result.
 */
export type Key =
  | { type: 'char'; text: string }
  | { type: 'paste'; text: string }
  | {
      type:
        | 'enter'
        | 'backspace'
        | 'delete'
        | 'left'
        | 'right'
        | 'home'
        | 'end'
        | 'killToStart'
        | 'killToEnd'
        | 'killWord'
        | 'abandon'
        | 'tab'
        | 'opaque'
        | 'eof';
    };

/** A paste longer than this is cut (a pasted file is not a command line). */
const MAX_PASTE = 64 * 1024;
const PASTE_END = '\u001b[201~';

type State = 'text' | 'escape' | 'csi' | 'ss3' | 'string' | 'stringEscape' | 'paste';

export class KeyTokenizer {
  private state: State = 'text';
  private params = '';
  private pasted = '';

  /** The keys in `chunk` (continuing a sequence or paste left open by the previous chunk). */
  push(chunk: string): Key[] {
    const keys: Key[] = [];
    for (const char of chunk) {
      const key = this.char(char);
      if (key) keys.push(key);
    }
    return keys;
  }

  private char(char: string): Key | undefined {
    const code = char.codePointAt(0) as number;
    switch (this.state) {
      case 'paste':
        return this.pasteChar(char);
      case 'escape':
        return this.afterEscape(char);
      case 'csi':
        if (code >= 0x40 && code <= 0x7e) {
          this.state = 'text';
          return this.csi(this.params, char);
        }
        if (code < 0x20)
          this.state = 'text'; // a broken sequence: drop it
        else this.params += char;
        return undefined;
      case 'ss3':
        this.state = 'text';
        return cursorKey(char);
      case 'string':
        // OSC, DCS, SOS, PM, APC: up to BEL or ST (ESC \ or the C1 byte).
        if (code === 0x07 || code === 0x9c) this.state = 'text';
        else if (code === 0x1b) this.state = 'stringEscape';
        return undefined;
      case 'stringEscape':
        this.state = char === '\\' ? 'text' : 'string';
        return undefined;
      default:
        return this.textChar(char, code);
    }
  }

  private textChar(char: string, code: number): Key | undefined {
    if (code >= 0x20 && code !== 0x7f && !(code >= 0x80 && code <= 0x9f)) {
      return { type: 'char', text: char };
    }
    switch (code) {
      case 0x0d:
      case 0x0a:
        return { type: 'enter' };
      case 0x7f:
      case 0x08:
        return { type: 'backspace' };
      case 0x09:
        return { type: 'tab' };
      case 0x01:
        return { type: 'home' };
      case 0x05:
        return { type: 'end' };
      case 0x02:
        return { type: 'left' };
      case 0x06:
        return { type: 'right' };
      case 0x04:
        return { type: 'eof' };
      case 0x0b:
        return { type: 'killToEnd' };
      case 0x15:
        return { type: 'killToStart' };
      case 0x17:
        return { type: 'killWord' };
      case 0x03:
        return { type: 'abandon' };
      case 0x10:
      case 0x0e:
      case 0x12:
        return { type: 'opaque' }; // ^P, ^N, ^R: the line comes from the shell's history
      case 0x1b:
        this.state = 'escape';
        return undefined;
      case 0x9b:
        this.params = '';
        this.state = 'csi';
        return undefined;
      case 0x9d:
      case 0x90:
        this.state = 'string';
        return undefined;
      default:
        return undefined; // other controls edit nothing the keys can tell
    }
  }

  private afterEscape(char: string): Key | undefined {
    this.state = 'text';
    switch (char) {
      case '[':
        this.params = '';
        this.state = 'csi';
        return undefined;
      case 'O':
        this.state = 'ss3';
        return undefined;
      case ']':
      case 'P':
      case 'X':
      case '^':
      case '_':
        this.state = 'string';
        return undefined;
      case '\u001b':
        this.state = 'escape';
        return undefined;
      default:
        // Alt+key (ESC b, ESC d, ESC .): shell-specific edits the echo shows, not the keys.
        return { type: 'opaque' };
    }
  }

  private csi(params: string, final: string): Key | undefined {
    if (final === '~') {
      switch (params) {
        case '200':
          this.state = 'paste';
          this.pasted = '';
          return undefined;
        case '1':
        case '7':
          return { type: 'home' };
        case '4':
        case '8':
          return { type: 'end' };
        case '3':
          return { type: 'delete' };
        default:
          return undefined; // function keys, Insert, PgUp/PgDn
      }
    }
    // Modified arrows (CSI 1;5D …) move by words in some shells: the echo tells.
    if (params !== '' && params !== '1')
      return final === 'D' || final === 'C' ? { type: 'opaque' } : undefined;
    return cursorKey(final);
  }

  private pasteChar(char: string): Key | undefined {
    if (this.pasted.length < MAX_PASTE + PASTE_END.length) this.pasted += char;
    if (char !== '~' || !this.pasted.endsWith(PASTE_END)) return undefined;
    this.state = 'text';
    const text = this.pasted.slice(0, -PASTE_END.length).slice(0, MAX_PASTE);
    this.pasted = '';
    return { type: 'paste', text };
  }
}

/** The final byte of an arrow/Home/End key, in CSI or SS3 form. */
function cursorKey(final: string): Key | undefined {
  switch (final) {
    case 'D':
      return { type: 'left' };
    case 'C':
      return { type: 'right' };
    case 'H':
      return { type: 'home' };
    case 'F':
      return { type: 'end' };
    case 'A':
    case 'B':
      return { type: 'opaque' };
    default:
      return undefined;
  }
}
