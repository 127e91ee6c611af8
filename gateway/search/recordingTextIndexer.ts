/**
 * Keeps the search index up to date as recordings are written: the recorder hands every frame
 * to a per-session observer (recorder.ts `observe`), the deriver turns frames into text, and
 * at each signed checkpoint (about once a second while a session is active, and at its end)
 * the text gathered so far is stored in one insert. A search therefore never reads a
 * recording, and the index trails the recording by at most a checkpoint interval.
 *
 * Indexing never holds up or fails a session: frames are looked at synchronously (the data
 * belongs to the proxy until its append settles, so it is decoded right away, not kept), and
 * store writes happen in the background, one at a time per session; a failed write is logged
 * and that text is missing from the index (the recording itself is unaffected).
 */

import type { RecordingEvent } from '../../shared/recording/recordingFormat.ts';
import type { Logger } from '../logger.ts';
import { silentLogger } from '../logger.ts';
import type { FrameObserver } from '../recorder/recorder.ts';
import type { RecordingTextWriter } from '../store/recordingTextStore.ts';
import { RecordingTextDeriver, type RecordingTextDeriverOptions } from './recordingTextDeriver.ts';

/** While re-indexing, finished entries are stored every this many frames. */
const REINDEX_FRAMES_PER_WRITE = 2000;

export class RecordingTextIndexer {
  private readonly writing = new Set<Promise<void>>();

  constructor(
    private readonly store: RecordingTextWriter,
    private readonly options: RecordingTextDeriverOptions & { log?: Logger } = {},
  ) {}

  /** The observer for a recording that starts now. */
  observe(sessionId: string): FrameObserver {
    const log = this.options.log ?? silentLogger;
    const deriver = new RecordingTextDeriver(sessionId, this.options);
    let chain: Promise<void> = Promise.resolve();
    let broken = false;
    const store = (flush: boolean) => {
      const entries = deriver.take({ flush });
      if (entries.length === 0) return chain;
      chain = chain.then(async () => {
        try {
          await this.store.insertRecordingText(entries);
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
      frame: (frame) => deriver.frame(frame),
      checkpoint: () => {
        void store(true);
      },
      end: () => store(true),
    };
  }

  /**
   * Rebuilds one recording's index from its stored events: recordings made before the index
   * existed, or whose index writes failed. Its old entries are removed first; the new ones get
   * new ids, so they sort as newly indexed. Returns the number of entries stored.
   */
  async reindex(sessionId: string, events: AsyncIterable<RecordingEvent>): Promise<number> {
    const deriver = new RecordingTextDeriver(sessionId, this.options);
    await this.store.deleteRecordingText(sessionId);
    let stored = 0;
    let frames = 0;
    const store = async (flush: boolean) => {
      const entries = deriver.take({ flush });
      if (entries.length === 0) return;
      await this.store.insertRecordingText(entries);
      stored += entries.length;
    };
    for await (const event of events) {
      deriver.frame(event);
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

  private track(write: Promise<void>): void {
    this.writing.add(write);
    void write.finally(() => this.writing.delete(write));
  }
}
