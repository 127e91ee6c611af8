/**
 * Edits a stored recording segment behind the gateway's back, the way someone with the data
 * directory could (issue #12), and says which seq verification must name. Each edit reads the
 * segment with the real reader first, so the expected seq is found independently of the
 * verifier under test.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RecordingReader, type RecordingRecord } from '../../shared/recording/recordingFormat.ts';

export interface Segment {
  file: string;
  bytes: Buffer;
  records: RecordingRecord[];
}

/** The one segment of a short recording (the file-system store: recordings/<session>/). */
export function readSegment(dataDir: string, sessionId: string): Segment {
  const file = path.join(dataDir, 'recordings', sessionId, '000000.seg');
  const bytes = readFileSync(file);
  return { file, bytes, records: new RecordingReader().push(bytes) };
}

type FrameRecord = Extract<RecordingRecord, { type: 'frame' }>;
type CheckpointRecord = Extract<RecordingRecord, { type: 'checkpoint' }>;

const frames = (s: Segment) => s.records.filter((r): r is FrameRecord => r.type === 'frame');
const checkpoints = (s: Segment) =>
  s.records.filter((r): r is CheckpointRecord => r.type === 'checkpoint');
const endOf = (s: Segment, record: RecordingRecord) =>
  s.records[s.records.indexOf(record) + 1]?.offset ?? s.bytes.length;

/**
 * An output frame with data in the middle of the recording, covered by a checkpoint that is
 * neither the first nor the last, so every edit lands well inside the signed chain.
 */
export function middleFrame(
  s: Segment,
  also: (frame: FrameRecord) => boolean = () => true,
): FrameRecord {
  const all = frames(s);
  const from = Math.floor(all.length / 2);
  const found = all
    .slice(from)
    .find((r) => r.event.kind === 'o' && r.event.data.length > 1 && also(r));
  if (!found) throw new Error(`no output frame after seq ${from} in ${s.file}`);
  return found;
}

/** Flips one bit of a frame's data. Verification must fail at that frame. */
export function flipByte(s: Segment): number {
  const frame = middleFrame(s);
  // The data ends just before the frame's 32-byte stored chain hash.
  const at = endOf(s, frame) - 32 - 1;
  const bytes = Buffer.from(s.bytes);
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0x20, at);
  writeFileSync(s.file, bytes);
  return frame.event.seq;
}

/** Cuts the file in the middle of a frame record: everything from that frame on is gone. */
export function cutInsideRecord(s: Segment): number {
  const frame = middleFrame(s);
  writeFileSync(s.file, s.bytes.subarray(0, frame.offset + 7));
  return frame.event.seq;
}

/** Removes one frame record whole. Verification must fail at the seq that is now missing. */
export function dropFrame(s: Segment): number {
  // A frame followed by a frame: dropping one just before a checkpoint is reported by that
  // checkpoint ("covers frames that are not there"), a different message at the same seq.
  const frame = middleFrame(
    s,
    (frame) => s.records[s.records.indexOf(frame) + 1]?.type === 'frame',
  );
  writeFileSync(
    s.file,
    Buffer.concat([s.bytes.subarray(0, frame.offset), s.bytes.subarray(endOf(s, frame))]),
  );
  return frame.event.seq;
}

/** Swaps a frame record with the next one. Verification must fail at the first of the two. */
export function swapFrames(s: Segment): number {
  const next = (frame: FrameRecord) => s.records[s.records.indexOf(frame) + 1];
  const first = middleFrame(s, (frame) => next(frame)?.type === 'frame');
  const second = next(first);
  if (second?.type !== 'frame') throw new Error('the middle frame is not followed by a frame');
  writeFileSync(
    s.file,
    Buffer.concat([
      s.bytes.subarray(0, first.offset),
      s.bytes.subarray(second.offset, endOf(s, second)),
      s.bytes.subarray(first.offset, second.offset),
      s.bytes.subarray(endOf(s, second)),
    ]),
  );
  return first.event.seq;
}

/**
 * Changes one byte of the signature of a checkpoint in the middle (the signature is the last
 * bytes of its record). Verification must fail at that checkpoint's seq: the frames before it
 * still chain to the next, validly signed checkpoint, so the checkpoint is what was forged.
 */
export function forgeSignature(s: Segment): number {
  const all = checkpoints(s);
  if (all.length < 3) throw new Error(`only ${all.length} checkpoints in ${s.file}`);
  const forged = all[Math.floor(all.length / 2)]!;
  const at = endOf(s, forged) - 1;
  const bytes = Buffer.from(s.bytes);
  bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
  writeFileSync(s.file, bytes);
  return forged.checkpoint.seq;
}

/**
 * Cuts a complete recording at a record boundary right after its last checkpoint but one,
 * so what is left looks like a recording interrupted there. Returns the first seq cut away
 * and the seq the remaining checkpoint covers.
 */
export function cutAfterCheckpoint(s: Segment): { firstBadSeq: number; checkpointSeq: number } {
  const all = checkpoints(s);
  if (all.length < 3) throw new Error(`only ${all.length} checkpoints in ${s.file}`);
  const kept = all.at(-2)!;
  const end = endOf(s, kept);
  writeFileSync(s.file, s.bytes.subarray(0, end));
  const framesLeft = frames(s).filter((r) => r.offset < end).length;
  return { firstBadSeq: framesLeft + 1, checkpointSeq: kept.checkpoint.seq };
}
