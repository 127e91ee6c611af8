/**
 * A recording's seek table (issue #16): for each checkpoint, the seq and chain hash it signs,
 * its time, and where it and the records after its frames lie in the stream. With it a reader
 * fetches and verifies any stretch between two checkpoints on its own (verifyStretch.ts)
 * instead of the whole stream from its header.
 *
 * The table is a map, not evidence: nothing in it is signed as a table. A wrong offset or hash
 * makes the stretch it names fail verification; it can never make bytes pass. So the gateway
 * may build it however it likes — the recorder notes each checkpoint as it writes it, and
 * `SeekTableScanner` rebuilds it from the stored bytes by reading only record heads (a frame's
 * payload is skipped, never hashed or copied), which is also how a bundle file gets one.
 */
import {
  type Checkpoint,
  decodeCheckpointRecord,
  type RecordingFormatVersion,
  recordingVersionOfMagic,
} from './recordingFormat.ts';

export interface SeekPoint {
  /** Last frame the checkpoint covers. */
  seq: number;
  /** The chain hash after frame `seq` that the checkpoint signs (hex). */
  hash: string;
  /** Epoch ms when the checkpoint was made. */
  time: number;
  /** Epoch ms of frame `seq` (the last frame covered); the checkpoint's own time if none. */
  frameTime: number;
  final: boolean;
  /** Where the checkpoint record starts and ends in the stream. */
  offset: number;
  end: number;
  /**
   * Where the records after frame `seq` start. Before `offset` when the checkpoint lags behind
   * frames written while its sync ran (FORMAT.md §3); equal to it otherwise.
   */
  from: number;
}

export interface SeekTable {
  sessionId: string;
  /** Where the first record after the header starts. */
  headerBytes: number;
  /** Stream bytes the table was built from (a live recording grows past it). */
  bytes: number;
  /** Epoch ms of the stream's first and last frames (0 when there is none). */
  firstFrameTime: number;
  lastFrameTime: number;
  frames: number;
  points: SeekPoint[];
}

/** The bytes of one stretch and where its verification starts. */
export interface StretchRange {
  /** Index of the checkpoint that ends the stretch. */
  index: number;
  /** Byte range of the stream to fetch: [from, to). */
  from: number;
  to: number;
  /** Null for the first stretch (verified from the header); else the checkpoint before it. */
  after: SeekPoint | null;
}

/** The stretch that ends with checkpoint `index`. */
export function stretchRange(table: SeekTable, index: number): StretchRange {
  const point = table.points[index];
  if (!point) throw new RangeError(`the seek table has no checkpoint ${index}`);
  if (index === 0) return { index, from: 0, to: point.end, after: null };
  const after = table.points[index - 1]!;
  return { index, from: Math.min(after.from, after.offset), to: point.end, after };
}

/**
 * The stretch holding the frames at epoch ms `time`: the first whose last covered frame is at
 * or after it (the last stretch for a time past the end). -1 when there is no checkpoint.
 */
export function stretchIndexAt(table: SeekTable, time: number): number {
  const points = table.points;
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]!.frameTime < time) lo = mid + 1;
    else hi = mid;
  }
  return Math.min(lo, points.length - 1);
}

const MAGIC_BYTES = 8;
const RECORD_HEAD_BYTES = 5;
/** A frame's fixed fields after its record head: version, kind, channel, seq, time. */
const FRAME_FIELDS_BYTES = 20;
const MAX_CHECKPOINT_PAYLOAD = 4096;

/**
 * Builds a seek table from a stream's bytes, pushed in order, reading record heads only: a
 * frame's data is skipped. It trusts nothing and checks little (the verifier does that); a
 * malformed stream just ends the table where the scan lost its way.
 */
