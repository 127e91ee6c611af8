import { spawn } from 'node:child_process';
import os from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { type StopSignals, signalExitCode } from './stopSignals.ts';

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
 *
 * With `stop`, every stop signal this process gets (SIGINT, SIGTERM, SIGHUP) is passed on to the
 * child, and a child still running `killAfterMs` after the first one is killed: the caller then
 * removes its files and ends the session, which an orphaned client would keep open. A signal
 * that came before the child was started means it is not started (128 + the signal's number).
 * A SIGINT from a terminal reaches the child twice (the terminal signals the whole foreground
 * group): ssh exits on either, psql's second cancel request finds nothing left to cancel.
 */
export function runInteractiveChild(
  program: string,
  args: string[],
  env: Record<string, string | undefined>,
  io: ChildStdio,
  notInstalled: () => Error,
  options: { stop?: StopSignals; killAfterMs?: number } = {},
): Promise<number> {
  const { stop, killAfterMs = 3_000 } = options;
  if (stop?.received) return Promise.resolve(signalExitCode(stop.received));
  const fds = [fdOf(io.stdin), fdOf(io.stdout), fdOf(io.stderr)];
  const inherit = fds.every((fd) => fd !== undefined);
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      env,
      stdio: inherit ? (fds as number[]) : ['pipe', 'pipe', 'pipe'],
    });
    // Without `stop`, on a terminal, Ctrl-C belongs to the client (ssh forwards it, psql cancels
    // the query); this process just waits for it to finish.
    const ignore = () => {};
    if (inherit && !stop) process.on('SIGINT', ignore);
    let killTimer: NodeJS.Timeout | undefined;
    const unsubscribe = stop?.onStop((signal) => {
      child.kill(signal);
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    });
    const stopIgnoring = () => {
      if (inherit && !stop) process.off('SIGINT', ignore);
      unsubscribe?.();
      clearTimeout(killTimer);
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
