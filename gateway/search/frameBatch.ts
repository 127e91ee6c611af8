/**
 * A batch of recorded frames on its way to the search-text worker, laid out so that posting
 * it costs the proxy's thread a transfer and no structured clone per frame: each frame's
 * numbers (session, seq, time, channel, kind, length, gap) are a row of a Float64Array and
 * its data lies in one byte buffer, both transferred; sessions and kinds are named once per
 * batch. A PostgreSQL session sends a frame per socket read, so at thousands of transactions
 * a second an object per frame cloned on one thread and rebuilt on the other was a measurable
 * part of the feed (DESIGN.md, "Search index written where it is derived").
 */
import type { DerivableFrame } from './recordingTextDeriver.ts';

/** What the worker receives (recordingTextWorker.ts). */
export interface FrameBatchMessage {
  sessions: string[];
  kinds: string[];
  /** FIELDS numbers per frame, in the order of FIELD. */
  numbers: ArrayBuffer;
  /** The frames' data, one after the other. */
  data: ArrayBuffer;
}

const FIELD = { session: 0, seq: 1, time: 2, channel: 3, kind: 4, length: 5, gap: 6 } as const;
const FIELDS = 7;

/** Builds one batch on the proxy's thread; the frame's data is copied in at `add`. */
export class FrameBatchBuilder {
  private numbers: number[] = [];
  private data: Uint8Array[] = [];
  private sessions = new Map<string, number>();
  private kinds = new Map<string, number>();
  /** Data bytes held. */
  bytes = 0;

  get empty(): boolean {
    return this.numbers.length === 0;
  }

  /** `gap`: frames of this session were left out just before this one. */
  add(sessionId: string, frame: DerivableFrame, gap: boolean): void {
    this.numbers.push(
      indexOf(this.sessions, sessionId),
      frame.seq,
      frame.time,
      frame.channel,
      indexOf(this.kinds, frame.kind),
      frame.data.length,
      gap ? 1 : 0,
    );
    // A copy: the recorder's data belongs to the proxy and is valid only during this call.
    if (frame.data.length > 0) this.data.push(new Uint8Array(frame.data));
    this.bytes += frame.data.length;
  }

  /** The batch as a message and what to transfer with it; the builder starts empty again. */
  take(): { message: FrameBatchMessage; transfer: ArrayBuffer[] } {
    const numbers = Float64Array.from(this.numbers);
    const data = new Uint8Array(this.bytes);
    let offset = 0;
    for (const chunk of this.data) {
      data.set(chunk, offset);
      offset += chunk.length;
    }
    const message: FrameBatchMessage = {
      sessions: [...this.sessions.keys()],
      kinds: [...this.kinds.keys()],
      numbers: numbers.buffer,
      data: data.buffer,
    };
    this.clear();
    return { message, transfer: [message.numbers, message.data] };
  }

  clear(): void {
    this.numbers = [];
    this.data = [];
    this.sessions = new Map();
    this.kinds = new Map();
    this.bytes = 0;
  }
}

/** The frames of a batch, in order, on the worker; `data` is a view into the batch's buffer. */
export function* framesOf(
  batch: FrameBatchMessage,
): Generator<{ sessionId: string; frame: DerivableFrame; gap: boolean }> {
  const numbers = new Float64Array(batch.numbers);
  const bytes = new Uint8Array(batch.data);
  let offset = 0;
  for (let row = 0; row < numbers.length; row += FIELDS) {
    const length = numbers[row + FIELD.length] as number;
    yield {
      sessionId: batch.sessions[numbers[row + FIELD.session] as number] as string,
      frame: {
        seq: numbers[row + FIELD.seq] as number,
        time: numbers[row + FIELD.time] as number,
        channel: numbers[row + FIELD.channel] as number,
        kind: batch.kinds[numbers[row + FIELD.kind] as number] as DerivableFrame['kind'],
        data: bytes.subarray(offset, offset + length),
      },
      gap: numbers[row + FIELD.gap] === 1,
    };
    offset += length;
  }
}

function indexOf(names: Map<string, number>, name: string): number {
  let index = names.get(name);
  if (index === undefined) {
    index = names.size;
    names.set(name, index);
  }
  return index;
}
