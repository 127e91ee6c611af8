/**
 * Whether terminal output puts anything a person can read on the screen. A shell often writes
 * its first bytes as mode switches alone (bash's bracketed-paste `ESC[?2004h`, a title, a
 * colour) and the prompt a moment later; opening a recording on those bytes shows a blank
 * screen, so the player opens on the first output that makes text appear instead.
 */

// CSI (ESC [ … final), OSC (ESC ] … BEL or ST), DCS/PM/APC/SOS strings (ESC P/^/_/X … ST),
// charset designations (ESC ( B), then any other two-byte escape.
const ESCAPE_SEQUENCES =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching escapes is the point
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[P^_X][^\x1b]*\x1b\\|\x1b[()*+][0-9A-Za-z]|\x1b[ -~]/g;
// C0 controls and DEL: they move the cursor or ring the bell, they print nothing.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching controls is the point
const CONTROL_CHARACTERS = /[\x00-\x1f\x7f]/g;

export function hasVisibleText(output: string): boolean {
  return /\S/.test(output.replace(ESCAPE_SEQUENCES, '').replace(CONTROL_CHARACTERS, ''));
}
