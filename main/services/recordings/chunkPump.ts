/**
 * Feeds a stream's chunks to a callback from its 'data' events, pausing the stream while the
 * callback's backpressure promise is pending.
 *
 * Why not `for await (const chunk of stream)` in the caller: a download of 100 MiB is ~6,400
 * TLS records, and an async function resumed once per record is re-optimized by V8 on every
 * open — it kept deoptimizing (code after the loop had no type feedback yet) and each
 * recompile of the whole function took 20–70 ms of a V8 background thread (`--trace-opt`,
 * `bench:replay`). The per-chunk work lives in a small callback instead, which stays optimized.
 */
import type { Readable } from 'node:stream';
import { finished } from 'node:stream';

/** Returned by the callback to stop reading: the pump resolves, the stream is left paused. */
export const STOP_READING = Symbol('stop reading');

/**
 * What the callback returns for each chunk: undefined to go on, a promise to wait for before
 * the next chunk (a rejection ends the pump with that error), or STOP_READING.
 */
export type ChunkOutcome = undefined | Promise<unknown> | typeof STOP_READING;

/**
 * Resolves when the stream ends (or the callback stopped it); rejects with the stream's error,
 * a premature close, or what the callback threw.
 */
export function pumpChunks(
  stream: Readable,
  onChunk: (chunk: Buffer) => ChunkOutcome,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    // `finished` reports the end, an error, and a close before the end (ERR_STREAM_PREMATURE_CLOSE).
    const stopWatching = finished(stream, { writable: false }, (error) => end(error ?? undefined));
    function end(error?: unknown): void {
      if (done) return;
      done = true;
      stream.off('data', onData);
      stopWatching();
      if (error === undefined) resolve();
      else reject(error);
    }
    function onData(chunk: Buffer): void {
      if (done) return;
      let outcome: ChunkOutcome;
      try {
        outcome = onChunk(chunk);
      } catch (error) {
        stream.pause();
        end(error);
        return;
      }
      if (outcome === undefined) return;
      stream.pause();
      if (outcome === STOP_READING) {
        end();
        return;
      }
      outcome.then(
        () => {
          if (!done) stream.resume();
        },
        (error: unknown) => end(error ?? new Error('the download was stopped')),
      );
    }
    stream.on('data', onData);
  });
}
