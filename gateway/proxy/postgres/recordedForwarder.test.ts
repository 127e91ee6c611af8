import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { OutgoingBatch, RecordedForwarder } from './recordedForwarder.ts';

function deferred(): { promise: Promise<void>; resolve(): void; reject(error: Error): void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function collectingSink(options: { highWaterMark?: number } = {}) {
  const written: string[] = [];
  let release: (() => void) | undefined;
  const sink = new Writable({
    highWaterMark: options.highWaterMark ?? 16 * 1024,
    writev(chunks, callback) {
      written.push(chunks.map((c) => String(c.chunk)).join(''));
      if (options.highWaterMark !== undefined) release = callback;
      else callback();
    },
    write(chunk, _encoding, callback) {
      written.push(String(chunk));
      if (options.highWaterMark !== undefined) release = callback;
      else callback();
    },
  });
  return { sink, written, release: () => release?.() };
}

describe('RecordedForwarder', () => {
  it('writes each batch only after its recording, in order', async () => {
    const { sink, written } = collectingSink();
    const forwarder = new RecordedForwarder({ sink, onRecordFailure: () => {} });
    const first = deferred();
    const second = deferred();
    forwarder.send([Buffer.from('a')], first.promise);
    forwarder.send([Buffer.from('b'), Buffer.from('c')], second.promise);
    second.resolve();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(written).toEqual([]);
    first.resolve();
    await forwarder.idle();
    expect(written.join('')).toBe('abc');
  });

  it('stops for good when a recording fails: nothing after it is written', async () => {
    const { sink, written } = collectingSink();
    const failures: unknown[] = [];
    const forwarder = new RecordedForwarder({ sink, onRecordFailure: (e) => failures.push(e) });
    const failing = deferred();
    forwarder.send([Buffer.from('ok')], Promise.resolve());
    forwarder.send([Buffer.from('lost')], failing.promise);
    forwarder.send([Buffer.from('after')], Promise.resolve());
    failing.reject(new Error('disk full'));
    await forwarder.idle();
    expect(written).toEqual(['ok']);
    expect(failures).toHaveLength(1);
    expect(forwarder.isAborted).toBe(true);
  });

  it('pauses its source while it is behind and resumes it once it caught up', async () => {
    const { sink, release } = collectingSink({ highWaterMark: 1 });
    const source = new PassThrough();
    source.on('data', () => {});
    const forwarder = new RecordedForwarder({
      sink,
      onRecordFailure: () => {},
      highWaterMark: 4096,
    });
    forwarder.setSource(source);
    let roomCalls = 0;
    forwarder.send([Buffer.alloc(10)], Promise.resolve());
    await new Promise((resolve) => setTimeout(resolve, 5));
    // The sink's buffer is full (write() returned false): the source waits.
    expect(source.isPaused()).toBe(true);
    expect(forwarder.hasRoom).toBe(false);
    forwarder.whenRoom(() => {
      roomCalls += 1;
    });
    release();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(source.isPaused()).toBe(false);
    expect(forwarder.hasRoom).toBe(true);
    expect(roomCalls).toBe(1);
  });

  it('joins messages that lie back to back in one chunk into one view, without copying', () => {
    const chunk = Buffer.from('QQQQQDDDDDZZ');
    const batch = new OutgoingBatch();
    batch.forward(chunk.subarray(0, 5));
    batch.forward(chunk.subarray(5, 10));
    batch.add(Buffer.from('masked'));
    batch.forward(chunk.subarray(10, 12));
    const sent: Buffer[][] = [];
    batch.sendTo({
      send: (buffers: Buffer[]) => sent.push(buffers),
    } as unknown as RecordedForwarder);
    expect(sent[0]!.map(String)).toEqual(['QQQQQDDDDD', 'masked', 'ZZ']);
    expect(sent[0]![0]!.buffer).toBe(chunk.buffer);
  });
});
