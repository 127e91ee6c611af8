/**
 * A renewal is not cut in half by Ctrl+C or `kill` (issue #12): a real process holding the
 * renewal lock gets SIGINT / SIGTERM mid-renewal, finishes storing its work, and only then ends
 * by that signal, as it would have without the renewal.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const work = mkdtempSync(path.join(os.tmpdir(), 'witness-signals-held-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const lockModule = new URL('./renewalLock.ts', import.meta.url).href;

/** A process that renews under the lock: says `renewing`, waits 600 ms, stores `stored`. */
function renewingProcess(name: string) {
  const stored = path.join(work, `${name}.stored`);
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `const { fileRenewalLock } = await import(${JSON.stringify(lockModule)});
       const { writeFileSync } = await import('node:fs');
       await fileRenewalLock(${JSON.stringify(path.join(work, name, 'lock'))}).hold(async () => {
         console.log('renewing');
         await new Promise((resolve) => setTimeout(resolve, 600));
         writeFileSync(${JSON.stringify(stored)}, 'new token');
       });
       console.log('done');
       setInterval(() => {}, 1000); // would live on: only the held signal ends it`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() },
  );
  const renewing = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('renewing')) resolve();
    });
    child.once('exit', (code, signal) =>
      reject(new Error(`exited before renewing (code ${code}, signal ${signal})`)),
    );
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  return { child, stored, renewing, exited };
}

describe('withStopSignalsHeld (through the renewal lock)', () => {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`holds ${signal} until the renewal has stored its work, then ends by it`, async () => {
      const renewal = renewingProcess(signal);
      await renewal.renewing;
      renewal.child.kill(signal);
      const endedBy = await renewal.exited;
      expect(existsSync(renewal.stored)).toBe(true);
      expect(readFileSync(renewal.stored, 'utf8')).toBe('new token');
      expect(endedBy).toBe(signal);
    }, 30_000);
  }
});
