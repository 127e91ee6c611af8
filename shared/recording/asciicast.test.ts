import { execFile, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  HEADER_WAIT_BYTES,
  NoTerminalOutputError,
  terminalChannels,
  toAsciicast,
} from './asciicast.ts';
import {
  buildSshRecording,
  generateRecordingKey,
  RecordingBuilder,
  START_TIME,
} from './fixtures/recordingFixture.ts';
import { type RecordingEvent, RecordingReader } from './recordingFormat.ts';

const key = generateRecordingKey();

function eventsOf(builder: RecordingBuilder): RecordingEvent[] {
  const reader = new RecordingReader();
  return reader
    .push(builder.bytes())
    .flatMap((record) => (record.type === 'frame' ? [record.event] : []));
}

async function castLines(
  events: Iterable<RecordingEvent> | AsyncIterable<RecordingEvent>,
  options: { channel?: number; includeInput?: boolean } = {},
): Promise<unknown[]> {
  const lines: unknown[] = [];
  let text = '';
  for await (const line of toAsciicast(events, options)) {
    expect(line.endsWith('\n')).toBe(true);
    text += line;
  }
  for (const line of text.split('\n').slice(0, -1)) lines.push(JSON.parse(line));
  return lines;
}

/** A session whose UTF-8 characters are split across frames, stdout and stderr interleaved. */
function splitUtf8Recording(): { builder: RecordingBuilder; expectedOutput: string } {
  const b = new RecordingBuilder('ses_utf8', key);
  b.json('m', 0, { type: 'session-start', user: 'alice', resource: 'web-1' });
  b.json('m', 1, { type: 'channel-open', channelType: 'session' });
  b.json('m', 1, { type: 'pty-req', term: 'xterm', cols: 90, rows: 20, width: 0, height: 0 });
  b.json('m', 1, { type: 'shell' });
  const grin = Buffer.from('\u{1F600}'); // 4 bytes
  const eAcute = Buffer.from('\u00e9'); // 2 bytes
  b.frame('o', 1, Buffer.concat([Buffer.from('\x1b[1;32mgr\u00fc\u00df '), grin.subarray(0, 1)]));
  b.frame('e', 1, Buffer.concat([Buffer.from('warn '), eAcute.subarray(0, 1)]));
  b.frame('i', 1, Buffer.from('q'));
  b.frame('o', 1, grin.subarray(1, 3));
  b.frame('e', 1, Buffer.concat([eAcute.subarray(1), Buffer.from('\r\n')]));
  b.frame('o', 1, Buffer.concat([grin.subarray(3), Buffer.from('\x1b[0m done\r\n')]));
  b.json('x', 1, { code: 0 });
  b.json('m', 1, { type: 'channel-close', by: 'target' });
  b.checkpoint({ final: true });
  return {
    builder: b,
    expectedOutput: '\x1b[1;32mgr\u00fc\u00df warn \u00e9\r\n\u{1F600}\x1b[0m done\r\n',
  };
}

