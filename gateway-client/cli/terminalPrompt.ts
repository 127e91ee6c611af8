/**
 * Reading answers from the person at the terminal: a line, a secret without echo, or all of
 * stdin (`--password-stdin`). Prompts go to stderr so stdout stays clean for `--json` output.
 */
import type { Readable, Writable } from 'node:stream';

/** The person pressed Ctrl-C at a prompt. */
export class PromptCancelledError extends Error {
  override readonly name = 'PromptCancelledError';
  constructor() {
    super('cancelled');
  }
}

/** A TTY input stream, as far as we need it (`process.stdin` when it is a terminal). */
interface RawModeCapable {
  isTTY?: boolean;
  setRawMode?: (mode: boolean) => unknown;
}

/**
 * Reads one line (without its line ending). Resolves null at end of input. Whatever was read
 * past the line is pushed back, so successive prompts can share one piped stdin.
 */
export function readLine(input: Readable): Promise<string | null> {
  if (input.readableEnded) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    let buffered = '';
    const cleanup = () => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
    };
    const onData = (chunk: Buffer | string) => {
      buffered += chunk.toString();
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      const rest = buffered.slice(newline + 1);
      cleanup();
      if (rest) input.unshift(Buffer.from(rest, 'utf8'));
      resolve(buffered.slice(0, newline).replace(/\r$/, ''));
    };
    const onEnd = () => {
      cleanup();
      resolve(buffered.length > 0 ? buffered.replace(/\r$/, '') : null);
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

/** Asks a question on `output` and reads the answer line. */
export async function askLine(
  input: Readable,
  output: Writable,
  question: string,
): Promise<string | null> {
  output.write(question);
  return readLine(input);
}

/**
 * Asks for a secret. On a real terminal the echo is turned off (raw mode) for the duration;
 * elsewhere (a pipe, a test stream) there is no echo to turn off and a line is read.
 */
export async function askSecret(
  input: Readable,
  output: Writable,
  question: string,
): Promise<string | null> {
  output.write(question);
  const tty = input as Readable & RawModeCapable;
  if (!tty.isTTY || typeof tty.setRawMode !== 'function') return readLine(input);
  const setRawMode = tty.setRawMode.bind(tty);
  return new Promise((resolve, reject) => {
    let secret = '';
    const done = (error: Error | null, value: string | null) => {
      input.off('data', onData);
      setRawMode(false);
      input.pause();
      output.write('\n');
      if (error) reject(error);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string) => {
      for (const char of chunk.toString()) {
        switch (char) {
          case '\r':
          case '\n':
            done(null, secret);
            return;
          case '\u0003': // Ctrl-C
            done(new PromptCancelledError(), null);
            return;
          case '\u0004': // Ctrl-D
            done(null, secret.length > 0 ? secret : null);
            return;
          case '\u007f': // Backspace / Delete
          case '\b':
            secret = [...secret].slice(0, -1).join('');
            break;
          default:
            secret += char;
        }
      }
    };
    setRawMode(true);
    input.on('data', onData);
    input.resume();
  });
}

/** Reads stdin to its end (`--password-stdin`), dropping one trailing line ending. */
export async function readAllInput(input: Readable, maxBytes = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of input) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : (chunk as Buffer);
    size += buffer.length;
    if (size > maxBytes)
      throw new Error(`stdin holds more than ${maxBytes} bytes; expected a password`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}
