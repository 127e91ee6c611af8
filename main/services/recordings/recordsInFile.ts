/**
 * The records of a recording file, read in large chunks from `startOffset`. A malformed record
 * ends the stream after the good records before it: verification has already said where trust
 * ends, and what precedes the bad record is still worth indexing and showing.
 */
import { createReadStream } from 'node:fs';
import {
  RecordingFormatError,
  RecordingReader,
} from '../../../shared/recording/recordingFormat.ts';

export type RecordInFile = ReturnType<RecordingReader['push']>[number];

const READ_CHUNK_BYTES = 4 * 1024 * 1024;

export async function* recordsInFile(file: string, startOffset = 0): AsyncGenerator<RecordInFile> {
  const reader = new RecordingReader();
  // Breaking out of the caller's loop runs `finally`, which closes the file.
  const stream = createReadStream(file, { start: startOffset, highWaterMark: READ_CHUNK_BYTES });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let records: RecordInFile[];
      let stop = false;
      try {
        records = reader.push(chunk);
      } catch (error) {
        if (!(error instanceof RecordingFormatError)) throw error;
        records = error.records;
        stop = true;
      }
      yield* records;
      if (stop) return;
    }
  } finally {
    stream.destroy();
  }
}