describe('toAsciicast', () => {
  it('writes the header from the pty-req and one line per output event, no input', async () => {
    const lines = await castLines(eventsOf(buildSshRecording(key)));
    expect(lines).toEqual([
      {
        version: 2,
        width: 120,
        height: 40,
        timestamp: Math.floor((START_TIME + 200) / 1000),
        env: { TERM: 'xterm-256color' },
      },
      // Seconds from the channel's first event (channel-open, 200 ms after the start).
      [0.4, 'o', 'ls\r\n'],
      [0.5, 'o', 'file-a  file-b\r\n'],
      [0.6, 'r', '100x30'],
      [0.7, 'o', 'h\u00e9llo \u{1F600}\r\n'],
    ]);
  });

  it('adds typed input as "i" events only with includeInput', async () => {
    const lines = await castLines(eventsOf(buildSshRecording(key)), { includeInput: true });
    expect(lines.slice(1, 3)).toEqual([
      [0.3, 'i', 'ls\r'],
      [0.4, 'o', 'ls\r\n'],
    ]);
    const outputOnly = await castLines(eventsOf(buildSshRecording(key)));
    expect(outputOnly.filter((l) => Array.isArray(l) && l[1] === 'i')).toEqual([]);
  });

  it("keeps an exec's input typed before its first output, with includeInput", async () => {
    const exec = new RecordingBuilder('ses_exec_input', key);
    exec.json('m', 1, { type: 'channel-open', channelType: 'session' });
    exec.json('m', 1, { type: 'exec', command: 'read secret' });
    exec.frame('i', 1, 'hunter2\n');
    exec.frame('o', 1, 'got 7\n');
    exec.json('x', 1, { code: 0 });
    expect((await castLines(eventsOf(exec), { includeInput: true })).slice(1)).toEqual([
      [0.2, 'i', 'hunter2\n'],
      [0.3, 'o', 'got 7\n'],
    ]);
    expect((await castLines(eventsOf(exec))).slice(1)).toEqual([[0.3, 'o', 'got 7\n']]);
  });

  it('keeps characters whole across frames, per stream (stdout, stderr, input)', async () => {
    const { builder, expectedOutput } = splitUtf8Recording();
    const lines = (await castLines(eventsOf(builder), { includeInput: true })) as [
      number,
      string,
      string,
    ][];
    const output = lines
      .slice(1)
      .filter((l) => l[1] === 'o')
      .map((l) => l[2])
      .join('');
    expect(output).toBe(expectedOutput);
    expect(output).not.toContain('\ufffd');
    expect(lines.filter((l) => l[1] === 'i')).toEqual([[expect.any(Number), 'i', 'q']]);
  });

  it('takes the size from the first resize when there is no pty-req, else 80x24', async () => {
    const resized = new RecordingBuilder('ses_r', key);
    resized.frame('o', 1, 'before\r\n');
    resized.json('r', 1, { cols: 132, rows: 50 });
    resized.frame('o', 1, 'after\r\n');
    const lines = await castLines(eventsOf(resized));
    expect(lines[0]).toMatchObject({ width: 132, height: 50 });
    expect(lines.slice(1)).toEqual([
      [0, 'o', 'before\r\n'],
      [0.2, 'o', 'after\r\n'],
    ]);

    const exec = new RecordingBuilder('ses_exec', key);
    exec.json('m', 1, { type: 'channel-open', channelType: 'session' });
    exec.json('m', 1, { type: 'exec', command: 'uptime' });
    exec.frame('o', 1, ' 10:00  up 3 days\n');
    exec.json('x', 1, { code: 0 });
    const execLines = await castLines(eventsOf(exec));
    expect(execLines[0]).toMatchObject({ width: 80, height: 24 });
    expect(execLines[0]).not.toHaveProperty('env');
    expect(execLines.slice(1)).toEqual([[0.2, 'o', ' 10:00  up 3 days\n']]);
  });

  it('does not hold more than HEADER_WAIT_BYTES of output while waiting for a size', async () => {
    const big = new RecordingBuilder('ses_big', key);
    big.frame('o', 1, 'x'.repeat(HEADER_WAIT_BYTES));
    big.frame('o', 1, 'y');
    big.frame('o', 1, 'z');
    const seen: number[] = [];
    async function* source() {
      for (const event of eventsOf(big)) {
        seen.push(event.seq);
        yield event;
      }
    }
    const iterator = toAsciicast(source())[Symbol.asyncIterator]();
    const header = await iterator.next();
    expect(JSON.parse(header.value as string)).toMatchObject({ width: 80, height: 24 });
    expect(seen).toEqual([1, 2]); // the header came out before the third event was read
  });

  it('picks the first terminal channel, skipping sftp and tunnels; or the one asked for', async () => {
    const b = new RecordingBuilder('ses_multi', key);
    b.json('m', 0, { type: 'session-start', user: 'alice', resource: 'web-1' });
    b.json('m', 1, { type: 'channel-open', channelType: 'session' });
    b.json('m', 1, { type: 'subsystem', name: 'sftp' });
    b.frame('o', 1, Buffer.from([0, 0, 0, 5, 2, 0, 0, 0, 3]));
    b.json('m', 2, { type: 'channel-open', channelType: 'direct-tcpip' });
    b.json('m', 2, {
      type: 'direct-tcpip',
      destHost: 'db',
      destPort: 5432,
      srcHost: '::1',
      srcPort: 1,
    });
    b.frame('o', 2, 'tunnel bytes');
    b.json('m', 3, { type: 'channel-open', channelType: 'session' });
    b.json('m', 3, { type: 'exec', command: 'hostname' });
    b.frame('o', 3, 'web-1\n');
    b.json('m', 4, { type: 'channel-open', channelType: 'session' });
    b.json('m', 4, { type: 'pty-req', term: 'vt100', cols: 100, rows: 25 });
    b.json('m', 4, { type: 'shell' });
    b.frame('o', 4, '$ ');
    const events = eventsOf(b);

    const auto = (await castLines(events)) as unknown[];
    expect(auto.slice(1)).toEqual([[0.2, 'o', 'web-1\n']]);
    const four = await castLines(events, { channel: 4 });
    expect(four[0]).toMatchObject({ width: 100, height: 25, env: { TERM: 'vt100' } });
    expect(four.slice(1)).toEqual([[0.3, 'o', '$ ']]);

    expect(await terminalChannels(events)).toEqual([
      {
        channel: 3,
        pty: false,
        outputBytes: 6,
        description: 'exec: hostname',
        startedAt: START_TIME + 800,
      },
      { channel: 4, pty: true, outputBytes: 2, description: 'shell', startedAt: START_TIME + 1100 },
    ]);
  });

  it('says so when there is nothing to export', async () => {
    const quiet = new RecordingBuilder('ses_quiet', key);
    quiet.json('m', 0, { type: 'session-start' });
    quiet.json('m', 0, { type: 'session-end', reason: 'refused' });
    await expect(castLines(eventsOf(quiet))).rejects.toThrow(NoTerminalOutputError);
    await expect(castLines(eventsOf(buildSshRecording(key)), { channel: 7 })).rejects.toThrow(
      /channel 7 has no events/,
    );
  });

  it('never lets time run backwards', async () => {
    const b = new RecordingBuilder('ses_clock', key);
    b.frame('o', 1, 'a', 0);
    b.frame('o', 1, 'b', 500);
    b.frame('o', 1, 'c', -300); // the gateway's clock stepped back
    const lines = await castLines(eventsOf(b));
    expect(lines.slice(1).map((l) => (l as unknown[])[0])).toEqual([0, 0.5, 0.5]);
  });
});

