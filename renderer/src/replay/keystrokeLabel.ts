/**
 * The optional keystroke display: recorded input as a person reads it. Printable text stays
 * as typed; control keys get their usual names, so "ls -la⏎" or "^C" shows what was pressed.
 */
const NAMED: Record<string, string> = {
  '\r': '⏎',
  '\n': '⏎',
  '\t': '⇥',
  '\x7f': '⌫',
  '\b': '⌫',
  '\x1b': 'Esc',
  '\x1b[A': '↑',
  '\x1b[B': '↓',
  '\x1b[C': '→',
  '\x1b[D': '←',
  '\x1bOA': '↑',
  '\x1bOB': '↓',
  '\x1bOC': '→',
  '\x1bOD': '←',
  '\x1b[H': 'Home',
  '\x1b[F': 'End',
  '\x1b[3~': 'Del',
  '\x1b[5~': 'PgUp',
  '\x1b[6~': 'PgDn',
};

/** After an ESC: a CSI sequence (`[1;5A`, `[3~`) or an SS3 one (`OA`). */
const AFTER_ESCAPE = /^(?:\[[0-9;]*[A-Za-z~]|O[A-Za-z])/;

export function keystrokeLabel(data: string): string {
  let out = '';
  let i = 0;
  while (i < data.length) {
    const ch = data[i] ?? '';
    if (ch === '\x1b') {
      const rest = AFTER_ESCAPE.exec(data.slice(i + 1))?.[0];
      const seq = rest === undefined ? undefined : `\x1b${rest}`;
      if (seq !== undefined) {
        out += NAMED[seq] ?? '';
        i += seq.length;
        continue;
      }
      out += 'Esc';
      i += 1;
      continue;
    }
    const named = NAMED[ch];
    if (named !== undefined) out += named;
    else {
      const code = ch.charCodeAt(0);
      // Ctrl+letter arrives as 0x01..0x1a.
      if (code < 0x20) out += `^${String.fromCharCode(code + 0x40)}`;
      else out += ch;
    }
    i += 1;
  }
  return out;
}

/** Keeps the last `max` characters of the keystroke strip (the display scrolls left). */
export function appendKeystrokes(shown: string, data: string, max = 40): string {
  const next = shown + keystrokeLabel(data);
  return next.length <= max ? next : next.slice(next.length - max);
}
