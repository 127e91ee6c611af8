/**
 * Recording → asciicast v2 (https://docs.asciinema.org/manual/asciicast/v2/), one terminal
 * channel per file, so an exported `.cast` plays in asciinema and its web player.
 *
 * The first line is the header; then one event a line: `[seconds, "o", text]` for output and
 * stderr (a terminal shows both), `[seconds, "r", "COLSxROWS"]` for resizes, and — only with
 * `includeInput` — `[seconds, "i", text]` for typed input. Seconds count from the channel's first event. Bytes are decoded as UTF-8 with
 * one streaming decoder per stream, so a character split across two frames stays whole.
 *
 * Streaming: events are turned into lines as they come. Only until the terminal size is known
 * (the pty-req, or the first resize) are a channel's events held back, and at most
 * HEADER_WAIT_BYTES of them: after that the header is written with the default 80x24.
 */
import { TextDecoder } from 'node:util';
import { isNonTerminalMeta, metaType, parseEventJson } from './eventMeta.ts';
import { eventKinds, type RecordingEvent } from './recordingFormat.ts';

export interface AsciicastOptions {
  /**
   * The channel to export. Default: the first channel that requests a pty or writes output,
   * not counting sftp/subsystem and direct-tcpip channels.
   */
  channel?: number;
  /**
   * Add typed input as `"i"` events. Off by default: a `.cast` is made to be shared, and input
   * holds what the terminal never echoed (passwords typed at a prompt, sudo, ssh keys' passphrases).
   */
  includeInput?: boolean;
}

/**
 * Channel 0 carries the session's own events (session-start, session-end, refusals); SSH
 * channels are numbered from 1 in the order they open (FORMAT.md, "Channels").
 */
export const SESSION_CHANNEL = 0;
const DEFAULT_SIZE = { cols: 80, rows: 24 };
/** How much of a channel's output may wait for its terminal size before the default is used. */
export const HEADER_WAIT_BYTES = 64 * 1024;

type Events = AsyncIterable<RecordingEvent> | Iterable<RecordingEvent>;

export interface AsciicastHeader {
  version: 2;
  width: number;
  height: number;
  /** Unix seconds of the channel's first event. */
  timestamp: number;
  env?: { TERM: string };
}

/** No terminal channel to export (or the one asked for has nothing). */
export class NoTerminalOutputError extends Error {
  override readonly name = 'NoTerminalOutputError';
}

/** Yields the `.cast` file line by line, each ending in "\n". */
export async function* toAsciicast(
  events: Events,
  options: AsciicastOptions = {},
): AsyncGenerator<string> {
  let channel = options.channel;
  const notTerminal = new Set<number>();
  const firstTimes = new Map<number, number>();
  let cast: ChannelCast | undefined;
  // With includeInput: what was typed on a channel before it showed itself a terminal (an
  // exec's stdin arrives before its first output), so it is not lost; bounded like the header.
  const earlyInput = new Map<number, RecordingEvent[]>();
  let earlyInputBytes = 0;
  for await (const event of events) {
    if (!firstTimes.has(event.channel)) firstTimes.set(event.channel, event.time);
    if (channel === undefined) {
      const meta = event.kind === eventKinds.meta ? parseEventJson(event.data) : undefined;
      if (isNonTerminalMeta(meta)) notTerminal.add(event.channel);
      const starts =
        event.channel !== SESSION_CHANNEL &&
        !notTerminal.has(event.channel) &&
        (metaType(meta) === 'pty-req' || (isOutput(event) && event.data.length > 0));
      if (!starts) {
        if (
          options.includeInput &&
          event.kind === eventKinds.input &&
          earlyInputBytes + event.data.length <= HEADER_WAIT_BYTES
        ) {
          earlyInputBytes += event.data.length;
          earlyInput.set(event.channel, [...(earlyInput.get(event.channel) ?? []), event]);
        }
        continue;
      }
      channel = event.channel;
    }
    if (event.channel !== channel) continue;
    if (!cast) {
      cast = new ChannelCast(firstTimes.get(channel) ?? event.time, options.includeInput ?? false);
      for (const typed of earlyInput.get(channel) ?? []) yield* cast.accept(typed);
      earlyInput.clear();
    }
    yield* cast.accept(event);
  }
  if (channel === undefined) {
    throw new NoTerminalOutputError('this recording has no terminal output to export');
  }
  if (!cast) throw new NoTerminalOutputError(`channel ${channel} has no events in this recording`);
  yield* cast.end();
}

/** One channel's cast: holds events back until the terminal size is known, then streams. */
class ChannelCast {
  private writer: CastWriter | null = null;
  private held: RecordingEvent[] = [];
  private heldBytes = 0;
  private closed = false;

  constructor(
    private readonly t0: number,
    private readonly includeInput: boolean,
  ) {}

  *accept(event: RecordingEvent): Generator<string> {
    if (this.closed) return;
    const meta = event.kind === eventKinds.meta ? parseEventJson(event.data) : undefined;
    // Channel numbers are never reused within a recording (FORMAT.md), so this is the end.
    if (metaType(meta) === 'channel-close') this.closed = true;
    if (this.writer) {
      yield* this.writer.write(event);
      return;
    }
    if (metaType(meta) === 'pty-req') {
      yield* this.start(terminalSize(meta) ?? DEFAULT_SIZE);
    } else if (event.kind === eventKinds.resize) {
      // The first resize sets the header's size rather than being an event of its own.
      yield* this.start(terminalSize(parseEventJson(event.data)) ?? DEFAULT_SIZE);
    } else {
      this.held.push(event);
      this.heldBytes += event.data.length;
      if (this.heldBytes > HEADER_WAIT_BYTES || this.closed) yield* this.start(DEFAULT_SIZE);
    }
  }

