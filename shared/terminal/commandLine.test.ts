/**
 * The command-line reconstruction against real keystroke streams of bash and zsh (captured by
 * scripts/captureKeystrokes.ts: keys typed under a pty, with the shell's echo between them),
 * and a table of key sequences without output (the key rules alone).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CommandLineReconstructor } from './commandLine.ts';

interface Fixture {
  shell: string;
  scenarios: { name: string; expected: string[]; events: ['i' | 'o', string][] }[];
}

const fixture = (shell: string): Fixture =>
  JSON.parse(readFileSync(new URL(`./fixtures/${shell}.json`, import.meta.url), 'utf8'));

/** Replays a captured stream: each event is one write, as the recorder stores it. */
function replay(events: ['i' | 'o', string][], withOutput = true): string[] {
  const lines = new CommandLineReconstructor<number>();
  const done: { text: string; stamp: number }[] = [];
  events.forEach(([direction, latin1], index) => {
    const bytes = Buffer.from(latin1, 'latin1');
    if (direction === 'i') done.push(...lines.input(bytes.toString('utf8'), index));
    else if (withOutput) done.push(...lines.output(bytes));
  });
  // Lines come back in the order they were entered.
  expect(done.map((line) => line.stamp)).toEqual(
    done.map((line) => line.stamp).sort((a, b) => a - b),
  );
  return done.map((line) => line.text);
}

for (const shell of ['bash', 'zsh']) {
  describe(`real ${shell} sessions`, () => {
    for (const scenario of fixture(shell).scenarios) {
      it(scenario.name, () => {
        expect(replay(scenario.events)).toEqual(scenario.expected);
      });
    }

    it('gives the same lines when each byte is its own write', () => {
      for (const scenario of fixture(shell).scenarios) {
        const split = scenario.events.flatMap(([direction, text]) =>
          [...text].map((char) => [direction, char] as ['i' | 'o', string]),
        );
        expect(replay(split), scenario.name).toEqual(scenario.expected);
      }
    });
  });
}

describe('key rules (no output recorded)', () => {
  const keysOnly = (...chunks: string[]) => {
    const lines = new CommandLineReconstructor();
    return chunks.flatMap((chunk) => lines.input(chunk, undefined).map((line) => line.text));
  };
  const table: [string, string[], string[]][] = [
    ['Backspace and ^H', ['ls -lx\u007fa\r', 'cd /tpm\b\b\bmp\n'], ['ls -la', 'cd /mp']],
    [
      '^W erases the word before the cursor',
      ['git push --force\u0017origin\r'],
      ['git push origin'],
    ],
    ['^U erases to the line start', ['rm -rf /\u0015echo safe\r'], ['echo safe']],
    [
      '^U mid-line keeps what follows',
      ['echo drop keep\u001b[D\u001b[D\u001b[D\u001b[D\u0015\r'],
      ['keep'],
    ],
    ['^C abandons', ['sleep 100\u0003', 'uptime\r'], ['uptime']],
    ['a Tab is not a space', ['a\tb\r'], ['ab']],
    [
      'arrows edit where the cursor is',
      ['echo wrld\u001b[D\u001b[D\u001b[Do\u001b[C\u001b[C\u001b[C!\r'],
      ['echo world!'],
    ],
    ['SS3 arrows too', ['ab\u001bODx\r'], ['axb']],
    ['^A, ^E, ^B, ^F', ['cho one\u0001e\u0005 two\u0002\u0002\u0006!\r'], ['echo one tw!o']],
    [
      'Home, End, Delete, ^K',
      [
        'xecho ab\u001b[H\u001b[3~\u001b[Fc\r',
        'echo keep drop\u001b[1~\u001b[C\u001b[4~\u001b[D\u001b[D\u001b[D\u001b[D\u001b[D\u000b\r',
      ],
      ['echo abc', 'echo keep'],
    ],
    [
      '^D deletes under the cursor, ends nothing on an empty line',
      ['\u0004abc\u001b[D\u0004\r'],
      ['ab'],
    ],
    ['↑ recalls history only the echo shows', ['\u001b[A\r'], []],
    [
      'OSC title and colour replies, ended by BEL or ST',
      ['ls\u001b]0;title\u0007 -l\u001b]11;rgb:0000/0000/0000\u001b\\a\r'],
      ['ls -la'],
    ],
    [
      'DCS, APC, CSI reports, focus events, function keys',
      ['ec\u001bP1+r544e\u001b\\ho\u001b[12;40R \u001b[I\u001b[O\u001b_x\u001b\\\u001b[15~hi\r'],
      ['echo hi'],
    ],
    [
      'a sequence split across chunks',
      ['echo a\u001b', ']0;t', 'itle\u001b', '\\b\u001b', '[', 'Dc\r'],
      ['echo acb'],
    ],
    [
      'bracketed paste keeps text, enters each pasted line',
      ['\u001b[200~cat notes.txt\r\necho two\u001b[201~\r'],
      ['cat notes.txt', 'echo two'],
    ],
    [
      'paste markers split across chunks',
      ['x\u001b[20', '0~a\u001b[D\u001b[20', '1~b\r'],
      ['xa\u001b[Db'],
    ],
    ['non-ASCII', ['echo grüße ✓\u007f\r'], ['echo grüße']],
    ['blank lines are no command', ['\r', '   \r'], []],
  ];
  it.each(table)('%s', (_name, chunks, expected) => {
    expect(keysOnly(...chunks)).toEqual(expected);
  });

  it('keeps the line pending across chunks', () => {
    const lines = new CommandLineReconstructor<number>();
    expect(lines.input('systemctl sta', 1)).toEqual([]);
    expect(lines.input('tus\u001b', 2)).toEqual([]);
    expect(lines.input('[D nginx\rnext', 3)).toEqual([
      { text: 'systemctl statu nginxs', stamp: 3 },
    ]);
    expect(lines.pending()).toBe('next');
  });
});

