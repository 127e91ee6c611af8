/**
 * PostgreSQL recorded as wire (format version 2, FORMAT.md §5.3) → the per-message events of
 * version 1 (§5, §5.2) that readers of a database session understand: `q` queries with their
 * statement text and parameters, `d` row descriptions, `D` rows, `c` command tags, `E` errors,
 * `N` notices, `y` COPY data and `m` parameter-status / notification / function-call.
 *
 * The gateway records each side's bytes as forwarded, one frame per socket read (`p` client →
 * target, `P` target → client, masked rows included) and derives nothing while it relays;
 * this module derives the events when a recording is indexed, exported or replayed. Events
 * that are not wire frames (`m` session-start / session-end / cancel / refused, `b` blocked
 * statements) pass through unchanged, so the expanded stream of a version-2 recording reads
 * like a version-1 recording of the same session, and version-1 recordings pass through as
 * they are.
 *
 * Every derived event carries the seq, time and channel (0) of the wire frame its message
 * ended in, so a search hit or a player position names a frame that exists. Each direction
 * is cut into messages by type byte and length (`WireCutter`): a message split across frames
 * (a big row, the recorder's 1 MiB frame limit) is joined again, and only the messages a
 * reader asked for are looked at — the search feed, which runs as a session is recorded, skips
 * rows without copying or allocating. A direction whose bytes are not valid protocol (a
 * damaged or hand-made recording) stops yielding events; nothing here throws on recorded data.
 * A derived event's data may be a view of the wire frame's: valid as long as that frame's is.
 */
import { remember } from '../postgres/boundedRemember.ts';
import {
  BACKEND_MESSAGE_TYPES,
  type Bind,
  decodeBackend,
  decodeFrontend,
  type FieldDescription,
  FRONTEND_MESSAGE_TYPES,
  type Frame,
  type NoticeFieldMap,
} from '../postgres/codec.ts';
import { type EventKind, eventKinds, type RecordingEvent } from './recordingFormat.ts';

export interface PostgresWireOptions {
  /**
   * Derive only these kinds (others are not decoded at all): search needs queries and
   * messages, not rows. Default: all of them.
   */
  kinds?: ReadonlySet<EventKind>;
  /** Put Bind parameters in extended `q` events (default true; search reads only the text). */
  queryParams?: boolean;
}

/** FORMAT.md §5.2: text parameters as strings, binary as {base64}, NULL as null. */
export type WireParam = string | null | { base64: string };

interface Portal {
  statement: string;
  sql: string | null;
  params: WireParam[];
  paramFormats: number[];
}

/** Bounds on a long session's maps, as the gateway's own (older entries are forgotten). */
const MAX_STATEMENTS = 10_000;
const MAX_PORTALS = 1_000;
const CLIENT_COPY_CHANNEL = 1;
const SESSION_CHANNEL = 0;

export function isPostgresWire(event: { kind: string }): boolean {
  return event.kind === eventKinds.postgresFrontend || event.kind === eventKinds.postgresBackend;
}

/** Expands one recording's events in order (see the module comment). Stateful: one per recording. */
export class PostgresWireEvents {
  private readonly frontend: WireCutter;
  private readonly backend: WireCutter;
  private frontendBroken = false;
  private backendBroken = false;
  /** The server's first ReadyForQuery was seen: the greeting (login parameters) is over. */
  private greeted = false;
  private readonly statements = new Map<string, string>();
  private readonly portals = new Map<string, Portal>();
  private readonly wants: (kind: EventKind) => boolean;
  private readonly queryParams: boolean;

  constructor(options: PostgresWireOptions = {}) {
    const kinds = options.kinds;
    this.wants = kinds === undefined ? () => true : (kind) => kinds.has(kind);
    const wants = this.wants;
    this.queryParams = options.queryParams ?? true;
    // Parse, Bind, Execute and Close carry the state a `q` needs; the rest only what is asked.
    this.frontend = new WireCutter(
      FRONTEND_MESSAGE_TYPES,
      `PBEC${wants(eventKinds.query) ? 'Q' : ''}${wants(eventKinds.copyData) ? 'd' : ''}${wants(eventKinds.meta) ? 'F' : ''}`,
    );
    this.backend = new WireCutter(
      BACKEND_MESSAGE_TYPES,
      [
        wants(eventKinds.dataRow) ? 'D' : '',
        wants(eventKinds.rowDescription) ? 'T' : '',
        wants(eventKinds.commandComplete) ? 'CI' : '',
        wants(eventKinds.error) ? 'E' : '',
        wants(eventKinds.notice) ? 'N' : '',
        wants(eventKinds.meta) ? 'SAZ' : '',
        wants(eventKinds.copyData) ? 'd' : '',
      ].join(''),
    );
  }