export class SeekTableScanner {
  private readonly points: SeekPoint[] = [];
  private sessionId = '';
  private version: RecordingFormatVersion = 2;
  private headerBytes = 0;
  private offset = 0;
  /** Bytes of the current record to skip before the next head. */
  private skip = 0;
  /** The bytes of a head (or a whole checkpoint, or the header) being collected. */
  private held: Buffer = Buffer.alloc(0);
  private need = MAGIC_BYTES + 4;
  private state: 'header' | 'head' | 'frame' | 'checkpoint' | 'broken' = 'header';
  private recordStart = 0;
  private recordLength = 0;
  private frames = 0;
  private firstFrameTime = 0;
  private lastFrameTime = 0;
  /** Where the record after each frame since the last checkpoint starts, and its time. */
  private recent = new Map<number, { end: number; time: number }>();
  /** Where the record after the last checkpoint starts (the header's end before any). */
  private lastCheckpointEnd = 0;

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length && this.state !== 'broken') {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - at);
        this.skip -= n;
        at += n;
        this.offset += n;
        continue;
      }
      const want = this.need - this.held.length;
      const take = Math.min(want, chunk.length - at);
      this.held = Buffer.concat([this.held, chunk.subarray(at, at + take)]);
      at += take;
      this.offset += take;
      if (this.held.length === this.need) this.step();
    }
  }

  finish(): SeekTable {
    return {
      sessionId: this.sessionId,
      headerBytes: this.headerBytes,
      bytes: this.offset,
      firstFrameTime: this.firstFrameTime,
      lastFrameTime: this.lastFrameTime,
      frames: this.frames,
      points: this.points,
    };
  }

  private step(): void {
    const held = this.held;
    switch (this.state) {
      case 'header': {
        if (this.need === MAGIC_BYTES + 4) {
          const version = recordingVersionOfMagic(held);
          if (version === undefined) {
            this.state = 'broken';
            return;
          }
          this.version = version;
          this.need += held.readUInt32BE(MAGIC_BYTES);
          if (this.need > MAGIC_BYTES + 4 + 1024 * 1024) this.state = 'broken';
          return;
        }
        try {
          const header = JSON.parse(held.subarray(MAGIC_BYTES + 4).toString('utf8')) as {
            sessionId?: unknown;
          };
          this.sessionId = typeof header.sessionId === 'string' ? header.sessionId : '';
        } catch {
          this.state = 'broken';
          return;
        }
        this.headerBytes = this.offset;
        this.nextHead();
        return;
      }
      case 'head': {
        const type = held[0];
        this.recordLength = held.readUInt32BE(1);
        if (type === 0x46 && this.recordLength >= FRAME_FIELDS_BYTES) {
          this.state = 'frame';
          this.need = RECORD_HEAD_BYTES + FRAME_FIELDS_BYTES;
        } else if (type === 0x43 && this.recordLength <= MAX_CHECKPOINT_PAYLOAD) {
          this.state = 'checkpoint';
          this.need = RECORD_HEAD_BYTES + this.recordLength;
        } else {
          this.state = 'broken';
        }
        return;
      }
      case 'frame': {
        const seq = readU64(held, RECORD_HEAD_BYTES + 4);
        const time = readU64(held, RECORD_HEAD_BYTES + 12);
        const end = this.recordStart + RECORD_HEAD_BYTES + this.recordLength;
        this.frames = seq;
        if (this.firstFrameTime === 0) this.firstFrameTime = time;
        this.lastFrameTime = time;
        this.recent.set(seq, { end, time });
        this.skip = end - this.offset;
        this.nextHead();
        return;
      }
      case 'checkpoint': {
        let checkpoint: Checkpoint;
        try {
          checkpoint = decodeCheckpointRecord(held.subarray(RECORD_HEAD_BYTES), this.version);
        } catch {
          this.state = 'broken';
          return;
        }
        const covered = this.recent.get(checkpoint.seq);
        // A checkpoint started right after a lagging one, with no frame written in between,
        // covers frames that precede the lagging one's record: its stretch must still start
        // after that record, which a verifier resumed here would see as going back (the
        // recordingSeekTable flake under load, issue #16).
        const from =
          checkpoint.seq === 0
            ? this.headerBytes
            : Math.max(covered?.end ?? this.recordStart, this.lastCheckpointEnd);
        this.points.push({
          seq: checkpoint.seq,
          hash: Buffer.from(checkpoint.hash).toString('hex'),
          time: checkpoint.time,
          frameTime: covered?.time ?? checkpoint.time,
          final: checkpoint.final,
          offset: this.recordStart,
          end: this.offset,
          from,
        });
        // Frame `seq` stays: a later checkpoint may cover the same frame (the final one).
        for (const seq of this.recent.keys()) if (seq < checkpoint.seq) this.recent.delete(seq);
        this.lastCheckpointEnd = this.offset;
        this.nextHead();
        return;
      }
      case 'broken':
        return;
    }
  }

  private nextHead(): void {
    this.state = 'head';
    this.need = RECORD_HEAD_BYTES;
    this.held = Buffer.alloc(0);
    this.recordStart = this.offset + this.skip;
  }
}

/** Builds the seek table of a whole stream. */
export async function scanSeekTable(
  source: Uint8Array | AsyncIterable<Uint8Array>,
): Promise<SeekTable> {
  const scanner = new SeekTableScanner();
  if (source instanceof Uint8Array) scanner.push(source);
  else for await (const chunk of source) scanner.push(chunk);
  return scanner.finish();
}

function readU64(bytes: Buffer, at: number): number {
  return bytes.readUInt32BE(at) * 2 ** 32 + bytes.readUInt32BE(at + 4);
}
