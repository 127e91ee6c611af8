import { describe, expect, it } from 'vitest';
import { MAX_TERMINAL_WRITE_CHARS } from '../../../main/ipc/contract.ts';
import { splitTerminalInput, WRITE_LIMIT } from './splitTerminalInput.ts';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('splitTerminalInput', () => {
  it('uses the same limit as the contract', () => {
    expect(WRITE_LIMIT).toBe(MAX_TERMINAL_WRITE_CHARS);
  });

  it('sends typed input as one piece and nothing for an empty string', () => {
    expect(splitTerminalInput('ls -la\r')).toEqual(['ls -la\r']);
    expect(splitTerminalInput('')).toEqual([]);
  });

  it('splits a paste larger than 64 KiB into pieces within the limit, losing nothing', () => {
    const paste = 'x'.repeat(WRITE_LIMIT * 2 + 5);
    const pieces = splitTerminalInput(paste);
    expect(pieces.map((p) => p.length)).toEqual([WRITE_LIMIT, WRITE_LIMIT, 5]);
    expect(pieces.join('')).toBe(paste);
  });

  it('never cuts a surrogate pair in half', () => {
    const paste = `ab😀cd😀`; // the emoji is two UTF-16 code units
    const pieces = splitTerminalInput(paste, 3);
    expect(pieces).toEqual(['ab', '😀c', 'd😀']);
    for (const piece of pieces) {
      expect(piece.length).toBeLessThanOrEqual(3);
      expect(piece).not.toMatch(LONE_SURROGATE);
    }
  });

  it('refuses a limit that cannot hold a surrogate pair', () => {
    expect(() => splitTerminalInput('abc', 1)).toThrow(RangeError);
  });
});
