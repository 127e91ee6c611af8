import { describe, expect, it } from 'vitest';
import { CommandLineBuilder } from './commandLines.ts';

describe('CommandLineBuilder', () => {
  it('keeps the time of Enter, also for a line the echo completes later', () => {
    const b = new CommandLineBuilder();
    b.output(Buffer.from('$ '));
    b.push(10, 'ls -lx\u007f');
    b.push(20, 'a\r');
    b.push(30, 'a\tb\r');
    // zsh: the echo after Enter drops the space it added after a completion.
    b.output(Buffer.from('% '));
    b.push(40, 'cat zeb');
    b.output(Buffer.from('cat zeb'));
    b.push(50, '\t');
    b.output(Buffer.from('ra.txt\u001b[1m \u001b[0m'));
    b.push(60, '\r');
    b.output(Buffer.from('\b\u001b[0m \b\r\r\n'));
    expect(b.commands).toEqual([
      { t: 20, text: 'ls -la' },
      { t: 30, text: 'ab' },
      { t: 60, text: 'cat zebra.txt' },
    ]);
  });
});
