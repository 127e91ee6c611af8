/**
 * The rows of a `COPY … TO STDOUT` in text or CSV format, as the server writes them
 * (sql-copy.html "File Formats"; copyto.c CopyAttributeOutText / CopyAttributeOutCSV): cut
 * into rows, split into field values, and written again, so masking can treat each row like
 * a DataRow (issue #13). Pure, byte-level: delimiter, quote and escape are single ASCII bytes
 * (the server refuses anything else), so a UTF-8 character never looks like one of them.
 */

export interface CopyFormat {
  readonly kind: 'text' | 'csv';
  /** One byte: tab (text) or `,` (CSV) by default. */
  readonly delimiter: string;
  /** How NULL is written: `\N` (text) or the empty unquoted string (CSV) by default. */
  readonly null: string;
  /** CSV only: `"` by default. */
  readonly quote: string;
  /** CSV only: the quote by default. */
  readonly escape: string;
  /** The first row holds column names. */
  readonly header: boolean;
}

/** A format's markers as bytes, made once per COPY rather than per row. */
interface FormatBytes {
  readonly delimiter: Buffer;
  readonly null: Buffer;
}

const FORMAT_BYTES = new WeakMap<CopyFormat, FormatBytes>();

function bytesOf(format: CopyFormat): FormatBytes {
  let bytes = FORMAT_BYTES.get(format);
  if (bytes === undefined) {
    bytes = {
      delimiter: Buffer.from(format.delimiter, 'utf8'),
      null: Buffer.from(format.null, 'utf8'),
    };
    FORMAT_BYTES.set(format, bytes);
  }
  return bytes;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const NEWLINE_BYTES = Buffer.from([NEWLINE]);
const BACKSLASH = 0x5c;

/**
 * Cuts a COPY's data into whole rows however the server split it into CopyData messages (one
 * per row in practice, not by the protocol): a row is complete at its newline, which in CSV
 * must be outside quotes (a quoted value may hold newlines).
 */
export class CopyRowSplitter {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes of `pending` already scanned, and the CSV quote state there. */
  private scanned = 0;
  private inQuote = false;
  private readonly quote: number;
  private readonly escape: number;

  constructor(private readonly format: CopyFormat) {
    this.quote = format.quote.charCodeAt(0);
    this.escape = format.escape.charCodeAt(0);
  }

  /** Bytes of a row whose newline has not come yet are held. */
  get holdsPartialRow(): boolean {
    return this.pending.length > 0;
  }

  /** The rows this data completes, each without its newline. */
  push(data: Buffer): Buffer[] {
    const bytes = this.pending.length === 0 ? data : Buffer.concat([this.pending, data]);
    const rows: Buffer[] = [];
    let rowStart = 0;
    let i = this.scanned;
    const csv = this.format.kind === 'csv';
    if (!csv) {
      // Text format escapes newlines inside values: every newline byte ends a row.
      for (let end = bytes.indexOf(NEWLINE, i); end >= 0; end = bytes.indexOf(NEWLINE, rowStart)) {
        rows.push(bytes.subarray(rowStart, end));
        rowStart = end + 1;
      }
      this.pending = bytes.subarray(rowStart);
      this.scanned = this.pending.length;
      return rows;
    }
    while (i < bytes.length) {
      const c = bytes[i]!;
      if (csv && this.inQuote) {
        if (c === this.escape && this.escape !== this.quote && i + 1 < bytes.length) {
          i += 2; // an escaped quote or escape character
          continue;
        }
        if (c === this.escape && this.escape !== this.quote) break; // need the next byte
        if (c === this.quote) this.inQuote = false;
        i++;
        continue;
      }
      if (csv && c === this.quote) {
        this.inQuote = true;
      } else if (c === NEWLINE) {
        rows.push(bytes.subarray(rowStart, i));
        rowStart = i + 1;
      }
      i++;
    }
    this.pending = bytes.subarray(rowStart);
    this.scanned = i - rowStart;
    return rows;
  }

  /** What is left at CopyDone: a last row without a newline (the server never sends one). */
  end(): Buffer | undefined {
    const rest = this.pending;
    this.pending = Buffer.alloc(0);
    this.scanned = 0;
    this.inQuote = false;
    return rest.length > 0 ? rest : undefined;
  }
}

/** A row's values as their text forms (what a text-format DataRow holds), NULL as null. */
export function decodeCopyRow(row: Buffer, format: CopyFormat): (Buffer | null)[] {
  return format.kind === 'csv' ? decodeCsvRow(row, format) : decodeTextRow(row, format);
}

/** The row written in `format`, newline included. */
export function encodeCopyRow(values: readonly (Buffer | null)[], format: CopyFormat): Buffer {
  const { delimiter, null: nullMarker } = bytesOf(format);
  const parts: Buffer[] = [];
  values.forEach((value, i) => {
    if (i > 0) parts.push(delimiter);
    if (value === null) parts.push(nullMarker);
    else parts.push(format.kind === 'csv' ? csvField(value, format) : textField(value, format));
  });
  parts.push(NEWLINE_BYTES);
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------------------------------------
// Text format: backslash escapes, NULL as a raw marker.

function decodeTextRow(row: Buffer, format: CopyFormat): (Buffer | null)[] {
  const delimiter = format.delimiter.charCodeAt(0);
  const nullMarker = bytesOf(format).null;
  const values: (Buffer | null)[] = [];
  let start = 0;
  if (!row.includes(BACKSLASH)) {
    // Nothing escaped: values are what lies between delimiters.
    for (let end = row.indexOf(delimiter); end >= 0; end = row.indexOf(delimiter, start)) {
      const raw = row.subarray(start, end);
      values.push(raw.equals(nullMarker) ? null : raw);
      start = end + 1;
    }
    const last = row.subarray(start);
    values.push(last.equals(nullMarker) ? null : last);
    return values;
  }
  for (let i = 0; i <= row.length; i++) {
    if (i < row.length && row[i] === BACKSLASH) {
      i++; // the escaped byte is never a delimiter
      continue;
    }
    if (i === row.length || row[i] === delimiter) {
      const raw = row.subarray(start, i);
      // The NULL marker is compared before de-escaping, as the server does.
      values.push(raw.equals(nullMarker) ? null : unescapeText(raw));
      start = i + 1;
    }
  }
  return values;
}

const TEXT_ESCAPES: Readonly<Record<string, number>> = {
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
  v: 0x0b,
};

/** The letter each escaped control character is written with. */
const ESCAPE_LETTERS: Readonly<Record<number, number>> = Object.fromEntries(
  Object.entries(TEXT_ESCAPES).map(([letter, code]) => [code, letter.charCodeAt(0)]),
);

function isOctal(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x37;
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

function unescapeText(raw: Buffer): Buffer {
  if (!raw.includes(BACKSLASH)) return raw;
  const out: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== BACKSLASH || i + 1 >= raw.length) {
      out.push(c);
      continue;
    }
    const next = raw[++i]!;
    const named = TEXT_ESCAPES[String.fromCharCode(next)];
    if (named !== undefined) {
      out.push(named);
    } else if (isOctal(next)) {
      let value = next - 0x30;
      for (let k = 0; k < 2 && isOctal(raw[i + 1]); k++) value = value * 8 + (raw[++i]! - 0x30);
      out.push(value & 0xff);
    } else if (next === 0x78 && hexValue(raw[i + 1]) >= 0) {
      let value = hexValue(raw[++i]);
      if (hexValue(raw[i + 1]) >= 0) value = value * 16 + hexValue(raw[++i]);
      out.push(value);
    } else {
      out.push(next);
    }
  }
  return Buffer.from(out);
}

/** CopyAttributeOutText: control characters, backslash and the delimiter are escaped. */
function textField(value: Buffer, format: CopyFormat): Buffer {
  const delimiter = format.delimiter.charCodeAt(0);
  // Most values (a mask, a plain word) need no escape: written as they are.
  if (!value.some((c) => c < 0x20 || c === BACKSLASH || c === delimiter)) return value;
  const out: number[] = [];
  for (const c of value) {
    if (c < 0x20) {
      const letter = ESCAPE_LETTERS[c];
      if (letter !== undefined) out.push(BACKSLASH, letter);
      else if (c === delimiter) out.push(BACKSLASH, c);
      else out.push(c);
    } else if (c === BACKSLASH || c === delimiter) {
      out.push(BACKSLASH, c);
    } else {
      out.push(c);
    }
  }
  return Buffer.from(out);
}

// ---------------------------------------------------------------------------------------------
// CSV: quoted values, NULL as an unquoted marker.

function decodeCsvRow(row: Buffer, format: CopyFormat): (Buffer | null)[] {
  const delimiter = format.delimiter.charCodeAt(0);
  const quote = format.quote.charCodeAt(0);
  const escapeByte = format.escape.charCodeAt(0);
  const nullMarker = bytesOf(format).null;
  const values: (Buffer | null)[] = [];
  let value: number[] = [];
  let quoted = false;
  let rawStart = 0;
  let i = 0;
  const endValue = (end: number) => {
    const raw = row.subarray(rawStart, end);
    values.push(!quoted && raw.equals(nullMarker) ? null : Buffer.from(value));
    value = [];
    quoted = false;
    rawStart = end + 1;
  };
  while (i <= row.length) {
    if (i === row.length) {
      endValue(i);
      break;
    }
    const c = row[i]!;
    if (c === delimiter) {
      endValue(i);
      i++;
    } else if (c === quote) {
      quoted = true;
      i++;
      // Inside quotes up to the closing quote; escape + quote/escape is the character itself.
      while (i < row.length) {
        const d = row[i]!;
        if (
          d === escapeByte &&
          (row[i + 1] === quote || row[i + 1] === escapeByte) &&
          i + 1 < row.length
        ) {
          value.push(row[i + 1]!);
          i += 2;
        } else if (d === quote) {
          i++;
          break;
        } else {
          value.push(d);
          i++;
        }
      }
    } else {
      value.push(c);
      i++;
    }
  }
  return values;
}

/** CopyAttributeOutCSV: quoted when it holds structure or could be read as NULL. */
function csvField(value: Buffer, format: CopyFormat): Buffer {
  const delimiter = format.delimiter.charCodeAt(0);
  const quote = format.quote.charCodeAt(0);
  const escapeByte = format.escape.charCodeAt(0);
  const needsQuotes =
    value.equals(bytesOf(format).null) ||
    value.some(
      (c) =>
        c === delimiter ||
        c === quote ||
        c === escapeByte ||
        c === NEWLINE ||
        c === CARRIAGE_RETURN,
    );
  if (!needsQuotes) return value;
  const out: number[] = [quote];
  for (const c of value) {
    if (c === quote || c === escapeByte) out.push(escapeByte);
    out.push(c);
  }
  out.push(quote);
  return Buffer.from(out);
}
