import { spawn } from 'node:child_process';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';

export interface ChildStdio {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
}

/**
 * Runs a native client (ssh, psql) as the user's foreground program and resolves with its exit
 * code (128 + signal number when a signal ended it). When this process's stdio are real file
 * descriptors they are handed over as they are, so the client sees the terminal; otherwise
 * (tests, pipes inside the desktop) the streams are piped. `notInstalled` turns ENOENT into the
 * error to show.
 */
export function runInteractiveChild(
  program: string,
  args: string[],
  env: Record<string, string | undefined>,
  io: ChildStdio,
  notInstalled: () => Error,
): Promise<number> {
  const fds = [fdOf(io.stdin), fdOf(io.stdout), fdOf(io.stderr)];
  const inherit = fds.every((fd) => fd !== undefined);
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env,
      stdio: inherit ? (fds as number[]) : ['pipe', 'pipe', 'pipe'],
    });
    // On a terminal, Ctrl-C belongs to the client (ssh forwards it, psql cancels the query);
    // this process just waits for it to finish.
    const ignore = () => {};
    if (inherit) process.on('SIGINT', ignore);
    const stopIgnoring = () => {
      if (inherit) process.off('SIGINT', ignore);
    };
    if (!inherit) {
      io.stdin.pipe(child.stdin!);
      child.stdin!.on('error', () => {}); // the client exited before reading all input
      child.stdout!.pipe(io.stdout, { end: false });
      child.stderr!.pipe(io.stderr, { end: false });
    }
    child.once('error', (error: NodeJS.ErrnoException) => {
      stopIgnoring();
      reject(error.code === 'ENOENT' ? notInstalled() : error);
    });
    child.once('close', (code, signal) => {
      stopIgnoring();
      if (!inherit) io.stdin.unpipe(child.stdin!);
      resolve(code ?? 128 + (signal ? (os.constants.signals[signal] ?? 127) : 127));
    });
  });
}

/** A stream backed by a file descriptor (the process's own stdio) can be handed over as is. */
function fdOf(stream: Readable | Writable): number | undefined {
  const fd = (stream as { fd?: unknown }).fd;
  return typeof fd === 'number' ? fd : undefined;
}
