/**
 * Reads the text of indexed events back from the recording file. Each event is decoded on its
 * own, the way a streaming UTF-8 decoder would have split the stream: continuation bytes at
 * its start belong to the previous event of the same stream (they were decoded with it), and a
 * character cut off at its end is completed with the next event's first bytes. So any window
 * of events decodes to the same characters as the whole stream, which is what lets a seek
 * start anywhere.
 */
import type { FileHandle } from 'node:fs/promises';
import { EV_INPUT, type TerminalEvents } from './recordingIndex.ts';

const decoder = new TextDecoder('utf-8');

export class EventTextReader {
  constructor(
    private readonly file: FileHandle,
    private readonly events: TerminalEvents,
  ) {}

  /** The text of events [from, to) (resizes and exits give ''). */
  async texts(from: number, to: number): Promise<string[]> {
    const e = this.events;
    if (to <= from) return [];
    let start = Number.POSITIVE_INFINITY;
    let end = 0;
    for (let i = from; i < to; i++) {
      if (e.kind[i]! > EV_INPUT || e.length[i] === 0) continue;
      start = Math.min(start, e.offset[i]!);
      end = Math.max(end, e.offset[i]! + e.length[i]!);
    }
    if (end === 0) return new Array<string>(to - from).fill('');
    const span = await this.read(start, end - start);
    const out: string[] = [];
    for (let i = from; i < to; i++) {
      if (e.kind[i]! > EV_INPUT || e.length[i] === 0) {
        out.push('');
        continue;
      }
      const at = e.offset[i]! - start;
      out.push(await this.decode(i, span.subarray(at, at + e.length[i]!)));
    }
    return out;
  }

  private async decode(position: number, bytes: Buffer): Promise<string> {
    let skip = 0;
    while (skip < 3 && skip < bytes.length && (bytes[skip]! & 0xc0) === 0x80) skip++;
    let body = bytes.subarray(skip);
    // A character cut off at the end is completed from the next events of the same stream
    // (a 4-byte character can be spread over up to four 1-byte frames).
    let missing = incompleteTail(body);
    let next = this.events.next[position]!;
    const borrowed: Buffer[] = [];
    while (missing > 0 && next >= 0) {
      const piece = await this.read(
        this.events.offset[next]!,
        Math.min(missing, this.events.length[next]!),
      );
      let take = 0;
      while (take < piece.length && (piece[take]! & 0xc0) === 0x80) take++;
      borrowed.push(piece.subarray(0, take));
      missing -= take;
      // Stop at anything but continuation bytes, or once the next event is not all of them.
      if (take === 0 || take < this.events.length[next]!) break;
      next = this.events.next[next]!;
    }
    if (borrowed.length > 0) body = Buffer.concat([body, ...borrowed]);
    return decoder.decode(body);
  }

  private async read(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.file.read(buffer, done, length - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return buffer.subarray(0, done);
  }
}

/** How many continuation bytes the last character of `bytes` still lacks (0: complete). */
export function incompleteTail(bytes: Uint8Array): number {
  for (let back = 1; back <= Math.min(4, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue;
    const needs = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needs > back ? needs - back : 0;
  }
  return 0;
}
