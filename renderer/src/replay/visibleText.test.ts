import { describe, expect, it } from 'vitest';
import { hasVisibleText } from './visibleText.ts';

describe('hasVisibleText', () => {
  it('sees no text in mode switches, titles, colours and cursor moves', () => {
    expect(hasVisibleText('\x1b[?2004h')).toBe(false);
    expect(hasVisibleText('\x1b]0;root@host: ~\x07')).toBe(false);
    expect(hasVisibleText('\x1b]2;title\x1b\\\x1b[0m\x1b[H\x1b[2J')).toBe(false);
    expect(hasVisibleText('\x1b(B\x1b=\r\n\t \x07')).toBe(false);
    expect(hasVisibleText('\x1bP+q544e\x1b\\')).toBe(false);
  });

  it('sees a prompt, also when escapes surround it', () => {
    expect(hasVisibleText('$ ')).toBe(true);
    expect(hasVisibleText('\x1b[?2004h\x1b]0;t\x07\x1b[01;32mroot@host\x1b[00m:~# ')).toBe(true);
    expect(hasVisibleText('é')).toBe(true);
  });
});
