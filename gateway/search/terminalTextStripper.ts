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
 * Backspace itself: it can appear nowhere else in the result (controls are dropped), and only
 * at its start.
 */
export const BACKSPACE = '\b';

/**
 * Appends stripped text to what was gathered before, dropping a gathered character for each
 * BACKSPACE mark (never across a line break: a shell erases only on its line).
 */
export function applyBackspaces(gathered: string, text: string): string {
  // The marks lead the text (push() never puts one after text): each erases one character of
  // what was gathered, on its last line. Work is linear in the marks, whatever the text's size.
  let marks = 0;
  while (marks < text.length && text.charCodeAt(marks) === 0x08) marks += 1;
  if (marks === 0) return gathered + text;
  const lineStart = gathered.lastIndexOf('\n') + 1;
  const kept = Math.max(lineStart, gathered.length - marks);
  return gathered.slice(0, kept) + text.slice(marks);
}

/** C0 controls, DEL and C1 controls end a plain-text run. */
function isControl(code: number): boolean {
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

type State = 'text' | 'escape' | 'escapeIntermediate' | 'csi' | 'string' | 'stringEscape';

export class TerminalTextStripper {
  private state: State = 'text';

  /** The printable text of `chunk` (continuing any sequence left open by the previous one). */
  push(chunk: string): string {
    // Pieces are gathered in an array and joined once: output dense with controls (a binary
    // `cat`, /dev/zero) must cost linear time — string slicing per backspace was quadratic.
    const out: string[] = [];
    let index = 0;
    while (index < chunk.length) {
      if (this.state === 'text') {
        // Plain text is copied in runs up to the next control character (the common case).
        let end = index;
        while (end < chunk.length && !isControl(chunk.charCodeAt(end))) end += 1;
        if (end > index) out.push(chunk.slice(index, end));
        index = end;
        if (end === chunk.length) break;
      }
      const code = chunk.charCodeAt(index);
      index += 1;
      switch (this.state) {
        case 'text':
          if (code === 0x1b) this.state = 'escape';
          else if (code === 0x9b) this.state = 'csi';
          else if (code === 0x0a) out.push('\n');
          else if (code === 0x09) out.push(' ');
          else if (code === 0x08) eraseLast(out);
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
    return out.join('');
  }
}

/**
 * Backspace moves the cursor left: what follows overwrites, so the character goes. When it
 * was in an earlier chunk (or this chunk has nothing to erase on the line), a BACKSPACE mark
 * tells the caller to drop it.
 */
function eraseLast(out: string[]): void {
  const last = out[out.length - 1];
  if (last === '\n') return; // at the start of a line there is nothing to erase
  if (last === undefined || last === BACKSPACE) {
    // Only ever at the start of a chunk's result: applyBackspaces then stays linear.
    out.push(BACKSPACE);
  } else if (last.length === 1) {
    out.pop();
  } else {
    out[out.length - 1] = last.slice(0, -1);
  }
}
