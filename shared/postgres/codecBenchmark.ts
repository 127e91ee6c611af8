/**
 * Micro benchmark of the codec's hot path: a large result set arriving from the server as
 * socket-sized chunks of DataRows. Not part of the test run (it would compete for CPU);
 * run it on its own:
 *
 *     npx tsx shared/postgres/codecBenchmark.ts [rows]
 *
 * It reports three stages separately, because the proxy pays for them separately: framing
 * (every row, to forward it), decoding (rows it records or masks) and re-encoding (rows it
 * masks).
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageReader } from './codec.ts';
import type { Frame } from './messages.ts';
import { decodeDataRow } from './messagesDecode.ts';
import { encodeDataRow } from './messagesEncode.ts';

export interface DataRowBenchmarkOptions {
  /** Rows in the result set (default 200,000). */
  rows?: number;
  /** Columns per row (default 8); every 4th value is NULL. */
  columns?: number;
  /** Bytes per non-NULL value (default 16). */
  valueBytes?: number;
  /** Size of the chunks the stream is cut into, as a socket would deliver it (default 64 KiB). */
  chunkBytes?: number;
  /** Repetitions; the fastest is reported (default 5). */
  rounds?: number;
}

export interface StageThroughput {
  /** Fastest round, in seconds. */
  seconds: number;
  rowsPerSecond: number;
  mebibytesPerSecond: number;
}

export interface DataRowBenchmarkResult {
  rows: number;
  bytes: number;
  /** `MessageReader.push` over all chunks: frames only. */
  framing: StageThroughput;
  /** Framing plus `decodeDataRow` of every frame. */
  framingAndDecoding: StageThroughput;
  /** `encodeDataRow` of every decoded row (the masking path's re-encode). */
  reencoding: StageThroughput;
}

export function benchmarkDataRowParsing(
  options: DataRowBenchmarkOptions = {},
): DataRowBenchmarkResult {
  const rows = options.rows ?? 200_000;
  const columns = options.columns ?? 8;
  const valueBytes = options.valueBytes ?? 16;
  const chunkBytes = options.chunkBytes ?? 64 * 1024;
  const rounds = options.rounds ?? 5;

  const values = Array.from({ length: columns }, (_, i) =>
    i % 4 === 3 ? null : Buffer.alloc(valueBytes, 0x61 + i),
  );
  const row = encodeDataRow(values);
  const stream = Buffer.alloc(row.length * rows);
  for (let i = 0; i < rows; i++) row.copy(stream, i * row.length);
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < stream.length; offset += chunkBytes) {
    chunks.push(stream.subarray(offset, offset + chunkBytes));
  }

  const measure = (run: () => number): StageThroughput => {
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
      const seen = run();
      const seconds = (performance.now() - started) / 1000;
      if (seen !== rows) throw new Error(`benchmark saw ${seen} rows, expected ${rows}`);
      best = Math.min(best, seconds);
    }
    return {
      seconds: best,
      rowsPerSecond: rows / best,
      mebibytesPerSecond: stream.length / (1024 * 1024) / best,
    };
  };

  const frameAll = (onFrame: (frame: Frame) => void): number => {
    const reader = new MessageReader('backend');
    let count = 0;
    for (const chunk of chunks) {
      for (const frame of reader.push(chunk)) {
        onFrame(frame);
        count++;
      }
    }
    return count;
  };

  const framing = measure(() => frameAll(() => {}));
  let checksum = 0;
  const framingAndDecoding = measure(() =>
    frameAll((frame) => {
      checksum += decodeDataRow(frame.body).values.length;
    }),
  );
  const decoded = Array.from({ length: Math.min(rows, 1000) }, (_, i) => {
    const offset = (i % rows) * row.length;
    return decodeDataRow(stream.subarray(offset + 5, offset + row.length)).values;
  });
  const reencoding = measure(() => {
    let count = 0;
    for (let i = 0; i < rows; i++) {
      checksum += encodeDataRow(decoded[i % decoded.length]!).length;
      count++;
    }
    return count;
  });
  if (checksum === 0) throw new Error('benchmark did no work');

  return { rows, bytes: stream.length, framing, framingAndDecoding, reencoding };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const rows = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
  const result = benchmarkDataRowParsing(rows === undefined ? {} : { rows });
  const line = (name: string, stage: StageThroughput) =>
    `${name.padEnd(22)} ${Math.round(stage.rowsPerSecond).toLocaleString('en')} rows/s, ` +
    `${stage.mebibytesPerSecond.toFixed(0)} MiB/s`;
  console.log(`${result.rows} DataRows, ${(result.bytes / 1024 / 1024).toFixed(1)} MiB`);
  console.log(line('framing', result.framing));
  console.log(line('framing + decoding', result.framingAndDecoding));
  console.log(line('re-encoding', result.reencoding));
}
