/**
 * pumpChunks: every chunk in order, the stream paused while the callback's promise is pending,
 * an early stop, and each way a download can end badly.
 */
import { PassThrough } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { pumpChunks, STOP_READING } from './chunkPump.ts';

function streamOf(...chunks: string[]): PassThrough {
  const stream = new PassThrough();
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  return stream;
}

describe('pumpChunks', () => {
  it('hands over every chunk in order and resolves at the end', async () => {
    const seen: string[] = [];
    await pumpChunks(streamOf('a', 'b', 'c'), (chunk) => {
      seen.push(chunk.toString());
      return undefined;
    });
    expect(seen.join('')).toBe('abc');
  });

  it('reads nothing more while the promise the callback returned is pending', async () => {
    const stream = new PassThrough();
    const seen: string[] = [];
    let release!: () => void;
    const pumped = pumpChunks(stream, (chunk) => {
      seen.push(chunk.toString());
      if (seen.length > 1) return undefined;
      return new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    stream.write('first');
    await turn();
    stream.write('second');
    stream.end();
    for (let i = 0; i < 5; i++) await turn();
    expect(seen).toEqual(['first']);
    expect(stream.isPaused()).toBe(true);
    release();
    await pumped;
    expect(seen).toEqual(['first', 'second']);
  });

  it('stops at STOP_READING without reading the rest', async () => {
    const stream = new PassThrough();
    stream.write('one');
    const seen: string[] = [];
    await pumpChunks(stream, (chunk) => {
      seen.push(chunk.toString());
      return STOP_READING;
    });
    expect(stream.isPaused()).toBe(true);
    stream.write('two');
    await turn();
    expect(seen).toEqual(['one']);
    expect(stream.readableEnded).toBe(false);
    stream.destroy();
  });

  it("rejects with the stream's error", async () => {
    const stream = new PassThrough();
    const pumped = pumpChunks(stream, () => undefined);
    stream.destroy(new Error('connection reset'));
    await expect(pumped).rejects.toThrow('connection reset');
  });

  it('rejects when the stream closes before its end', async () => {
    const stream = new PassThrough();
    const pumped = pumpChunks(stream, () => undefined);
    stream.write('partial');
    await turn();
    stream.destroy();
    await expect(pumped).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('rejects with what the callback threw, or the rejection it returned', async () => {
    await expect(
      pumpChunks(streamOf('x'), () => {
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    await expect(
      pumpChunks(streamOf('x', 'y'), () => Promise.reject(new Error('write failed'))),
    ).rejects.toThrow('write failed');
  });
});