describe('full-screen programs', () => {
  it('keys typed while the alternate screen is on are no command', () => {
    const lines = new CommandLineReconstructor();
    const out = (text: string) => lines.output(Buffer.from(text));
    const typed = (text: string) => lines.input(text, undefined).map((line) => line.text);
    out('$ ');
    expect(typed('top\r')).toEqual(['top']);
    out('\u001b[?10');
    out('49h\u001b[H\u001b[2Jtop - 10:00:00 up');
    expect(typed('1q')).toEqual([]);
    out('\u001b[?1049l\r\n$ ');
    expect(typed('echo after\r')).toEqual(['echo after']);
    out('\u001b[?47h');
    expect(typed(':wq\r')).toEqual([]);
    out('\u001b[?47l$ ');
    expect(typed('ls\r')).toEqual(['ls']);
  });

  it("keeps procps top's quit key out of the next command (top draws on the normal screen)", () => {
    // Bytes as procps-ng top writes them under TERM=xterm-256color (captured under a pty).
    const lines = new CommandLineReconstructor();
    const out = (text: string) => lines.output(Buffer.from(text));
    const typed = (text: string) => lines.input(text, undefined).map((line) => line.text);
    out('$ ');
    expect(typed('top\r')).toEqual(['top']);
    out('top\r\n');
    out('\u001b[?1h\u001b=\u001b[?25l\u001b[H\u001b[');
    out('2J\u001b(B\u001b[mtop - 22:39:22 up  8:28\u001b[K\r\nTasks:  85 total');
    expect(typed('q')).toEqual([]);
    out('\u001b[?1l\u001b>\u001b[25;1H\r\n\u001b[?12l\u001b[?25h\u001b[K$ ');
    expect(typed('echo after\r')).toEqual(['echo after']);
  });

  it('application cursor keys alone (a zsh line editor) do not hide the line', () => {
    const lines = new CommandLineReconstructor();
    const out = (text: string) => lines.output(Buffer.from(text));
    const typed = (text: string) => lines.input(text, undefined).map((line) => line.text);
    out('% \u001b[?1h\u001b=');
    expect(typed('ls -l\r')).toEqual(['ls -l']);
    out('\u001b[?1l\u001b>\r\ntotal 0\r\n% \u001b[?1h\u001b=');
    expect(typed('pwd\r')).toEqual(['pwd']);
  });
});