  *end(): Generator<string> {
    if (!this.writer) yield* this.start(DEFAULT_SIZE);
    yield* this.writer!.flush();
  }

  private *start(size: { cols: number; rows: number; term?: string }): Generator<string> {
    const writer = new CastWriter(this.t0, this.includeInput);
    this.writer = writer;
    const header: AsciicastHeader = {
      version: 2,
      width: size.cols,
      height: size.rows,
      timestamp: Math.floor(this.t0 / 1000),
      ...(size.term ? { env: { TERM: size.term } } : {}),
    };
    yield `${JSON.stringify(header)}\n`;
    for (const event of this.held.splice(0)) yield* writer.write(event);
    this.heldBytes = 0;
  }
}

/** Turns one channel's events into cast lines. */
class CastWriter {
  private readonly decoders = new Map<string, TextDecoder>();
  private last = 0;

  constructor(
    private readonly t0: number,
    private readonly includeInput: boolean,
  ) {}

  *write(event: RecordingEvent): Generator<string> {
    // Left out before decoding, so no decoder ever holds input bytes to flush later.
    if (event.kind === eventKinds.input && !this.includeInput) return;
    switch (event.kind) {
      case eventKinds.output:
      case eventKinds.stderr:
      case eventKinds.input: {
        const text = this.decoder(event.kind).decode(event.data, { stream: true });
        if (text) yield this.line(event.time, event.kind === eventKinds.input ? 'i' : 'o', text);
        return;
      }
      case eventKinds.resize: {
        const size = terminalSize(parseEventJson(event.data));
        if (size) yield this.line(event.time, 'r', `${size.cols}x${size.rows}`);
        return;
      }
      default:
        return; // exit, meta: not part of what a terminal shows
    }
  }

  /** What the decoders still hold (an incomplete character at the very end becomes U+FFFD). */
  *flush(): Generator<string> {
    for (const [kind, decoder] of this.decoders) {
      const text = decoder.decode();
      if (text) yield this.line(null, kind === eventKinds.input ? 'i' : 'o', text);
    }
  }

  private decoder(kind: string): TextDecoder {
    let decoder = this.decoders.get(kind);
    if (!decoder) {
      decoder = new TextDecoder('utf-8');
      this.decoders.set(kind, decoder);
    }
    return decoder;
  }

  private line(time: number | null, type: 'o' | 'i' | 'r', text: string): string {
    // asciicast times never go backwards, even if the gateway's clock did.
    const seconds = time === null ? this.last : Math.max(this.last, (time - this.t0) / 1000);
    this.last = seconds;
    return `${JSON.stringify([Math.round(seconds * 1000) / 1000, type, text])}\n`;
  }
}

export interface TerminalChannel {
  channel: number;
  /** A pty was requested on it (an interactive terminal). */
  pty: boolean;
  /** Output and stderr bytes. */
  outputBytes: number;
  /** `shell`, `exec: <command>`, or `session` when neither was recorded. */
  description: string;
  /** Epoch ms of the channel's first event. */
  startedAt: number;
}

/** The channels with terminal output, in the order they started, to pick one to export. */
export async function terminalChannels(events: Events): Promise<TerminalChannel[]> {
  const channels = new Map<number, TerminalChannel>();
  const notTerminal = new Set<number>();
  for await (const event of events) {
    if (event.channel === SESSION_CHANNEL) continue;
    let entry = channels.get(event.channel);
    if (!entry) {
      entry = {
        channel: event.channel,
        pty: false,
        outputBytes: 0,
        description: 'session',
        startedAt: event.time,
      };
      channels.set(event.channel, entry);
    }
    if (isOutput(event)) entry.outputBytes += event.data.length;
    if (event.kind !== eventKinds.meta) continue;
    const meta = parseEventJson(event.data);
    if (isNonTerminalMeta(meta)) notTerminal.add(event.channel);
    const type = metaType(meta);
    if (type === 'pty-req') entry.pty = true;
    if (type === 'shell') entry.description = 'shell';
    if (type === 'exec') {
      const command = (meta as { command?: unknown }).command;
      entry.description = `exec: ${typeof command === 'string' ? command : '?'}`;
    }
  }
  return [...channels.values()].filter((c) => c.outputBytes > 0 && !notTerminal.has(c.channel));
}

function isOutput(event: RecordingEvent): boolean {
  return event.kind === eventKinds.output || event.kind === eventKinds.stderr;
}

function terminalSize(value: unknown): { cols: number; rows: number; term?: string } | null {
  if (typeof value !== 'object' || value === null) return null;
  const { cols, rows, term } = value as { cols?: unknown; rows?: unknown; term?: unknown };
  const valid = (n: unknown): n is number =>
    typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 10_000;
  if (!valid(cols) || !valid(rows)) return null;
  return { cols, rows, ...(typeof term === 'string' && term ? { term } : {}) };
}
