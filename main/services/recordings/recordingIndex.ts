/**
 * One pass over a verified recording file that indexes what playback needs without keeping
 * the bytes: where each event of the terminal channel lies in the file, its time and kind, the
 * sizes and resizes, an activity histogram and the command lines typed. Event text is read
 * back from the file on demand (eventText.ts), so a 100 MB recording costs a few MB of memory.
 *
 * The terminal channel is chosen as the `.cast` export chooses it (asciicast.ts): the first
 * channel other than the session's own that requests a pty or carries output or input, and is
 * not a subsystem or forwarded TCP stream — unless another one is asked for (`channel`: a
 * second shell over a multiplexed connection). Every such channel is listed in `channels`.
 */
import { TextDecoder } from 'node:util';
import {
  isNonTerminalMeta,
  metaType,
  parseEventJson,
} from '../../../shared/recording/eventMeta.ts';
import {
  eventKinds,
  type RecordingEvent,
  RecordingFormatError,
  type RecordingHeader,
} from '../../../shared/recording/recordingFormat.ts';
import { type CommandLine, CommandLineBuilder } from './commandLines.ts';
import { recordsInFile } from './recordsInFile.ts';

/** Event kinds in the index (small integers in a plain array). */
export const EV_OUTPUT = 0;
export const EV_STDERR = 1;
export const EV_INPUT = 2;
export const EV_RESIZE = 3;
export const EV_EXIT = 4;

/** Events bigger than this are indexed as pieces, so one answer never carries more. */
export const MAX_PIECE_BYTES = 64 * 1024;
/** At most this many activity buckets (each at least ACTIVITY_MIN_BUCKET_MS long). */
const MAX_ACTIVITY_BUCKETS = 1000;
const ACTIVITY_MIN_BUCKET_MS = 100;
const DEFAULT_SIZE = { cols: 80, rows: 24 };
const SESSION_CHANNEL = 0;

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** The terminal channel's events as parallel arrays, ordered by position (= playback order). */
export interface TerminalEvents {
  count: number;
  seq: number[];
  /** ms from the session's start; never decreasing. */
  t: number[];
  kind: number[];
  /** Where the event's bytes lie in the file. */
  offset: number[];
  length: number[];
  /** Position of the next event of the same byte stream (output, stderr, input), or -1. */
  next: number[];
  /** For resizes. */
  cols: number[];
  rows: number[];
}

export interface RecordingIndex {
  header: RecordingHeader;
  kind: 'terminal' | 'database';
  /** The terminal channel played (null: none, or a database session). */
  channel: number | null;
  /** Every terminal channel of the session, in order of first appearance (the one played too). */
  channels: number[];
  /** Frames indexed (the last seq read). */
  frames: number;
  durationMs: number;
  size: TerminalSize;
  resizes: { t: number; cols: number; rows: number }[];
  activity: number[];
  activityBucketMs: number;
  commands: CommandLine[];
  events: TerminalEvents;
  /**
   * The session-start frame among the frames indexed (issue #12): only frames the verification
   * vouched for are indexed, so the player's header names who, what and when from it rather
   * than from the unsigned header or the gateway's list. Absent in indexes cached before.
   */
  sessionStart?: SessionStartFacts | null;
}

export interface SessionStartFacts {
  /** Epoch ms of the session-start frame. */
  time: number;
  user: string | null;
  resource: string | null;
}

export interface ScanOptions {
  /** Where the recording stream starts in the file (after a bundle's prefix). */
  startOffset?: number;
  /** Index no frame past this seq (those a failed verification did not vouch for). */
  maxSeq?: number;
  /** Play this terminal channel instead of the first. */
  channel?: number;
}

/** Reads the file once and builds the index. */
export async function scanRecording(
  file: string,
  options: ScanOptions = {},
): Promise<RecordingIndex> {
  const builder = new IndexBuilder(
    options.startOffset ?? 0,
    options.maxSeq ?? Number.MAX_SAFE_INTEGER,
    options.channel ?? null,
  );
  for await (const record of recordsInFile(file, options.startOffset ?? 0)) {
    if (record.type === 'header') builder.header = record.header;
    else if (record.type === 'frame' && !builder.frame(record.event, record.offset)) break;
  }
  return builder.finish();
}

/** Events of no length: what a builder starts from, and a session with no terminal channel. */
export function emptyTerminalEvents(): TerminalEvents {
  return {
    count: 0,
    seq: [],
    t: [],
    kind: [],
    offset: [],
    length: [],
    next: [],
    cols: [],
    rows: [],
  };
}

/**
 * `value` as a small integer when it is a whole number under 2^31 (ms offsets under ~24 days).
 * Times come from u64 epoch milliseconds, boxed doubles in V8's unoptimized code; stored as
 * they come, a mix of boxed and small numbers in the index's arrays and objects made V8
 * deoptimize the code that fills them on every download.
 */
