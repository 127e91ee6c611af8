import { describe, expect, it } from 'vitest';
import { CommandLineBuilder } from './commandLines.ts';

describe('CommandLineBuilder', () => {
  it('applies backspace, ^U, ^W and ^C, drops arrow keys, and keeps the time of Enter', () => {
    const b = new CommandLineBuilder();
    b.push(10, 'ls -lx\x7f');
    b.push(20, 'a\r');
    b.push(30, 'rm -rf /\x15echo hi\r');
    b.push(40, 'git push origin\x17\x17main\r');
    b.push(50, 'oops\x03');
    b.push(60, '\x1b[Auptime\x1bOA\r\r');
    b.push(70, 'caf');
    b.push(80, 'é\n');
    expect(b.commands).toEqual([
      { t: 20, text: 'ls -la' },
      { t: 30, text: 'echo hi' },
      { t: 40, text: 'git main' },
      { t: 60, text: 'uptime' },
      { t: 80, text: 'café' },
    ]);
  });
});
