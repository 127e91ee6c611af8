import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { askSecret, PromptCancelledError, readAllInput, readLine } from './terminalPrompt.ts';

/** A stand-in for a TTY stdin: records raw-mode switches. */
function fakeTty() {
  const input = Object.assign(new PassThrough(), {
    isTTY: true,
    rawModes: [] as boolean[],
    setRawMode(mode: boolean) {
      input.rawModes.push(mode);
      return input;
    },
  });
  return input;
}

describe('terminal prompts', () => {
  it('reads successive lines from one stream, keeping what follows', async () => {
    const input = new PassThrough();
    input.end('first\r\nsecond\nthird');
    expect(await readLine(input)).toBe('first');
    expect(await readLine(input)).toBe('second');
    expect(await readLine(input)).toBe('third');
    expect(await readLine(input)).toBeNull();
  });

  it('reads a secret in raw mode (no echo), with backspace, and restores the mode', async () => {
    const input = fakeTty();
    const output = new PassThrough();
    const answer = askSecret(input, output, 'Password: ');
    input.write('hunter3\u007f2\r');
    expect(await answer).toBe('hunter2');
    expect(input.rawModes).toEqual([true, false]);
    expect(output.read()?.toString()).toBe('Password: \n');
  });

  it('cancels on Ctrl-C', async () => {
    const input = fakeTty();
    const answer = askSecret(input, new PassThrough(), 'Password: ');
    input.write('abc\u0003');
    await expect(answer).rejects.toBeInstanceOf(PromptCancelledError);
    expect(input.rawModes).toEqual([true, false]);
  });

  it('reads all of stdin for --password-stdin, dropping one trailing newline', async () => {
    const input = new PassThrough();
    input.end('pass word \n');
    expect(await readAllInput(input)).toBe('pass word ');
  });
});