// ---------------------------------------------------------------------------------------------
// The real player: `asciinema cat` must print exactly the terminal output.

const execFileAsync = promisify(execFile);
const have = (tool: string) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
// `asciinema cat` opens /dev/tty, so it runs under `script`, which gives it a pseudo-terminal.
const missing = ['asciinema', 'script'].filter((tool) => !have(tool));
const installHint = `${missing.join(' and ')} not found (Debian: \`apt-get install asciinema bsdutils\`)`;
if (missing.length > 0 && !process.env.CI) {
  console.warn(`asciicast.test.ts: skipping the asciinema playback test — ${installHint}`);
}
const asciinemaIt = missing.length > 0 && !process.env.CI ? it.skip : it;

describe('asciinema', () => {
  asciinemaIt('plays the exported .cast: `asciinema cat` prints the session output', async () => {
    expect(missing, installHint).toEqual([]);
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'witness-cast-'));
    try {
      const { builder, expectedOutput } = splitUtf8Recording();
      const file = path.join(dir, 'session.cast');
      let text = '';
      for await (const line of toAsciicast(eventsOf(builder))) text += line;
      await fs.writeFile(file, text);
      // The default export is output only: the typed 'q' of this recording is not in it.
      expect(text).not.toMatch(/,\s*"i",/);

      const { stdout } = await execFileAsync(
        'script',
        ['-qec', `asciinema cat '${file}'`, '/dev/null'],
        { encoding: 'utf8', env: { ...process.env, TERM: 'xterm' }, timeout: 20_000 },
      );
      expect(stdout).toBe(expectedOutput);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