function smallInteger(value: number): number {
  return Number.isInteger(value) && value >= 0 && value <= 0x7fff_ffff ? value | 0 : value;
}

/** Accumulates the index; exported for live watching, which feeds events as they arrive. */
export class IndexBuilder {
  header: RecordingHeader | null = null;
  readonly events: TerminalEvents = emptyTerminalEvents();
  private channel: number | null;
  private readonly notTerminal = new Set<number>();
  private readonly terminalChannels: number[] = [];
  private size: TerminalSize | null = null;
  private readonly resizes: { t: number; cols: number; rows: number }[] = [];
  private readonly commands = new CommandLineBuilder();
  private readonly inputDecoder = new TextDecoder('utf-8');
  private readonly lastOfStream = new Map<number, number>();
  private frames = 0;
  private lastT = 0;
  private sessionStart: SessionStartFacts | null = null;
  /**
   * The indexed channel once it is known to be a listed terminal channel of a terminal
   * session: its output frames take the short path in `frame`. -1 before.
   */
  private listedChannel = -1;

  /** `channel`: the terminal channel to index; null for the first one. */
  constructor(
    private readonly startOffset: number,
    private readonly maxSeq: number,
    channel: number | null = null,
  ) {
    this.channel = channel;
  }

  /** False once past maxSeq. `recordOffset` is the frame record's offset in the stream. */
  frame(event: RecordingEvent, recordOffset: number): boolean {
    if (event.seq > this.maxSeq) return false;
    this.frames = event.seq;
    const header = this.header;
    const t = smallInteger(Math.max(this.lastT, header ? event.time - header.startedAt : 0));
    this.lastT = t;
    // Nearly every frame of a terminal session: output on the channel being indexed. Kept
    // small and apart from the rest, which runs rarely (a pty-req, a resize, typed input) —
    // V8 optimized the whole method before those had run and deoptimized it on each download,
    // recompiling ~40 ms of code every time (--trace-deopt, bench:replay).
    if (event.kind === eventKinds.output && event.channel === this.listedChannel) {
      this.commands.output(event.data);
      this.addStream(event, t, EV_OUTPUT, recordOffset);
      return true;
    }
    return this.anyFrame(event, t, recordOffset);
  }

  private anyFrame(event: RecordingEvent, t: number, recordOffset: number): boolean {
    if (this.sessionStart === null && event.channel === SESSION_CHANNEL)
      this.noteSessionStart(event);
    const header = this.header;
    if (header && protocolOf(header) === 'postgres') return true;
    if (event.channel === SESSION_CHANNEL) return true;
    const meta = event.kind === eventKinds.meta ? parseEventJson(event.data) : undefined;
    if (meta !== undefined && isNonTerminalMeta(meta)) this.notTerminal.add(event.channel);
    const starts =
      !this.notTerminal.has(event.channel) &&
      (metaType(meta) === 'pty-req' ||
        event.kind === eventKinds.resize ||
        (isStream(event.kind) && event.data.length > 0));
    if (starts && !this.terminalChannels.includes(event.channel)) {
      this.terminalChannels.push(event.channel);
    }
    if (this.channel === null) {
      if (!starts) return true;
      this.channel = event.channel;
    }
    if (event.channel !== this.channel) return true;
    if (header && this.terminalChannels.includes(this.channel)) this.listedChannel = this.channel;
    const dataOffset = this.dataOffsetOf(recordOffset);
    switch (event.kind) {
      case eventKinds.meta: {
        if (metaType(meta) === 'pty-req') {
          const size = terminalSize(meta);
          if (size && !this.size) this.size = size;
        }
        return true;
      }
      case eventKinds.resize: {
        const size = terminalSize(parseEventJson(event.data));
        if (!size) return true;
        if (!this.size && this.events.count === 0) {
          this.size = size;
          return true;
        }
        this.resizes.push({ t, ...size });
        this.add(event.seq, t, EV_RESIZE, dataOffset, 0, size);
        return true;
      }
      case eventKinds.exit:
        this.add(event.seq, t, EV_EXIT, dataOffset, 0, null);
        return true;
      case eventKinds.output:
      case eventKinds.stderr:
      case eventKinds.input: {
        const kind =
          event.kind === eventKinds.output
            ? EV_OUTPUT
            : event.kind === eventKinds.stderr
              ? EV_STDERR
              : EV_INPUT;
        if (kind === EV_INPUT) {
          this.commands.push(t, this.inputDecoder.decode(event.data, { stream: true }));
        } else {
          this.commands.output(event.data);
        }
        this.addStream(event, t, kind, recordOffset);
        return true;
      }
      default:
        return true;
    }
  }

