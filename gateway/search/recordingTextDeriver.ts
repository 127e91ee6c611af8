/**
 * Derives the searchable text of a recording from its frames as they are recorded (FORMAT.md
 * §5): reconstructed command lines from terminal input, `exec` commands, SQL of queries and
 * blocked statements, ANSI-stripped terminal output, database error messages and result rows
 * (one line per row, its values separated by ` | `; issue #16: "output is searched" held for
 * terminals only). Rows are what the client received — masked values are stored masked — and
 * count toward the same output budget as terminal output. Pure: frames
 * in, `RecordingTextEntry`s out; the indexer (recordingTextIndexer.ts) decides when to store.
 *
 * Binary channels (sftp and other subsystems, direct-tcpip tunnels) are not indexed, nor are
 * output frames of nothing but NUL bytes. Output is
 * indexed up to `maxOutputChars` per session (default 16 Mi characters): a bulk transfer is
 * not worth an index the size of the transfer; commands and queries are always indexed.
 */
import { isUtf8 } from 'node:buffer';
import type { RecordingTextKind } from '../../shared/api/apiSchemas.ts';
import { isNonTerminalMeta } from '../../shared/recording/eventMeta.ts';
import { eventKinds } from '../../shared/recording/recordingFormat.ts';
import { CommandLineReconstructor } from '../../shared/terminal/commandLine.ts';
import type { RecordingTextEntry } from '../store/recordingTextStore.ts';
import { applyBackspaces, TerminalTextStripper } from './terminalTextStripper.ts';

export interface DerivableFrame {
  seq: number;
  time: number;
  channel: number;
  kind: string;
  data: Uint8Array;
}

export interface RecordingTextDeriverOptions {
  /** Output characters per session that are indexed (the rest is not). */
  maxOutputChars?: number;
  /** An output entry is closed at the first line break after this many characters. */
  entryChars?: number;
}

export const DEFAULT_MAX_OUTPUT_CHARS = 16 * 1024 * 1024;
const DEFAULT_ENTRY_CHARS = 2048;
/** An output entry never grows past this, line break or not. */
const HARD_ENTRY_FACTOR = 2;
const MAX_QUERY_CHARS = 64 * 1024;

interface ChannelState {
  /** pty-req seen: input is typed at a prompt (kind 'command'), else piped (kind 'input'). */
  pty: boolean;
  /** sftp, other subsystems, tunnels: bytes are a protocol, not text. */
  binary: boolean;
  inputDecoder: TextDecoder;
  outputDecoder: TextDecoder;
  editor: CommandLineReconstructor<DerivableFrame>;
  stripper: TerminalTextStripper;
  output: { seq: number; time: number; text: string } | undefined;
}

export class RecordingTextDeriver {
  private readonly channels = new Map<number, ChannelState>();
  private ready: RecordingTextEntry[] = [];
  private outputChars = 0;
  private readonly maxOutputChars: number;
  private readonly entryChars: number;

  constructor(
    private readonly sessionId: string,
    options: RecordingTextDeriverOptions = {},
  ) {
    this.maxOutputChars = options.maxOutputChars ?? DEFAULT_MAX_OUTPUT_CHARS;
    this.entryChars = options.entryChars ?? DEFAULT_ENTRY_CHARS;
  }

  /** Takes one recorded frame into account. Synchronous; never throws on odd data. */
  frame(frame: DerivableFrame): void {
    switch (frame.kind) {
      case eventKinds.input:
        this.input(frame);
        break;
      case eventKinds.output:
      case eventKinds.stderr:
        this.output(frame);
        break;
      case eventKinds.meta:
        this.meta(frame);
        break;
      case eventKinds.dataRow:
        this.dataRow(frame);
        break;
      case eventKinds.query:
      case eventKinds.blocked: {
        this.endResult(frame.channel);
        const sql = jsonField(frame.data, 'sql');
        if (sql) this.add(frame, 'query', sql.slice(0, MAX_QUERY_CHARS));
        break;
      }
      case eventKinds.error:
      case eventKinds.notice: {
        this.endResult(frame.channel);
        const fields = jsonObject(frame.data)?.fields as Record<string, unknown> | undefined;
        const message = [fields?.M, fields?.D, fields?.H].filter((f) => typeof f === 'string');
        if (message.length > 0) this.add(frame, 'output', message.join('\n'));
        break;
      }
    }
  }

  /**
   * The entries derived so far. With `flush`, output still being gathered is closed into an
   * entry too (at a checkpoint, and at the end); without it, only finished entries.
   */
  take(options: { flush: boolean }): RecordingTextEntry[] {
    if (options.flush) {
      for (const [channel, state] of this.channels) this.closeOutput(channel, state);
    }
    const taken = this.ready;
    this.ready = [];
    return taken;
  }

