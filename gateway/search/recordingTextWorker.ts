/**
 * The search-text worker's body (loaded by textDerivationWorker.ts on a worker thread): keeps
 * one SessionDerivation per recording and answers the main thread's messages in order.
 *
 * Messages (textDerivationWorker.ts builds them):
 * - `{ open, options }` starts a recording's derivation;
 * - `{ frames }` derives a batch of frames (frameBatch.ts; a frame marked `gap` follows
 *   frames left out);
 * - `{ take, id, flush, end }` answers `{ id, entries, processed }`: the entries derived so
 *   far and the frame bytes taken in since the worker started; with `end` it forgets the
 *   recording. Started with `workerData.indexFile` (a SQLite store's file), the worker stores
 *   the entries itself, in one transaction, and answers with none (`writeError` if that
 *   failed): the entries are not copied back, nor written by the proxy's thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SqliteRecordingTextWriter } from '../store/sqliteRecordingTextWriter.ts';
import type { RecordingTextEntry } from '../store/store.ts';
import { type FrameBatchMessage, framesOf } from './frameBatch.ts';
import type { RecordingTextDeriverOptions } from './recordingTextDeriver.ts';
import { SessionDerivation } from './sessionDerivation.ts';

export type ToTextWorker =
  | { open: string; options: RecordingTextDeriverOptions }
  | { frames: FrameBatchMessage }
  | { take: string; id: number; flush: boolean; end: boolean };

export type FromTextWorker =
  | { id: number; entries: RecordingTextEntry[]; processed: number; writeError?: string }
  | { id: number; error: string };

const sessions = new Map<string, SessionDerivation>();
let processed = 0;
const indexFile = (workerData as { indexFile?: string } | undefined)?.indexFile;
/** Opened at the first entries to store (the gateway has migrated the file by then). */
let writer: SqliteRecordingTextWriter | undefined;

function handle(message: ToTextWorker): FromTextWorker | undefined {
  if ('open' in message) {
    sessions.set(message.open, new SessionDerivation(message.open, message.options));
    return undefined;
  }
  if ('frames' in message) {
    for (const { sessionId, frame, gap } of framesOf(message.frames)) {
      processed += frame.data.length;
      const session = sessions.get(sessionId);
      if (!session) continue;
      if (gap) session.gap();
      session.frame(frame);
    }
    return undefined;
  }
  const session = sessions.get(message.take);
  const entries = session?.take({ flush: message.flush }) ?? [];
  if (message.end) sessions.delete(message.take);
  if (indexFile === undefined || entries.length === 0)
    return { id: message.id, entries, processed };
  try {
    writer ??= SqliteRecordingTextWriter.open(indexFile);
    writer.insertNow(entries);
    return { id: message.id, entries: [], processed };
  } catch (error) {
    const writeError = error instanceof Error ? error.message : String(error);
    return { id: message.id, entries: [], processed, writeError };
  }
}

parentPort?.on('message', (message: ToTextWorker) => {
  let reply: FromTextWorker | undefined;
  try {
    reply = handle(message);
  } catch (error) {
    // The deriver never throws on odd data; this is a bug. The main thread falls back.
    const id = 'id' in message ? message.id : 0;
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  if (reply) parentPort?.postMessage(reply);
});
