/**
 * The renewal lock with real lock directories: holders wait for each other, a failed renewal
 * still releases it, a lock left by a SIGKILLed process is taken over once stale, and a live
 * holder past the wait gives an error that says what to do.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileRenewalLock, RenewalLockTimeoutError } from './renewalLock.ts';

const work = mkdtempSync(path.join(os.tmpdir(), 'witness-renewal-lock-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
};

describe('fileRenewalLock', () => {
  it('lets one holder at a time in, the next one as soon as it is released', async () => {
    const lockPath = path.join(work, 'serial', 'renewal-a');
    const first = fileRenewalLock(lockPath);
    const second = fileRenewalLock(lockPath);
    const order: string[] = [];
    const letGo = deferred();
    const entered = deferred();
    const one = first.hold(async () => {
      order.push('first in');
      entered.resolve();
      await letGo.promise;
      order.push('first out');
      return 1;
    });
    await entered.promise;
    const two = second.hold(async () => {
      order.push('second in');
      return 2;
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(order).toEqual(['first in']);
    expect(existsSync(`${lockPath}.lock`)).toBe(true);
    letGo.resolve();
    expect(await Promise.all([one, two])).toEqual([1, 2]);
    expect(order).toEqual(['first in', 'first out', 'second in']);
    expect(existsSync(`${lockPath}.lock`)).toBe(false);
  });

  it('releases the lock when the work fails', async () => {
    const lockPath = path.join(work, 'failing', 'renewal-b');
    const lock = fileRenewalLock(lockPath, { waitMs: 1_000 });
    await expect(
      lock.hold(async () => {
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(existsSync(`${lockPath}.lock`)).toBe(false);
    expect(await lock.hold(async () => 'again')).toBe('again');
  });

  it('takes over a lock whose holder was killed, once it is stale', async () => {
    const lockPath = path.join(work, 'killed', 'renewal-c');
    const staleMs = 2_000;
    // Another process takes the lock (the same library, as the lock's format is its own) and
    // is SIGKILLed while holding it: nothing runs its exit handlers.
    const library = createRequire(import.meta.url).resolve('proper-lockfile');
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `require('node:fs').mkdirSync(${JSON.stringify(path.dirname(lockPath))}, { recursive: true });
         require(${JSON.stringify(library)})
           .lock(${JSON.stringify(lockPath)}, { realpath: false, stale: ${staleMs} })
           .then(() => { console.log('held'); setInterval(() => {}, 1000); });`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (chunk: Buffer) => {
        if (chunk.toString().includes('held')) resolve();
      });
      holder.once('exit', () => reject(new Error('the holder exited before taking the lock')));
    });
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    holder.kill('SIGKILL');
    await exited;
    expect(existsSync(`${lockPath}.lock`)).toBe(true);
    // The holder's last sign of life: the lock is stale `staleMs` after it.
    const lastTouched = statSync(`${lockPath}.lock`).mtimeMs;

    const started = Date.now();
    const takenAt = await fileRenewalLock(lockPath, { staleMs, waitMs: 20_000 }).hold(async () =>
      Date.now(),
    );
    // Not before it went stale (a live holder's lock is respected), and soon after.
    expect(takenAt).toBeGreaterThanOrEqual(Math.floor(lastTouched) + staleMs);
    expect(takenAt - started).toBeLessThan(staleMs + 5_000);
  }, 30_000);

  it('gives up on a live holder after the wait, saying what to do', async () => {
    const lockPath = path.join(work, 'live', 'renewal-d');
    const letGo = deferred();
    const entered = deferred();
    const holding = fileRenewalLock(lockPath).hold(async () => {
      entered.resolve();
      await letGo.promise;
    });
    await entered.promise;
    const waiting = fileRenewalLock(lockPath, { waitMs: 400 }).hold(async () => 'never');
    await expect(waiting).rejects.toThrow(RenewalLockTimeoutError);
    await expect(waiting).rejects.toThrow(/another process has been renewing this sign-in/);
    letGo.resolve();
    await holding;
  });
});