  private channel(channel: number): ChannelState {
    let state = this.channels.get(channel);
    if (!state) {
      state = {
        pty: false,
        binary: false,
        inputDecoder: new TextDecoder('utf-8'),
        outputDecoder: new TextDecoder('utf-8'),
        editor: new CommandLineReconstructor<DerivableFrame>(),
        stripper: new TerminalTextStripper(),
        output: undefined,
      };
      this.channels.set(channel, state);
    }
    return state;
  }

  private input(frame: DerivableFrame): void {
    const state = this.channel(frame.channel);
    if (state.binary) return;
    const typed = state.inputDecoder.decode(frame.data, { stream: true });
    for (const line of state.editor.input(typed, frame)) {
      this.add(line.stamp, state.pty ? 'command' : 'input', line.text);
    }
  }

  private output(frame: DerivableFrame): void {
    const state = this.channel(frame.channel);
    // The echo completes command lines (shared/terminal/commandLine.ts), past the budget too.
    for (const line of state.binary ? [] : state.editor.output(frame.data)) {
      this.add(line.stamp, state.pty ? 'command' : 'input', line.text);
    }
    if (state.binary || this.outputChars >= this.maxOutputChars) return;
    if (isAllZero(frame.data)) {
      // /dev/zero or a zero-filled file: no text, and stripping a MB of NULs costs the
      // gateway's thread ~6 ms. One NUL through the decoder ends a character cut off by the
      // previous frame, as the whole stream would. It still counts toward the budget.
      state.outputDecoder.decode(ONE_NUL, { stream: true });
      this.outputChars += frame.data.length;
      return;
    }
    const decoded = state.outputDecoder.decode(frame.data, { stream: true });
    // The budget counts what is *examined*, not what is kept: output that strips to nothing
    // (a binary or /dev/zero `cat`) must not be examined forever (bench:ssh moves 500 MB).
    this.outputChars += decoded.length;
    const text = state.stripper.push(decoded);
    if (text.length === 0) return;
    this.gather(frame, state, text, true);
  }

  /** A result row: its values as one line of the result's output entry. */
  private dataRow(frame: DerivableFrame): void {
    if (this.outputChars >= this.maxOutputChars) return;
    const line = rowText(frame.data);
    this.outputChars += line.length;
    if (line.trim().length === 0) return;
    this.gather(frame, this.channel(frame.channel), `${line}\n`, false);
  }

  /** The rows gathered so far end with their result (a query, an error or notice follows). */
  private endResult(channel: number): void {
    const state = this.channels.get(channel);
    if (state) this.closeOutput(channel, state);
  }

  /** Adds text to the channel's output entry, closing entries as they fill. */
  private gather(frame: DerivableFrame, state: ChannelState, text: string, terminal: boolean) {
    state.output ??= { seq: frame.seq, time: frame.time, text: '' };
    // A shell erases a typo with backspaces that often come in a later frame than the typo.
    state.output.text = terminal
      ? applyBackspaces(state.output.text, text)
      : state.output.text + text;
    // Entries close at a line break past half the entry size, and never grow past
    // HARD_ENTRY_FACTOR × that: one big frame (a bulk `cat`) becomes many entries, each
    // starting at this frame, not one entry of the frame's size.
    const limit = this.entryChars * HARD_ENTRY_FACTOR;
    while (state.output !== undefined && state.output.text.length >= this.entryChars) {
      const gathered: string = state.output.text;
      const lineEnd = gathered.lastIndexOf('\n', limit);
      let cut: number;
      let skip = 0;
      if (lineEnd >= this.entryChars / 2) {
        cut = lineEnd;
        skip = 1; // the line break itself
      } else if (gathered.length >= limit) {
        cut = limit;
      } else {
        break;
      }
      state.output.text = gathered.slice(0, cut);
      this.closeOutput(frame.channel, state);
      const rest: string = gathered.slice(cut + skip);
      if (rest.length > 0) state.output = { seq: frame.seq, time: frame.time, text: rest };
    }
  }

  private closeOutput(channel: number, state: ChannelState): void {
    const output = state.output;
    state.output = undefined;
    const text = output?.text.trimEnd();
    if (!output || !text || text.trim().length === 0) return;
    this.ready.push({
      sessionId: this.sessionId,
      seq: output.seq,
      time: output.time,
      channel,
      kind: 'output',
      text,
    });
  }