  /** The events `event` stands for: itself, or what its wire bytes carry (maybe none). */
  accept(event: RecordingEvent): RecordingEvent[] {
    if (event.kind === eventKinds.postgresFrontend) return this.fromClient(event);
    if (event.kind === eventKinds.postgresBackend) return this.fromServer(event);
    return [event];
  }

  private fromClient(event: RecordingEvent): RecordingEvent[] {
    if (this.frontendBroken) return [];
    const out: RecordingEvent[] = [];
    try {
      this.frontend.push(asBuffer(event.data), (frame) => this.clientMessage(frame, event, out));
    } catch {
      this.frontendBroken = true;
    }
    return out;
  }

  private fromServer(event: RecordingEvent): RecordingEvent[] {
    if (this.backendBroken) return [];
    const out: RecordingEvent[] = [];
    try {
      this.backend.push(asBuffer(event.data), (frame) => this.serverMessage(frame, event, out));
    } catch {
      this.backendBroken = true;
    }
    return out;
  }

  private clientMessage(frame: Frame, at: RecordingEvent, out: RecordingEvent[]): void {
    switch (frame.type) {
      case 'Q': {
        if (!this.wants(eventKinds.query)) return;
        const { sql } = decodeFrontend(frame) as { sql: string };
        out.push(json(at, eventKinds.query, { protocol: 'simple', sql }));
        return;
      }
      case 'P': {
        const parse = decodeFrontend(frame) as { statement: string; sql: string };
        remember(this.statements, parse.statement, MAX_STATEMENTS, parse.sql);
        return;
      }
      case 'B': {
        const bind = decodeFrontend(frame) as Bind;
        remember(this.portals, bind.portal, MAX_PORTALS, {
          statement: bind.statement,
          sql: this.statements.get(bind.statement) ?? null,
          params: this.queryParams ? paramsOf(bind) : [],
          paramFormats: bind.parameterFormats,
        });
        return;
      }
      case 'E': {
        if (!this.wants(eventKinds.query)) return;
        const execute = decodeFrontend(frame) as { portal: string; maxRows: number };
        const portal = this.portals.get(execute.portal);
        out.push(
          json(at, eventKinds.query, {
            protocol: 'extended',
            sql: portal?.sql ?? null,
            statement: portal?.statement ?? null,
            portal: execute.portal,
            params: portal?.params ?? [],
            paramFormats: portal?.paramFormats ?? [],
            ...(execute.maxRows > 0 && { maxRows: execute.maxRows }),
          }),
        );
        return;
      }
      case 'C': {
        const close = decodeFrontend(frame) as { target: 'statement' | 'portal'; name: string };
        if (close.target === 'statement') this.statements.delete(close.name);
        else this.portals.delete(close.name);
        return;
      }
      case 'd':
        if (this.wants(eventKinds.copyData)) {
          out.push(derived(at, eventKinds.copyData, frame.body, CLIENT_COPY_CHANNEL));
        }
        return;
      case 'F': {
        if (!this.wants(eventKinds.meta)) return;
        const call = decodeFrontend(frame) as { functionOid: number };
        out.push(
          json(at, eventKinds.meta, { type: 'function-call', functionOid: call.functionOid }),
        );
        return;
      }
    }
  }

  private serverMessage(frame: Frame, at: RecordingEvent, out: RecordingEvent[]): void {
    switch (frame.type) {
      case 'D':
        if (this.wants(eventKinds.dataRow)) out.push(derived(at, eventKinds.dataRow, frame.body));
        return;
      case 'T': {
        if (!this.wants(eventKinds.rowDescription)) return;
        const { fields } = decodeBackend(frame) as { fields: FieldDescription[] };
        out.push(json(at, eventKinds.rowDescription, { columns: columnsOf(fields) }));
        return;
      }
      case 'C': {
        if (!this.wants(eventKinds.commandComplete)) return;
        const { tag } = decodeBackend(frame) as { tag: string };
        out.push(json(at, eventKinds.commandComplete, { tag }));
        return;
      }
      case 'I':
        if (this.wants(eventKinds.commandComplete)) {
          out.push(json(at, eventKinds.commandComplete, { empty: true }));
        }
        return;
      case 'E':
      case 'N': {
        const kind = frame.type === 'E' ? eventKinds.error : eventKinds.notice;
        if (!this.wants(kind)) return;
        const { fields } = decodeBackend(frame) as { fields: NoticeFieldMap };
        out.push(json(at, kind, { fields: Object.fromEntries(fields) }));
        return;
      }
      case 'Z':
        this.greeted = true;
        return;
      case 'S': {
        // The greeting's parameters are the login's, not changes made in the session.
        if (!this.greeted || !this.wants(eventKinds.meta)) return;
        const { name, value } = decodeBackend(frame) as { name: string; value: string };
        out.push(json(at, eventKinds.meta, { type: 'parameter-status', name, value }));
        return;
      }
      case 'A': {
        if (!this.wants(eventKinds.meta)) return;
        const notification = decodeBackend(frame) as { channel: string; payload: string };
        out.push(
          json(at, eventKinds.meta, {
            type: 'notification',
            channel: notification.channel,
            payload: notification.payload,
          }),
        );
        return;
      }
      case 'd':
        if (this.wants(eventKinds.copyData)) out.push(derived(at, eventKinds.copyData, frame.body));
        return;
    }
  }
}

