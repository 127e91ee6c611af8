/**
 * What text a recording yields for search: command lines rebuilt from keystrokes (line editing
 * applied; its rules are tested in shared/terminal/commandLine.test.ts), output without escape
 * sequences (even when a sequence is split across frames), queries, and what is left out
 * (binary channels, output past the cap).
 */
import { describe, expect, it } from 'vitest';
import { encodeDataRow } from '../../shared/postgres/codec.ts';
import { eventKinds } from '../../shared/recording/recordingFormat.ts';
import { RecordingTextDeriver } from './recordingTextDeriver.ts';
import { queryWords, snippetOf } from './searchTerms.ts';
import { applyBackspaces, TerminalTextStripper } from './terminalTextStripper.ts';

describe('TerminalTextStripper', () => {
  it('drops CSI, OSC, charset and keypad sequences and controls; applies backspace', () => {
    const stripper = new TerminalTextStripper();
    expect(
      stripper.push(
        '\u001b]0;user@host: ~\u0007\u001b[?2004h\u001b[1;32muser@host\u001b[0m:~$ ls\r\n\u001b(Bfile\tx\u001b=\n',
      ),
    ).toBe('user@host:~$ ls\nfile x\n');
    expect(stripper.push('abcd\b\bxy')).toBe('abxy');
  });

  it('recognises a sequence split across chunks, including an OSC ended by ESC \\', () => {
    const stripper = new TerminalTextStripper();
    expect(stripper.push('one \u001b[3')).toBe('one ');
    expect(stripper.push('1mtwo\u001b]8;;http://x')).toBe('two');
    expect(stripper.push('\u001b\\three')).toBe('three');
  });
});

