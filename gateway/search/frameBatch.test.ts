/**
 * A batch crosses to the worker as two transferred buffers and two name lists: every frame
 * comes out as it went in, in order, with its data copied at `add` (the proxy reuses its
 * buffers once the append settles).
 */
import { describe, expect, it } from 'vitest';
import { FrameBatchBuilder, framesOf } from './frameBatch.ts';

describe('FrameBatchBuilder', () => {
  it('hands the worker every frame of every session in order, gaps and empty frames included', () => {
    const builder = new FrameBatchBuilder();
    const first = Buffer.from('Q\0\0\0\x0dSELECT 1\0');
    builder.add(
      'ses_a',
      { seq: 1, time: 1_700_000_000_123, channel: 0, kind: 'p', data: first },
      false,
    );
    builder.add(
      'ses_b',
      { seq: 7, time: 1_700_000_000_124, channel: 2, kind: 'o', data: Buffer.alloc(0) },
      true,
    );
    builder.add(
      'ses_a',
      { seq: 2, time: 1_700_000_000_125, channel: 0, kind: 'P', data: Buffer.from('Z\0\0\0\x05I') },
      false,
    );
    first.fill(0); // reused by the proxy after the call
    expect(builder.bytes).toBe(first.length + 6);

    const { message, transfer } = builder.take();
    expect(transfer).toEqual([message.numbers, message.data]);
    expect(builder.empty).toBe(true);
    expect(builder.bytes).toBe(0);
    const frames = [...framesOf(structuredClone(message, { transfer }))].map(
      ({ sessionId, frame, gap }) => ({
        sessionId,
        gap,
        ...frame,
        data: Buffer.from(frame.data).toString('latin1'),
      }),
    );
    expect(frames).toEqual([
      {
        sessionId: 'ses_a',
        gap: false,
        seq: 1,
        time: 1_700_000_000_123,
        channel: 0,
        kind: 'p',
        data: 'Q\0\0\0\x0dSELECT 1\0',
      },
      {
        sessionId: 'ses_b',
        gap: true,
        seq: 7,
        time: 1_700_000_000_124,
        channel: 2,
        kind: 'o',
        data: '',
      },
      {
        sessionId: 'ses_a',
        gap: false,
        seq: 2,
        time: 1_700_000_000_125,
        channel: 0,
        kind: 'P',
        data: 'Z\0\0\0\x05I',
      },
    ]);
  });

  it('starts each batch with its own names', () => {
    const builder = new FrameBatchBuilder();
    builder.add('ses_a', { seq: 1, time: 1, channel: 0, kind: 'o', data: Buffer.from('x') }, false);
    builder.take();
    builder.add('ses_b', { seq: 1, time: 2, channel: 0, kind: 'i', data: Buffer.from('y') }, false);
    const { message } = builder.take();
    expect(message.sessions).toEqual(['ses_b']);
    expect([...framesOf(message)].map((f) => [f.sessionId, f.frame.kind])).toEqual([
      ['ses_b', 'i'],
    ]);
  });
});
