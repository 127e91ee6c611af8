/**
 * A recording stream in a local file (the desktop's cache, or an offline bundle whose stream
 * starts after its prefix) served as a progressive open's source (issue #16, third bullet):
 * the same ProgressiveRecording verifies it stretch by stretch from disk, without the network,
 * so a cached or bundled recording opens as fast as a downloaded one and is checked by the
 * same code. Nothing read here is trusted: the file may have been edited since it was written,
 * and the verifier says at which seq.
 */
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Download } from '../../../gateway-client/gatewayClient.ts';
import { type SeekTable, scanSeekTable } from '../../../shared/recording/seekTable.ts';
import type { ProgressiveSource } from './progressiveRecording.ts';

export interface LocalStream {
  file: string;
  /** Where the stream starts in `file` (a bundle's prefix comes first). */
  startOffset: number;
  /** The stream's length in bytes (to the file's end). */
  length: number;
}

/** Serves [from, to) of the stream; `to` is clamped to its length. */
function rangeOf(stream: LocalStream, from: number, to: number): Download {
  const end = Math.min(to, stream.length);
  const length = Math.max(0, end - from);
  const body =
    length === 0
      ? Readable.from([])
      : createReadStream(stream.file, {
          start: stream.startOffset + from,
          end: stream.startOffset + end - 1,
          highWaterMark: 1024 * 1024,
        });
  return { body, contentType: 'application/octet-stream', contentLength: length };
}

export function localProgressiveSource(stream: LocalStream): ProgressiveSource {
  // Built once, on the first seek that needs it: a scan of record heads from disk.
  let table: Promise<SeekTable> | null = null;
  return {
    downloadRecording: async () => rangeOf(stream, 0, stream.length),
    downloadRecordingRange: async (_id, from, to) => rangeOf(stream, from, to),
    getRecordingSeekTable: () => {
      table ??= scanSeekTable(rangeOf(stream, 0, stream.length).body);
      return table;
    },
  };
}