  /** A stream frame's data, as pieces of at most MAX_PIECE_BYTES. */
  private addStream(event: RecordingEvent, t: number, kind: number, recordOffset: number): void {
    const dataOffset = this.dataOffsetOf(recordOffset);
    const bytes = event.data.length;
    for (let at = 0; at < bytes; at += MAX_PIECE_BYTES) {
      this.add(event.seq, t, kind, dataOffset + at, Math.min(MAX_PIECE_BYTES, bytes - at), null);
    }
  }

  private dataOffsetOf(recordOffset: number): number {
    // 'F' | u32 | 20-byte fixed frame header, then the data.
    return this.startOffset + recordOffset + 5 + 20;
  }

  private add(
    seq: number,
    t: number,
    kind: number,
    offset: number,
    length: number,
    size: TerminalSize | null,
  ): void {
    const e = this.events;
    const position = e.count++;
    e.seq.push(seq);
    e.t.push(t);
    e.kind.push(kind);
    e.offset.push(offset);
    e.length.push(length);
    e.next.push(-1);
    e.cols.push(size?.cols ?? 0);
    e.rows.push(size?.rows ?? 0);
    if (kind <= EV_INPUT) {
      const previous = this.lastOfStream.get(kind);
      if (previous !== undefined) e.next[previous] = position;
      this.lastOfStream.set(kind, position);
    }
  }

  /** The terminal channel being indexed (null until the first is found). */
  channelPlayed(): number | null {
    return this.channel;
  }

  /**
   * The size to start from when the pty-req is not among the frames indexed (a stretch from
   * the middle of a recording, issue #16); a pty-req or first resize seen later does not
   * override it, as a resize does.
   */
  assumeSize(size: TerminalSize): void {
    this.size ??= size;
  }

  /** The resizes indexed so far. */
  resizesSoFar(): readonly { t: number; cols: number; rows: number }[] {
    return this.resizes;
  }

  /** The terminal size known so far (pty-req or first resize), null before. */
  currentSize(): TerminalSize | null {
    return this.size;
  }

  /** ms from the start of the last frame seen. */
  lastTime(): number {
    return this.lastT;
  }

  isDatabase(): boolean {
    return this.header !== null && protocolOf(this.header) === 'postgres';
  }

  /** Drops the events indexed so far (a live watch has sent them and keeps none). */
  forgetEvents(): void {
    const e = this.events;
    e.count = 0;
    for (const list of [e.seq, e.t, e.kind, e.offset, e.length, e.next, e.cols, e.rows]) {
      list.length = 0;
    }
    this.lastOfStream.clear();
  }

  private noteSessionStart(event: RecordingEvent): void {
    if (event.kind !== eventKinds.meta) return;
    const meta = parseEventJson(event.data);
    if (metaType(meta) !== 'session-start') return;
    const text = (key: string) => {
      const value = (meta as Record<string, unknown>)[key];
      return typeof value === 'string' ? value : null;
    };
    this.sessionStart = { time: event.time, user: text('user'), resource: text('resource') };
  }

  finish(): RecordingIndex {
    const header = this.header;
    if (!header) throw new RecordingFormatError('the recording has no header', 0);
    const durationMs = this.lastT;
    const bucketMs = Math.max(
      ACTIVITY_MIN_BUCKET_MS,
      Math.ceil(durationMs / MAX_ACTIVITY_BUCKETS / ACTIVITY_MIN_BUCKET_MS) *
        ACTIVITY_MIN_BUCKET_MS,
    );
    const activity = new Array<number>(Math.max(1, Math.ceil((durationMs + 1) / bucketMs))).fill(0);
    const e = this.events;
    for (let i = 0; i < e.count; i++) {
      if (e.kind[i] === EV_OUTPUT || e.kind[i] === EV_STDERR) {
        const bucket = Math.min(activity.length - 1, Math.floor(e.t[i]! / bucketMs));
        activity[bucket]! += e.length[i]!;
      }
    }
    return {
      header,
      kind: protocolOf(header) === 'postgres' ? 'database' : 'terminal',
      channel: this.channel,
      channels: [...this.terminalChannels],
      frames: this.frames,
      durationMs,
      size: this.size ?? DEFAULT_SIZE,
      resizes: this.resizes,
      activity,
      activityBucketMs: bucketMs,
      commands: this.commands.commands,
      events: e,
      sessionStart: this.sessionStart,
    };
  }
}

export function protocolOf(header: RecordingHeader): string | null {
  const protocol = header.meta?.protocol;
  return typeof protocol === 'string' ? protocol : null;
}

function isStream(kind: string): boolean {
  return kind === eventKinds.output || kind === eventKinds.stderr || kind === eventKinds.input;
}

function terminalSize(value: unknown): TerminalSize | null {
  if (typeof value !== 'object' || value === null) return null;
  const { cols, rows } = value as { cols?: unknown; rows?: unknown };
  const valid = (n: unknown): n is number =>
    typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 1000;
  if (!valid(cols) || !valid(rows)) return null;
  return { cols, rows };
}