/** FORMAT.md §5 `d`: the RowDescription's fields, as version 1 recorded them. */
export function columnsOf(fields: readonly FieldDescription[]): unknown[] {
  return fields.map((field) => ({
    name: field.name,
    tableOid: field.tableOid,
    columnAttr: field.columnAttnum,
    typeOid: field.typeOid,
    typeSize: field.typeSize,
    typeModifier: field.typeModifier,
    format: field.format,
  }));
}

/** Bind parameters as FORMAT.md §5.2 records them. */
export function paramsOf(bind: Bind): WireParam[] {
  const formats = bind.parameterFormats;
  return bind.parameters.map((value, i) => {
    if (value === null) return null;
    const format = formats.length === 0 ? 0 : formats.length === 1 ? formats[0] : formats[i];
    return format === 0 ? value.toString('utf8') : { base64: value.toString('base64') };
  });
}

/** Largest message a recording is expected to hold (the codec's backend limit). */
const MAX_MESSAGE_BYTES = 1024 * 1024 * 1024;
const TYPE_NAMES = Array.from({ length: 256 }, (_, byte) => String.fromCharCode(byte));

/**
 * Cuts one direction's bytes (typed messages: the recording starts after the login) into
 * messages and hands on those of the wanted types; the others are skipped by their length, not
 * copied. A wanted message inside one frame is a view of it; one split across frames is
 * joined into a buffer of its own, so nothing here keeps a frame's memory. Throws on a length
 * that cannot be protocol.
 */
class WireCutter {
  /** 0 not a type of this direction, 1 skipped, 2 wanted. */
  private readonly types = new Uint8Array(256);
  private readonly head = Buffer.alloc(5);
  private headHave = 0;
  /** Body bytes of an unwanted message still to skip. */
  private skip = 0;
  /** A wanted message split across frames, being joined. */
  private type = 0;
  private body: Buffer | undefined;
  private bodyHave = 0;

  constructor(known: string, wanted: string) {
    for (let i = 0; i < known.length; i++) this.types[known.charCodeAt(i)] = 1;
    for (let i = 0; i < wanted.length; i++) this.types[wanted.charCodeAt(i)] = 2;
  }

  push(chunk: Buffer, onMessage: (frame: Frame) => void): void {
    let at = 0;
    const end = chunk.length;
    while (at < end) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, end - at);
        this.skip -= n;
        at += n;
        continue;
      }
      const body = this.body;
      if (body !== undefined) {
        const n = Math.min(body.length - this.bodyHave, end - at);
        chunk.copy(body, this.bodyHave, at, at + n);
        this.bodyHave += n;
        at += n;
        if (this.bodyHave === body.length) {
          this.body = undefined;
          onMessage(message(this.type, body));
        }
        continue;
      }
      let type: number;
      let length: number;
      if (this.headHave === 0 && end - at >= 5) {
        type = chunk[at]!;
        length = chunk.readInt32BE(at + 1);
        at += 5;
      } else {
        const n = Math.min(5 - this.headHave, end - at);
        chunk.copy(this.head, this.headHave, at, at + n);
        this.headHave += n;
        at += n;
        if (this.headHave < 5) continue;
        this.headHave = 0;
        type = this.head[0]!;
        length = this.head.readInt32BE(1);
      }
      const kind = this.types[type];
      if (kind === 0 || length < 4 || length > MAX_MESSAGE_BYTES) {
        throw new Error('not PostgreSQL protocol');
      }
      const bodyLength = length - 4;
      if (kind === 1) {
        this.skip = bodyLength;
      } else if (end - at >= bodyLength) {
        onMessage(message(type, chunk.subarray(at, at + bodyLength)));
        at += bodyLength;
      } else {
        this.type = type;
        this.body = Buffer.allocUnsafe(bodyLength);
        this.bodyHave = 0;
      }
    }
  }
}

/** What the codec's decoders read of a message: its type and body. */
function message(type: number, body: Buffer): Frame {
  return { type: TYPE_NAMES[type]!, raw: body, body };
}

function derived(
  at: RecordingEvent,
  kind: EventKind,
  data: Uint8Array,
  channel = SESSION_CHANNEL,
): RecordingEvent {
  return { seq: at.seq, time: at.time, channel, kind, data };
}

function json(at: RecordingEvent, kind: EventKind, value: unknown): RecordingEvent {
  return derived(at, kind, Buffer.from(JSON.stringify(value), 'utf8'));
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
