import { afterEach, describe, expect, it, vi } from 'vitest';
import { OutputBatcher } from './outputBatcher.ts';

function recorder(options: ConstructorParameters<typeof OutputBatcher>[1] = {}) {
  const batches: Array<{ data: string; bytes: number }> = [];
  const flow: string[] = [];
  const batcher = new OutputBatcher(
    {
      emit: (data, bytes) => batches.push({ data, bytes }),
      pause: () => flow.push('pause'),
      resume: () => flow.push('resume'),
    },
    options,
  );
  return { batcher, batches, flow };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('OutputBatcher', () => {
  it('keeps a multi-byte character split across chunks intact', () => {
    const { batcher, batches } = recorder();
    const text = 'héllo → 世界 🎉';
    const bytes = Buffer.from(text, 'utf8');
    // Split inside every multi-byte sequence: one byte at a time.
    for (let i = 0; i < bytes.length; i++) batcher.push('stdout', bytes.subarray(i, i + 1));
    batcher.finish();
    expect(batches.map((b) => b.data).join('')).toBe(text);
    expect(batches.reduce((sum, b) => sum + b.bytes, 0)).toBe(bytes.length);
    expect(batches.join('')).not.toContain('\ufffd');
  });

  it('batches by time: many small chunks become one event', () => {
    vi.useFakeTimers();
    const { batcher, batches } = recorder({ flushIntervalMs: 8 });
    for (let i = 0; i < 100; i++) batcher.push('stdout', Buffer.from(`${i}\n`));
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(8);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.data.split('\n')).toHaveLength(101);
  });

  it('flushes at the batch size without waiting for the timer', () => {
    vi.useFakeTimers();
    const { batcher, batches } = recorder({ maxBatchBytes: 1024 });
    batcher.push('stdout', Buffer.alloc(1500, 'a'));
    expect(batches).toHaveLength(1);
    expect(batches[0]?.bytes).toBe(1500);
  });

  it('pauses above high water and resumes at low water, in order and without loss', () => {
    const { batcher, batches, flow } = recorder({
      maxBatchBytes: 100,
      highWaterBytes: 1000,
      lowWaterBytes: 200,
    });
    for (let i = 0; i < 9; i++) batcher.push('stdout', Buffer.alloc(100, 48 + i));
    expect(flow).toEqual([]);
    batcher.push('stdout', Buffer.alloc(100, 57));
    expect(flow).toEqual(['pause']);
    expect(batcher.unackedBytes).toBe(1000);
    batcher.ack(700);
    expect(flow).toEqual(['pause']);
    batcher.ack(100);
    expect(flow).toEqual(['pause', 'resume']);
    expect(batches.map((b) => b.data[0]).join('')).toBe('0123456789');
  });

  it('holds the bytes of an incomplete character until it completes', () => {
    const { batcher, batches } = recorder({ maxBatchBytes: 1 });
    const euro = Buffer.from('€', 'utf8');
    batcher.push('stdout', euro.subarray(0, 2));
    expect(batches).toHaveLength(0);
    batcher.push('stdout', euro.subarray(2));
    expect(batches).toEqual([{ data: '€', bytes: 3 }]);
  });

  it('decodes stdout and stderr separately', () => {
    const { batcher, batches } = recorder({ maxBatchBytes: 1 });
    const e = Buffer.from('é', 'utf8');
    batcher.push('stdout', e.subarray(0, 1));
    batcher.push('stderr', Buffer.from('x'));
    batcher.push('stdout', e.subarray(1));
    expect(batches.map((b) => b.data).join('')).toBe('xé');
  });

  it('ignores acks beyond what was sent and output after finish', () => {
    const { batcher, batches } = recorder({ maxBatchBytes: 1 });
    batcher.push('stdout', Buffer.from('ab'));
    batcher.ack(10_000);
    expect(batcher.unackedBytes).toBe(0);
    batcher.finish();
    batcher.push('stdout', Buffer.from('late'));
    expect(batches.map((b) => b.data).join('')).toBe('ab');
  });

  it('refuses a low water mark above the high water mark', () => {
    expect(() => recorder({ highWaterBytes: 10, lowWaterBytes: 20 })).toThrow(/lowWaterBytes/);
  });
});
