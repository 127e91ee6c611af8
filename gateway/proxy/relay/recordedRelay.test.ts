import { PassThrough, Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { flushed, RecordedRelay } from './recordedRelay.ts';

/** A sink that remembers what it got and, when told, stops draining (a slow client). */
function sink(options: { highWaterMark?: number; slow?: boolean } = {}) {
  const written: Buffer[] = [];
  let release: (() => void) | undefined;
  const stream = new Writable({
    highWaterMark: options.highWaterMark ?? 16,
    write(chunk: Buffer, _encoding, callback) {
      written.push(chunk);
      if (options.slow) release = callback;
      else callback();
    },
  });
  return {
    stream,
    written,
    text: () => Buffer.concat(written).toString(),
    release: () => {
      const next = release;
      release = undefined;
      next?.();
    },
  };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('RecordedRelay', () => {
  it('writes each chunk only after its own append resolved, in order', async () => {
    const source = new PassThrough();
    const out = sink();
    const recorded: string[] = [];
    const pending: Array<() => void> = [];
    const pipe = new RecordedRelay({
      source,
      sink: out.stream,
      record: (chunk) =>
        new Promise<void>((resolve) =>
          pending.push(() => {
            recorded.push(chunk.toString());
            resolve();
          }),
        ),
      onRecordFailure: () => {},
    });
    source.write('a');
    source.write('b');
    source.end('c');
    await tick();
    expect(out.written).toEqual([]);
    // Appends complete out of order; forwarding still waits and keeps order.
    pending[1]!();
    await tick();
    expect(out.written).toEqual([]);
    pending[0]!();
    await tick();
    expect(out.text()).toBe('ab');
    pending[2]!();
    expect(await pipe.done).toBe('ended');
    expect(out.text()).toBe('abc');
    expect(recorded).toEqual(['b', 'a', 'c']);
  });

  it('stops at the first failed append: nothing from there on is forwarded', async () => {
    const source = new PassThrough();
    const out = sink();
    const failures: unknown[] = [];
    let count = 0;
    const pipe = new RecordedRelay({
      source,
      sink: out.stream,
      record: async () => {
        count += 1;
        if (count === 3) throw new Error('disk full');
      },
      onRecordFailure: (error) => failures.push(error),
    });
    for (const chunk of ['1', '2', '3', '4', '5']) source.write(chunk);
    expect(await pipe.done).toBe('aborted');
    await tick();
    expect(out.text()).toBe('12');
    expect(failures).toHaveLength(1);
    expect(source.isPaused()).toBe(true);
  });

  it('pauses the source while the sink is full, and resumes on drain', async () => {
    const source = new PassThrough({ highWaterMark: 16 });
    const out = sink({ highWaterMark: 4, slow: true });
    const pipe = new RecordedRelay({
      source,
      sink: out.stream,
      record: async () => {},
      onRecordFailure: () => {},
    });
    source.write('first-chunk');
    await tick();
    await tick();
    expect(source.isPaused()).toBe(true);
    source.write('second');
    await tick();
    expect(out.text()).toBe('first-chunk');
    out.release();
    await tick();
    await tick();
    expect(out.text()).toBe('first-chunksecond');
    out.release();
    source.end();
    expect(await pipe.done).toBe('ended');
  });

  it('keeps memory bounded when the recorder is slower than the source', async () => {
    let produced = 0;
    const chunk = Buffer.alloc(64 * 1024);
    const total = 32 * 1024 * 1024;
    const source = new Readable({
      highWaterMark: 64 * 1024,
      read() {
        if (produced >= total) {
          this.push(null);
          return;
        }
        produced += chunk.length;
        this.push(chunk);
      },
    });
    let inRecorder = 0;
    let maxInRecorder = 0;
    let forwarded = 0;
    const pipe = new RecordedRelay({
      source,
      sink: new Writable({
        write(data: Buffer, _encoding, callback) {
          forwarded += data.length;
          callback();
        },
      }),
      record: async (data) => {
        inRecorder += data.length;
        maxInRecorder = Math.max(maxInRecorder, inRecorder);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inRecorder -= data.length;
      },
      onRecordFailure: () => {},
      highWaterMark: 1024 * 1024,
    });
    expect(await pipe.done).toBe('ended');
    expect(forwarded).toBe(total);
    // Never more than the high-water mark (plus the chunk that crossed it) waits for the recorder.
    expect(maxInRecorder).toBeLessThanOrEqual(1024 * 1024 + chunk.length);
  });

  it('applies a control message after the data before it, recorded in between', async () => {
    const source = new PassThrough();
    const out = sink();
    const log: string[] = [];
    const pipe = new RecordedRelay({
      source,
      sink: out.stream,
      record: async (data) => {
        log.push(`record ${data}`);
      },
      onRecordFailure: () => {},
    });
    source.write('ls;');
    await tick();
    pipe.control(
      async () => {
        log.push('record resize');
      },
      () => log.push(`resize after "${out.text()}"`),
    );
    source.end('x');
    await pipe.done;
    await tick();
    // Recorded in arrival order; applied once "ls;" (and not yet "x") was written.
    expect(log.filter((line) => line.startsWith('record'))).toEqual([
      'record ls;',
      'record resize',
      'record x',
    ]);
    expect(log).toContain('resize after "ls;"');
    expect(out.text()).toBe('ls;x');
  });

  it('flushed() waits for earlier writes to complete', async () => {
    const out = sink({ highWaterMark: 1024, slow: true });
    out.stream.write('pending');
    let done = false;
    void flushed(out.stream).then(() => {
      done = true;
    });
    await tick();
    expect(done).toBe(false);
    out.release();
    await tick();
    out.release(); // the zero-length marker write
    await tick();
    expect(done).toBe(true);
    await expect(flushed(out.stream)).resolves.toBeUndefined();
  });

  it("with untilSent, counts bytes in the sink's buffer against the budget (pty output, issue #5)", async () => {
    // A sink with a big buffer that sends nothing (a client whose SSH window is closed).
    const run = async (untilSent: boolean) => {
      const source = new PassThrough();
      const out = sink({ highWaterMark: 1024 * 1024, slow: true });
      new RecordedRelay({
        source,
        sink: out.stream,
        record: async () => {},
        onRecordFailure: () => {},
        highWaterMark: 1000,
        untilSent,
      });
      for (let i = 0; i < 20; i++) {
        source.write(Buffer.alloc(100));
        await tick();
      }
      return { source, out, paused: source.isPaused() };
    };
    // Without it the sink's 1 MiB buffer takes everything and the source keeps flowing.
    expect((await run(false)).paused).toBe(false);
    const limited = await run(true);
    expect(limited.paused).toBe(true);
    // Sending frees the budget: the source flows again once a quarter of it is left.
    for (let i = 0; i < 20 && limited.source.isPaused(); i++) {
      limited.out.release();
      await tick();
    }
    expect(limited.source.isPaused()).toBe(false);
  });
});