  private meta(frame: DerivableFrame): void {
    const meta = jsonObject(frame.data);
    const state = this.channel(frame.channel);
    // Which channels are not terminals: the one rule the player, exports and CLI use too.
    if (isNonTerminalMeta(meta)) state.binary = true;
    switch (meta?.type) {
      case 'pty-req':
        state.pty = true;
        break;
      case 'exec':
        if (typeof meta.command === 'string') this.add(frame, 'command', meta.command);
        break;
      case 'session-start': {
        // A machine identity's session (issue #18): its name and token claims (repository, run
        // id) become searchable text of the session's own channel.
        const text = principalText(meta.principal);
        if (text) this.add(frame, 'output', text);
        break;
      }
    }
  }

  private add(frame: DerivableFrame, kind: RecordingTextKind, text: string): void {
    this.ready.push({
      sessionId: this.sessionId,
      seq: frame.seq,
      time: frame.time,
      channel: frame.channel,
      kind,
      text,
    });
  }
}

/** `machine ci-deploy: repository=acme/app run_id=4242 …`, or undefined for a person. */
function principalText(principal: unknown): string | undefined {
  if (typeof principal !== 'object' || principal === null) return undefined;
  const { identity, claims } = principal as { identity?: unknown; claims?: unknown };
  if (typeof identity !== 'string') return undefined;
  const pairs =
    typeof claims === 'object' && claims !== null
      ? Object.entries(claims)
          .filter(([, value]) => typeof value === 'string' || typeof value === 'number')
          .map(([key, value]) => `${key}=${String(value)}`)
      : [];
  return `machine ${identity}: ${pairs.join(' ')}`.trim();
}

const ONE_NUL = new Uint8Array(1);

/**
 * The searchable text of a DataRow body (FORMAT.md §5.3; PostgreSQL's DataRow: Int16 count, then
 * per column an Int32 length, -1 for NULL, and the bytes): its text values joined by ` | `,
 * line breaks inside a value turned into spaces. NULLs and binary-format values (a control byte
 * other than tab or a line break, or not UTF-8) are left out; a body that does not parse gives
 * nothing. Per row on the search worker, so the body is read as one latin1 string (one native
 * call, a character per byte) and values are sliced from it; only values with bytes ≥ 0x80 are
 * checked and decoded as UTF-8 on their own.
 */
function rowText(body: Uint8Array): string {
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (bytes.length < 2) return '';
  const count = bytes.readUInt16BE(0);
  const raw = bytes.toString('latin1');
  let text = '';
  let offset = 2;
  for (let column = 0; column < count; column++) {
    if (offset + 4 > bytes.length) return '';
    const length = bytes.readInt32BE(offset);
    offset += 4;
    if (length < 0) continue; // NULL
    const end = offset + length;
    if (end > bytes.length) return '';
    const value = textValue(bytes, raw, offset, end);
    offset = end;
    if (value === null || value === '') continue;
    text = text === '' ? value : `${text} | ${value}`;
  }
  return text;
}

/** The value at [start, end) as one line of text, or null when it is a binary value. */
function textValue(bytes: Buffer, raw: string, start: number, end: number): string | null {
  let ascii = true;
  let lineBreak = false;
  for (let i = start; i < end; i++) {
    const code = raw.charCodeAt(i);
    if (code < 0x20) {
      if (code === 0x0a) lineBreak = true;
      else if (code !== 0x09 && code !== 0x0d) return null;
    } else if (code >= 0x80) {
      ascii = false;
    }
  }
  let value: string;
  if (ascii) {
    value = raw.slice(start, end);
  } else {
    const slice = bytes.subarray(start, end);
    if (!isUtf8(slice)) return null;
    value = slice.toString('utf8');
  }
  return lineBreak ? value.replace(/\r?\n/g, ' ') : value;
}

const ZEROS = new Uint8Array(64 * 1024);

/** Whether every byte is 0, compared natively a block at a time (frames are up to 1 MiB). */
function isAllZero(data: Uint8Array): boolean {
  if (data.length === 0 || data[0] !== 0) return false;
  for (let offset = 0; offset < data.length; offset += ZEROS.length) {
    const block = data.subarray(offset, offset + ZEROS.length);
    if (Buffer.compare(block, ZEROS.subarray(0, block.length)) !== 0) return false;
  }
  return true;
}

function jsonObject(data: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(
      Buffer.from(data.buffer, data.byteOffset, data.length).toString('utf8'),
    );
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function jsonField(data: Uint8Array, field: string): string | undefined {
  const value = jsonObject(data)?.[field];
  return typeof value === 'string' ? value : undefined;
}
