/**
 * Splits terminal input into pieces `terminals.write` accepts: the contract caps one write at
 * MAX_TERMINAL_WRITE_CHARS UTF-16 code units, so a large paste goes in several calls. A piece
 * never ends between the two halves of a surrogate pair (an emoji split across two writes
 * would reach the pty as two invalid code points).
 */

/**
 * The contract's MAX_TERMINAL_WRITE_CHARS, restated because the bundle imports the contract for
 * types only (loading it would pull zod into the page); the test beside this file checks both
 * still agree.
 */
export const WRITE_LIMIT = 64 * 1024;

export function splitTerminalInput(data: string, limit: number = WRITE_LIMIT): string[] {
  if (limit < 2) throw new RangeError('limit must leave room for a surrogate pair');
  if (data.length <= limit) return data.length === 0 ? [] : [data];
  const pieces: string[] = [];
  let start = 0;
  while (start < data.length) {
    let end = Math.min(start + limit, data.length);
    if (end < data.length && isHighSurrogate(data.charCodeAt(end - 1))) end -= 1;
    pieces.push(data.slice(start, end));
    start = end;
  }
  return pieces;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
