import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EventTextReader, incompleteTail } from './eventText.ts';
import {
  EV_INPUT,
  EV_OUTPUT,
  EV_RESIZE,
  emptyTerminalEvents,
  type TerminalEvents,
} from './recordingIndex.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-event-text-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Lays the pieces out in a file with junk between them, as frames lie between record heads. */
async function reader(pieces: { kind: number; bytes: Buffer }[]) {
  const parts: Buffer[] = [];
  const events: TerminalEvents = emptyTerminalEvents();
  let at = 0;
  const last = new Map<number, number>();
  for (const [i, piece] of pieces.entries()) {
    parts.push(Buffer.from('##HEAD##'));
    at += 8;
    events.seq.push(i + 1);
    events.t.push(i);
    events.kind.push(piece.kind);
    events.offset.push(at);
    events.length.push(piece.bytes.length);
    events.next.push(-1);
    events.cols.push(0);
    events.rows.push(0);
    const previous = last.get(piece.kind);
    if (previous !== undefined) events.next[previous] = i;
    last.set(piece.kind, i);
    events.count++;
    parts.push(piece.bytes);
    at += piece.bytes.length;
  }
  const file = path.join(dir, `f${Math.random()}`);
  writeFileSync(file, Buffer.concat(parts));
  return new EventTextReader(await open(file, 'r'), events);
}

describe('EventTextReader', () => {
  it('decodes any window as the whole stream decodes, characters split across frames included', async () => {
    const text = 'a☕b😀c日本';
    const bytes = Buffer.from(text);
    // Every byte its own frame, an input frame and a resize interleaved.
    const pieces = [...bytes].flatMap((b, i) => [
      { kind: EV_OUTPUT, bytes: Buffer.from([b]) },
      ...(i === 3 ? [{ kind: EV_INPUT, bytes: Buffer.from('x') }] : []),
      ...(i === 6 ? [{ kind: EV_RESIZE, bytes: Buffer.alloc(0) }] : []),
    ]);
    const r = await reader(pieces);
    const all = await r.texts(0, pieces.length);
    expect(all.filter((_, i) => pieces[i]!.kind === EV_OUTPUT).join('')).toBe(text);
    expect(all.filter((_, i) => pieces[i]!.kind === EV_INPUT)).toEqual(['x']);
    // One frame at a time gives the same characters.
    const single: string[] = [];
    for (let i = 0; i < pieces.length; i++) {
      if (pieces[i]!.kind === EV_OUTPUT) single.push(...(await r.texts(i, i + 1)));
    }
    expect(single.join('')).toBe(text);
  });

  it('counts the bytes a cut-off character lacks', () => {
    expect(incompleteTail(Buffer.from('abc'))).toBe(0);
    expect(incompleteTail(Buffer.from('😀').subarray(0, 1))).toBe(3);
    expect(incompleteTail(Buffer.from('😀').subarray(0, 3))).toBe(1);
    expect(incompleteTail(Buffer.from('日').subarray(0, 2))).toBe(1);
    expect(incompleteTail(Buffer.from('日'))).toBe(0);
  });
});
