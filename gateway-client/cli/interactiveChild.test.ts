/**
 * runInteractiveChild with stop signals, on real child processes: a signal is passed on, a
 * child that ignores it is killed, and a signal that came first means no child at all.
 */
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runInteractiveChild } from './interactiveChild.ts';
import { type SignalSource, StopSignals } from './stopSignals.ts';

function pipes() {
  const stdout = new PassThrough();
  let text = '';
  stdout.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  return {
    io: { stdin: new PassThrough(), stdout, stderr: new PassThrough() },
    output: () => text,
  };
}

const notInstalled = () => new Error('not installed');
/** A node child that says it is ready, then reports SIGTERM/SIGHUP/SIGINT with an exit code. */
const reporting = `
for (const [signal, code] of [['SIGTERM', 15], ['SIGHUP', 11], ['SIGINT', 12]]) {
  process.on(signal, () => process.exit(code));
}
process.stdout.write('ready\\n');
setInterval(() => {}, 1000);`;

async function whenReady(output: () => string) {
  while (!output().includes('ready')) await new Promise((resolve) => setTimeout(resolve, 20));
}

describe('runInteractiveChild with stop signals', () => {
  for (const [signal, code] of [
    ['SIGTERM', 15],
    ['SIGHUP', 11],
    ['SIGINT', 12],
  ] as const) {
    it(`passes ${signal} on to the child`, async () => {
      const source = new EventEmitter();
      const stop = new StopSignals(source as SignalSource);
      const { io, output } = pipes();
      const running = runInteractiveChild(
        process.execPath,
        ['-e', reporting],
        process.env,
        io,
        notInstalled,
        { stop },
      );
      await whenReady(output);
      source.emit(signal, signal);
      expect(await running).toBe(code);
      expect(stop.received).toBe(signal);
      stop.dispose();
      expect(source.listenerCount(signal)).toBe(0);
    });
  }

  it('kills a child that ignores the signal after killAfterMs', async () => {
    const source = new EventEmitter();
    const stop = new StopSignals(source as SignalSource);
    const { io, output } = pipes();
    const started = Date.now();
    const running = runInteractiveChild(
      process.execPath,
      [
        '-e',
        "process.on('SIGTERM', () => {}); process.stdout.write('ready\\n'); setInterval(() => {}, 1000);",
      ],
      process.env,
      io,
      notInstalled,
      { stop, killAfterMs: 200 },
    );
    await whenReady(output);
    source.emit('SIGTERM', 'SIGTERM');
    expect(await running).toBe(128 + 9);
    expect(Date.now() - started).toBeLessThan(5_000);
    stop.dispose();
  });

  it('starts nothing when a stop signal came first', async () => {
    const source = new EventEmitter();
    const stop = new StopSignals(source as SignalSource);
    source.emit('SIGHUP', 'SIGHUP');
    const { io } = pipes();
    const code = await runInteractiveChild('/nonexistent/program', [], {}, io, notInstalled, {
      stop,
    });
    expect(code).toBe(128 + 1);
    stop.dispose();
  });
});
