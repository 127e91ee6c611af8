/**
 * The JSON of a structured recording event (FORMAT.md §5: one UTF-8 JSON value per frame,
 * never split). A frame holds at most 1 MiB, and the recorder splits larger data into several
 * frames — which would cut a JSON value in two. So a value whose JSON would not fit has its
 * long strings shortened (a huge query text, a large bound parameter, a notice with megabytes
 * of text) and says so with `truncated: true`; everything else of the event stays exact.
 */
import { MAX_FRAME_DATA_BYTES } from '../../../shared/recording/recordingFormat.ts';

/** Strings are cut to this many characters, then to the smaller cap if still too large. */
const STRING_CAPS = [256 * 1024, 16 * 1024, 1024];

export function encodeEventJson(value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value) ?? 'null', 'utf8');
  if (json.length <= MAX_FRAME_DATA_BYTES) return json;
  for (const cap of STRING_CAPS) {
    const shortened = shorten(value, cap);
    const marked =
      typeof shortened === 'object' && shortened !== null && !Array.isArray(shortened)
        ? { ...shortened, truncated: true }
        : { value: shortened, truncated: true };
    const bytes = Buffer.from(JSON.stringify(marked), 'utf8');
    if (bytes.length <= MAX_FRAME_DATA_BYTES) return bytes;
  }
  return Buffer.from(JSON.stringify({ truncated: true }), 'utf8');
}

function shorten(value: unknown, cap: number): unknown {
  if (typeof value === 'string') {
    return value.length > cap ? `${value.slice(0, cap)}… (${value.length} characters)` : value;
  }
  if (Array.isArray(value)) return value.map((item) => shorten(item, cap));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, shorten(item, cap)]),
    );
  }
  return value;
}
