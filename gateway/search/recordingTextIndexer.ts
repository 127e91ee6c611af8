/**
 * Keeps the search index up to date as recordings are written: the recorder hands every frame
 * to a per-session observer (recorder.ts `observe`), a worker thread turns frames into text
 * (textDerivationWorker.ts), and at each signed checkpoint (about once a second while a session
 * is active, and at its end) the text derived so far is stored in one insert. A search
 * therefore never reads a recording, and the index trails the recording by about a checkpoint
 * interval.
 *
 * Indexing never holds up or fails a session: on the event loop a frame is only weighed
 * against the output budget (outputBudget.ts) and copied into the worker's next batch; store
 * writes happen in the background, one at a time per session; a failed write is logged and
 * that text is missing from the index (the recording itself is unaffected). On SQLite the
 * worker stores what it derives itself, over its own connection (worker option `indexFile`),
 * so the entries never come back to this thread. Without a worker (it could not start, or
 * failed) the text is derived and stored on the calling thread, as before.
 */

import { eventKinds, type RecordingEvent } from '../../shared/recording/recordingFormat.ts';
import type { Logger } from '../logger.ts';
import { silentLogger } from '../logger.ts';
import type { FrameObserver } from '../recorder/recorder.ts';
import type { RecordingTextEntry, RecordingTextWriter } from '../store/recordingTextStore.ts';
import {
  GATEWAY_OUTPUT_BUDGET,
  OutputBudget,
  type OutputBudgetOptions,
  SESSION_OUTPUT_BUDGET,
} from './outputBudget.ts';
import type { DerivableFrame, RecordingTextDeriverOptions } from './recordingTextDeriver.ts';
import { SessionDerivation } from './sessionDerivation.ts';
import {
  IndexWriteError,
  TextDerivationWorker,
  type TextDerivationWorkerOptions,
} from './textDerivationWorker.ts';

/** While re-indexing, finished entries are stored every this many frames. */
const REINDEX_FRAMES_PER_WRITE = 2000;

export interface RecordingTextIndexerOptions extends RecordingTextDeriverOptions {
  log?: Logger;
  /** Derive on a worker thread (default) or on the calling thread. */
  worker?: boolean | TextDerivationWorkerOptions;
  /** Output indexed per session (outputBudget.ts). */
  sessionOutputBudget?: OutputBudgetOptions;
  /** Output indexed for all live sessions together. */
  gatewayOutputBudget?: OutputBudgetOptions;
}

export class RecordingTextIndexer {
  private readonly writing = new Set<Promise<void>>();
  private readonly worker: TextDerivationWorker | undefined;
  private readonly gatewayBudget: OutputBudget;
  private readonly deriverOptions: RecordingTextDeriverOptions;

  constructor(
    private readonly store: RecordingTextWriter,
    private readonly options: RecordingTextIndexerOptions = {},
  ) {
    const { worker = true } = options;
    this.worker = worker
      ? new TextDerivationWorker({
          ...(options.log && { log: options.log }),
          ...(typeof worker === 'object' && worker),
        })
      : undefined;
    this.gatewayBudget = new OutputBudget(options.gatewayOutputBudget ?? GATEWAY_OUTPUT_BUDGET);
    this.deriverOptions = {
      ...(options.maxOutputChars !== undefined && { maxOutputChars: options.maxOutputChars }),
      ...(options.entryChars !== undefined && { entryChars: options.entryChars }),
    };
  }

  /** The observer for a recording that starts now. */
  observe(sessionId: string): FrameObserver {
    const log = this.options.log ?? silentLogger;
    const budget = new OutputBudget(this.options.sessionOutputBudget ?? SESSION_OUTPUT_BUDGET);
    const worker = this.worker?.open(sessionId, this.deriverOptions) ? this.worker : undefined;
    /** Set when deriving on this thread: no worker, or it failed during the session. */
    let inline = worker ? undefined : new SessionDerivation(sessionId, this.deriverOptions);
    const goInline = () => {
      inline ??= new SessionDerivation(sessionId, this.deriverOptions);
      inline.gap(); // what the worker had not answered for is lost
      return inline;
    };
    const frame = (frame: DerivableFrame) => {
      if (isOutput(frame.kind)) {
        const length = frame.data.length;
        if (!budget.allows(frame.time) || !this.gatewayBudget.allows(frame.time)) {
          if (inline) inline.gap();
          else worker?.gap(sessionId);
          return;
        }
        budget.take(length, frame.time);
        this.gatewayBudget.take(length, frame.time);
      }
      if (inline) inline.frame(frame);
      else if (!worker?.frame(sessionId, frame)) goInline().frame(frame);
    };
    const take = (end: boolean): Promise<RecordingTextEntry[]> => {
      if (inline) return Promise.resolve(inline.take({ flush: true }));
      return (worker as TextDerivationWorker)
        .take(sessionId, { flush: true, end })
        .catch((error: unknown) => {
          // A failed store write is logged below like any; only a failed worker goes inline.
          if (error instanceof IndexWriteError) throw error;
          return goInline().take({ flush: true });
        });
    };
    let chain: Promise<void> = Promise.resolve();
    let broken = false;
    const store = (end: boolean) => {
      // Asked now, so the answer covers every frame so far; stored after the previous write.
      const entries = take(end);
      chain = chain.then(async () => {
        try {
          const taken = await entries;
          if (taken.length > 0) await this.store.insertRecordingText(taken);
        } catch (error) {
          if (!broken) {
            log.warn('could not index recording text; searches will miss part of it', {
              sessionId,
              error: error instanceof Error ? error.message : String(error),
            });
          }
          broken = true;
        }
      });
      this.track(chain);
      return chain;
    };
    return {
      frame,
      checkpoint: () => {
        void store(false);
      },
      end: () => store(true),
    };
  }

  /**
   * Rebuilds one recording's index from its stored events: recordings made before the index
   * existed, or whose index writes failed. Its old entries are removed first; the new ones get
   * new ids, so they sort as newly indexed. The session's output budget applies by the frames'
   * recorded times, as it did live. Returns the number of entries stored.
   */
  async reindex(sessionId: string, events: AsyncIterable<RecordingEvent>): Promise<number> {
    const derivation = new SessionDerivation(sessionId, this.deriverOptions);
    const budget = new OutputBudget(this.options.sessionOutputBudget ?? SESSION_OUTPUT_BUDGET);
    await this.store.deleteRecordingText(sessionId);
    let stored = 0;
    let frames = 0;
    const store = async (flush: boolean) => {
      const entries = derivation.take({ flush });
      if (entries.length === 0) return;
      await this.store.insertRecordingText(entries);
      stored += entries.length;
    };
    for await (const event of events) {
      if (isOutput(event.kind) && !budget.take(event.data.length, event.time)) derivation.gap();
      else derivation.frame(event);
      frames += 1;
      if (frames % REINDEX_FRAMES_PER_WRITE === 0) await store(false);
    }
    await store(true);
    return stored;
  }

  /** Waits for every index write started so far (shutdown, tests). */
  async idle(): Promise<void> {
    while (this.writing.size > 0) await Promise.all([...this.writing]);
  }

  /** Waits for the writes, then stops the worker. */
  async close(): Promise<void> {
    await this.idle();
    await this.worker?.close();
  }

  private track(write: Promise<void>): void {
    this.writing.add(write);
    void write.finally(() => this.writing.delete(write));
  }
}

function isOutput(kind: string): boolean {
  return kind === eventKinds.output || kind === eventKinds.stderr;
}
