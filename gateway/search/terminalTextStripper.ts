/**
 * Terminal output → plain text for search: drops escape sequences (CSI, OSC, DCS/SOS/PM/APC,
 * two- and three-byte ESC sequences) and control characters, applies backspace to the text
 * so far, and keeps line breaks. Stateful: a sequence split across two frames is still
 * recognised. Works on decoded text (a streaming TextDecoder sits in front of it).
 *
 * This is text for finding a moment, not a terminal emulator: cursor movement, full-screen
 * redraws and overwrites are not replayed (the player does that from the recording itself).
 */

/**
 * In `push`'s result: a backspace over a character of an earlier chunk (see `applyBackspaces`).
 * Backspace itself: it can appear nowhere else in the result (controls are dropped).
 */
export const BACKSPACE = '\b';

/**
 * Appends stripped text to what was gathered before, dropping a gathered character for each
 * BACKSPACE mark (never across a line break: a shell erases only on its line).
 */
export function applyBackspaces(gathered: string, text: string): string {
  if (!text.includes(BACKSPACE)) return gathered + text;
  let result = gathered;
  const parts = text.split(BACKSPACE);
  for (const [index, part] of parts.entries()) {
    if (index > 0 && result.length > 0 && !result.endsWith('\n')) result = result.slice(0, -1);
    result += part;
  }
  return result;
}

/** C0 controls, DEL and C1 controls: where a plain-text run ends. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

type State = 'text' | 'escape' | 'escapeIntermediate' | 'csi' | 'string' | 'stringEscape';

export class TerminalTextStripper {
  private state: State = 'text';

  /** The printable text of `chunk` (continuing any sequence left open by the previous one). */
  push(chunk: string): string {
    let out = '';
    let index = 0;
    while (index < chunk.length) {
      if (this.state === 'text') {
        // Plain text is copied in runs up to the next control character (the common case).
        CONTROL.lastIndex = index;
        const found = CONTROL.exec(chunk);
        const end = found ? found.index : chunk.length;
        if (end > index) out += chunk.slice(index, end);
        index = end;
        if (!found) break;
      }
      const code = chunk.charCodeAt(index);
      index += 1;
      switch (this.state) {
        case 'text':
          if (code === 0x1b) this.state = 'escape';
          else if (code === 0x9b) this.state = 'csi';
          else if (code === 0x0a) out += '\n';
          else if (code === 0x09) out += ' ';
          else if (code === 0x08) {
            // Backspace moves the cursor left: what follows overwrites, so the character goes.
            // When it was in an earlier chunk, the BACKSPACE mark tells the caller to drop it.
            if (out.length > 0 && !out.endsWith('\n') && !out.endsWith(BACKSPACE)) {
              out = out.slice(0, -1);
            } else out += BACKSPACE;
          }
          // \r and other C0/C1 controls: nothing to index.
          break;
        case 'escape':
          if (code === 0x5b)
            this.state = 'csi'; // [
          else if (
            code === 0x5d ||
            code === 0x50 ||
            code === 0x58 ||
            code === 0x5e ||
            code === 0x5f
          ) {
            this.state = 'string'; // ] OSC, P DCS, X SOS, ^ PM, _ APC: up to BEL or ST
          } else if (code >= 0x20 && code <= 0x2f)
            this.state = 'escapeIntermediate'; // ESC ( B
          else this.state = 'text'; // ESC 7, ESC =, ESC M …
          break;
        case 'escapeIntermediate':
          if (code < 0x20 || code > 0x2f) this.state = 'text';
          break;
        case 'csi':
          // Parameters and intermediates (0x20–0x3f) until a final byte (0x40–0x7e).
          if (code >= 0x40 && code <= 0x7e) this.state = 'text';
          else if (code === 0x1b) this.state = 'escape';
          break;
        case 'string':
          if (code === 0x07 || code === 0x9c) this.state = 'text';
          else if (code === 0x1b) this.state = 'stringEscape';
          break;
        case 'stringEscape':
          this.state = code === 0x5c ? 'text' : 'string';
          break;
      }
    }
    return out;
  }
}
