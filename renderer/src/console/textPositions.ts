/**
 * PostgreSQL reports an error's position in characters (code points, 1-based); the editor counts
 * UTF-16 code units. These convert between the two so an error in a line with emoji or CJK still
 * lands on the right word.
 */
export function codePointCount(text: string): number {
  let n = 0;
  for (const _ of text) n += 1;
  return n;
}

/** The code-unit index of the `position`-th character (1-based), clamped to the text. */
export function codeUnitIndex(text: string, position: number): number {
  let index = 0;
  let n = 1;
  for (const char of text) {
    if (n >= position) return index;
    index += char.length;
    n += 1;
  }
  return text.length;
}

/** The word (identifier, number or quoted name) starting at `from`, for the error's mark. */
export function tokenEnd(text: string, from: number): number {
  const match = /^(?:"(?:[^"]|"")*"|[\p{L}\p{N}_$.]+|\S)/u.exec(text.slice(from));
  return from + (match ? match[0].length : 0);
}