describe('RecordingTextDeriver', () => {
  let seq = 0;
  const frame = (channel: number, kind: string, data: string | Uint8Array | object) => ({
    seq: ++seq,
    time: 1000 + seq,
    channel,
    kind,
    data:
      data instanceof Uint8Array
        ? data
        : Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)),
  });

  it("makes a machine identity's name and token claims searchable, and nothing for a person (issue #18)", () => {
    seq = 0;
    const deriver = new RecordingTextDeriver('ses_1');
    deriver.frame(frame(0, eventKinds.meta, { type: 'session-start', user: 'alice' }));
    deriver.frame(
      frame(0, eventKinds.meta, {
        type: 'session-start',
        user: 'ci-deploy',
        principal: {
          kind: 'machine',
          identity: 'ci-deploy',
          claims: { repository: 'acme/app', run_id: '4242', nested: { no: 1 } },
        },
      }),
    );
    expect(deriver.take({ flush: true })).toEqual([
      {
        sessionId: 'ses_1',
        seq: 2,
        time: 1002,
        channel: 0,
        kind: 'output',
        text: 'machine ci-deploy: repository=acme/app run_id=4242',
      },
    ]);
  });

  it('types at a pty are commands, piped input is input, exec requests are commands', () => {
    seq = 0;
    const deriver = new RecordingTextDeriver('ses_1');
    deriver.frame(frame(1, eventKinds.meta, { type: 'pty-req', cols: 80, rows: 24 }));
    deriver.frame(frame(1, eventKinds.input, 'who'));
    deriver.frame(frame(1, eventKinds.input, 'ami\r'));
    deriver.frame(frame(2, eventKinds.input, 'SELECT 1;\n'));
    deriver.frame(frame(3, eventKinds.meta, { type: 'exec', command: 'tar czf - /srv' }));
    expect(deriver.take({ flush: false })).toEqual([
      { sessionId: 'ses_1', seq: 3, time: 1003, channel: 1, kind: 'command', text: 'whoami' },
      { sessionId: 'ses_1', seq: 4, time: 1004, channel: 2, kind: 'input', text: 'SELECT 1;' },
      {
        sessionId: 'ses_1',
        seq: 5,
        time: 1005,
        channel: 3,
        kind: 'command',
        text: 'tar czf - /srv',
      },
    ]);
    expect(deriver.take({ flush: true })).toEqual([]);
  });

  it('gathers output per channel from its first frame, closed at a flush or past the entry size', () => {
    seq = 0;
    const deriver = new RecordingTextDeriver('ses_1', { entryChars: 20 });
    deriver.frame(frame(1, eventKinds.output, '\u001b[1mhello\u001b[0m '));
    deriver.frame(frame(2, eventKinds.stderr, 'warning: disk'));
    deriver.frame(frame(1, eventKinds.output, 'world\r\n'));
    expect(deriver.take({ flush: false })).toEqual([]);
    // Past 20 characters: closed at the last line break, the rest starts at this frame.
    deriver.frame(frame(1, eventKinds.output, 'line two is longer\nand more'));
    expect(deriver.take({ flush: false })).toEqual([
      {
        sessionId: 'ses_1',
        seq: 1,
        time: 1001,
        channel: 1,
        kind: 'output',
        text: 'hello world\nline two is longer',
      },
    ]);
    expect(deriver.take({ flush: true }).map((e) => [e.channel, e.seq, e.text])).toEqual([
      [1, 4, 'and more'],
      [2, 2, 'warning: disk'],
    ]);
  });

  it('splits one big frame into bounded entries, at line breaks where there are any', () => {
    seq = 0;
    const deriver = new RecordingTextDeriver('ses_1', { entryChars: 100 });
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i} ${'x'.repeat(i % 70)}`);
    deriver.frame(frame(1, eventKinds.output, `${lines.join('\r\n')}\r\n`));
    deriver.frame(frame(1, eventKinds.output, 'y'.repeat(1_000)));
    const entries = deriver.take({ flush: true });
    expect(entries.length).toBeGreaterThan(100);
    for (const entry of entries) expect(entry.text.length).toBeLessThanOrEqual(200);
    // Nothing lost or reordered: every line whole and in order, and all of the second frame.
    const pieces = entries.flatMap((e) => e.text.split('\n'));
    expect(pieces.filter((p) => p.startsWith('line ')).map((p) => p.trimEnd())).toEqual(
      lines.map((l) => l.trimEnd()),
    );
    expect(pieces.join('').split('y').length - 1).toBe(1_000);
  });

  it('erases with backspaces that come in a later frame than the characters they erase', () => {
    seq = 0;
    const deriver = new RecordingTextDeriver('ses_1');
    deriver.frame(frame(1, eventKinds.output, '$ ehco'));
    // What bash's readline echoes for four DELs, in a frame of its own.
    deriver.frame(frame(1, eventKinds.output, '\b\u001b[K\b\u001b[K\b\u001b[K\b\u001b[K'));
    deriver.frame(frame(1, eventKinds.output, 'echo hi\r\nhi\r\n$ \b'));
    expect(deriver.take({ flush: true }).map((e) => e.text)).toEqual(['$ echo hi\nhi\n$']);
  });

  it('decodes UTF-8 split across frames', () => {
    seq = 0;
    const deriver = new RecordingTextDeriver('ses_1');
    const bytes = Buffer.from('Grüße');
    deriver.frame({ ...frame(1, eventKinds.output, ''), data: bytes.subarray(0, 3) });
    deriver.frame({ ...frame(1, eventKinds.output, ''), data: bytes.subarray(3) });
    expect(deriver.take({ flush: true }).map((e) => e.text)).toEqual(['Grüße']);
  });

  it('indexes queries, result rows, blocked statements and database errors', () => {
    seq = 0;
    const deriver = new RecordingTextDeriver('ses_db');
    const row = (...values: (string | Buffer | null)[]) =>
      encodeDataRow(values.map((v) => (typeof v === 'string' ? Buffer.from(v) : v))).subarray(5);
    deriver.frame(frame(0, eventKinds.query, { protocol: 'simple', sql: 'select * from orders' }));
    deriver.frame(frame(0, eventKinds.dataRow, row('1', 'mangosteen', null)));
    // A binary-format value (an int4) is not text; a body that does not parse gives nothing.
    deriver.frame(frame(0, eventKinds.dataRow, row(Buffer.from([0, 0, 0, 2]), 'durian\nskin')));
    // UTF-8 text is kept; bytes that are not UTF-8 (a binary value) are not.
    deriver.frame(frame(0, eventKinds.dataRow, row('Grüße', Buffer.from([0xff, 0xfe, 0x41]))));
    deriver.frame(frame(0, eventKinds.dataRow, 'not a DataRow body'));
    deriver.frame(
      frame(0, eventKinds.error, {
        fields: { S: 'ERROR', C: '42P01', M: 'relation "x" does not exist' },
      }),
    );
    deriver.frame(
      frame(0, eventKinds.blocked, { sql: 'drop table orders', rule: 'r', reason: 'no' }),
    );
    deriver.frame(frame(0, eventKinds.query, 'not json'));
    expect(deriver.take({ flush: true }).map((e) => [e.kind, e.seq, e.text])).toEqual([
      ['query', 1, 'select * from orders'],
      ['output', 2, '1 | mangosteen\ndurian skin\nGrüße'],
      ['output', 6, 'relation "x" does not exist'],
      ['query', 7, 'drop table orders'],
    ]);
  });

  it('result rows count toward the output budget; queries are indexed past it', () => {
    seq = 0;
    const deriver = new RecordingTextDeriver('ses_db', { maxOutputChars: 12 });
    const row = (v: string) => encodeDataRow([Buffer.from(v)]).subarray(5);
    deriver.frame(frame(0, eventKinds.query, { protocol: 'simple', sql: 'select name' }));
    deriver.frame(frame(0, eventKinds.dataRow, row('first twelve')));
    deriver.frame(frame(0, eventKinds.dataRow, row('past the cap')));
    deriver.frame(frame(0, eventKinds.query, { protocol: 'simple', sql: 'select more' }));
    expect(deriver.take({ flush: true }).map((e) => e.text)).toEqual([
      'select name',
      'first twelve',
      'select more',
    ]);
  });

  it('leaves out sftp and tunnel channels, and output past the per-session cap', () => {
    seq = 0;
    const deriver = new RecordingTextDeriver('ses_1', { maxOutputChars: 10 });
    deriver.frame(frame(1, eventKinds.meta, { type: 'subsystem', name: 'sftp' }));
    deriver.frame(frame(1, eventKinds.input, 'binary sftp request\r'));
    deriver.frame(frame(1, eventKinds.output, 'binary sftp reply\n'));
    deriver.frame(frame(2, eventKinds.meta, { type: 'direct-tcpip', destPort: 80 }));
    deriver.frame(frame(2, eventKinds.input, 'GET / HTTP/1.1\r\n'));
    deriver.frame(frame(3, eventKinds.output, 'first 12 chars'));
    deriver.frame(frame(3, eventKinds.output, 'past the cap'));
    expect(deriver.take({ flush: true }).map((e) => e.text)).toEqual(['first 12 chars']);
  });

  it('counts output it strips to nothing against the cap (a flood of controls is not examined forever)', () => {
    seq = 0;
    const deriver = new RecordingTextDeriver('ses_1', { maxOutputChars: 100 });
    deriver.frame(frame(1, eventKinds.output, '\u0007\u001b[K'.repeat(25)));
    deriver.frame(frame(1, eventKinds.output, 'text after a flood of controls\n'));
    expect(deriver.take({ flush: true })).toEqual([]);
  });

  it('skips frames of nothing but NULs, and still indexes text with NULs in it', () => {
    seq = 0;
    const deriver = new RecordingTextDeriver('ses_1', { maxOutputChars: 1_000_000 });
    deriver.frame(frame(1, eventKinds.output, 'before the zeros\n'));
    deriver.frame(frame(1, eventKinds.output, new Uint8Array(200_000)));
    // A NUL per chunk must not keep output out of search.
    deriver.frame(frame(1, eventKinds.output, 'hidden\u0000 in plain sight\n'));
    // A character cut by a frame of zeros ends there, as in the whole stream: 'é' is C3 A9.
    deriver.frame(frame(1, eventKinds.output, Buffer.from([0x61, 0xc3])));
    deriver.frame(frame(1, eventKinds.output, new Uint8Array(10)));
    deriver.frame(frame(1, eventKinds.output, Buffer.from([0xa9, 0x62, 0x0a])));
    const text = deriver
      .take({ flush: true })
      .map((e) => e.text)
      .join('\n');
    expect(text).toContain('before the zeros');
    expect(text).toContain('hidden');
    expect(text).toContain('in plain sight');
    expect(text).not.toContain('é');
  });
});

describe('TerminalTextStripper on output dense with controls', () => {
  it('erases with backspaces inside long runs and across pieces, marking what it cannot erase', () => {
    const stripper = new TerminalTextStripper();
    // At the start of a line a backspace erases nothing (the shell's cursor cannot go back).
    expect(stripper.push('abc\bd\n\bx\t\by')).toBe('abd\nxy');
    expect(stripper.push('\b\bz')).toBe('\b\bz');
    const noisy = `${'\u0000\u0008'.repeat(50_000)}ok`;
    expect(new TerminalTextStripper().push(noisy)).toBe(`${'\b'.repeat(50_000)}ok`);
  });

  it('marks only lead a chunk, so gathering them costs linear time (a binary cat stalled the gateway)', () => {
    // Pseudo-random bytes, as a `cat` of a binary prints them: backspaces and line breaks among
    // everything else. Marks anywhere but the start made applyBackspaces quadratic.
    let x = 7;
    const bytes = Buffer.alloc(1 << 20);
    for (let i = 0; i < bytes.length; i++) {
      x = (x * 1103515245 + 12345) & 0x7fffffff;
      bytes[i] = x >> 16;
    }
    const text = new TerminalTextStripper().push(bytes.toString('latin1'));
    const firstText = text.search(/[^\b]/);
    expect(firstText).toBeGreaterThanOrEqual(0);
    expect(text.indexOf('\b', firstText)).toBe(-1);
    // What the marks erase: characters of the last gathered line, never past its start.
    expect(applyBackspaces('ab\ncd', '\b\b\bxy')).toBe('ab\nxy');
    expect(applyBackspaces('abcd', '\bx')).toBe('abcx');
    expect(applyBackspaces('', '\b\bx')).toBe('x');
    expect(applyBackspaces('ab', 'cd')).toBe('abcd');
  });
});

describe('search words and snippets', () => {
  it('splits queries like the index does, bounded', () => {
    expect(queryWords('  /etc/NGINX/nginx.conf  ')).toEqual(['etc', 'nginx', 'conf']);
    expect(queryWords('-- // ..')).toEqual([]);
    expect(queryWords(Array.from({ length: 40 }, (_, i) => `w${i}`).join(' '))).toHaveLength(16);
    expect(queryWords('x'.repeat(100))).toEqual(['x'.repeat(64)]);
  });

  it('cuts a window around the first match and highlights the matched prefixes', () => {
    const text = `${'a'.repeat(300)} then systemctl restart nginx and ${'b'.repeat(300)}`;
    const { snippet, highlights } = snippetOf(text, ['restart', 'ngin']);
    expect(snippet.startsWith('…')).toBe(true);
    expect(snippet.endsWith('…')).toBe(true);
    expect(snippet.length).toBeLessThanOrEqual(162);
    expect(highlights.map(([from, to]) => snippet.slice(from, to))).toEqual(['restart', 'ngin']);
    expect(snippetOf('NGINX ok', ['nginx'])).toEqual({ snippet: 'NGINX ok', highlights: [[0, 5]] });
  });
});
