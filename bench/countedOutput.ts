/**
 * Runs a command and counts the bytes it prints, for the benches that check a transfer
 * arrived whole. The count is taken when the child's output pipes have *closed*, not when the
 * process exited: Node emits 'exit' as soon as the child is reaped, while up to a socket
 * buffer of its last output (~200 KB) can still be unread — with a busy event loop (100
 * concurrent `ssh` children) 'exit' came first for most of them, and counting then made whole
 * sessions look ~160 KB short (countedOutput.test.ts).
 */
import { spawn } from 'node:child_process';

export interface CountedOutput {
  /** Exit code (null when killed by a signal). */
  code: number | null;
  /** Bytes read from stdout, all of them. */
  bytes: number;
  stderr: string;
}

export function runCountingOutput(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CountedOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    // 'close', not 'exit': it comes after the last byte of stdout and stderr was read.
    child.on('close', (code) => resolve({ code, bytes, stderr }));
  });
}
