/**
 * The search index over recordings: text derived from them (search/recordingTextDeriver.ts) —
 * reconstructed command lines, queries, stretches of ANSI-stripped output — and the search
 * that finds it. Derived data, not part of any recording's chain: the recording stays the
 * record, this is an index of it that can be dropped and rebuilt.
 */
import type { RecordingFilter, RecordingMetadata } from './recordingStore.ts';

export type RecordingTextKind = 'input' | 'output' | 'command' | 'query';

/** One piece of derived text at one place in one recording. */
export interface RecordingTextEntry {
  sessionId: string;
  /** Seq of the frame the text starts at (for a command, the frame with its Enter). */
  seq: number;
  /** Epoch ms of that frame. */
  time: number;
  channel: number;
  kind: RecordingTextKind;
  text: string;
}

export interface RecordingTextSearch {
  /**
   * Normalized words (lower-case runs of letters and digits, see indexedText.ts); every one
   * must match, as a word or a prefix.
   */
  terms: string[];
  filter: Omit<RecordingFilter, 'after' | 'limit'>;
  /** Paging: only hits with an id below this (hits come newest first, by id). */
  beforeId?: number;
  limit: number;
}

export interface RecordingTextHit extends RecordingTextEntry {
  /** Increases in the order text was indexed: the paging position. */
  id: number;
  recording: RecordingMetadata;
}

/** Writing the index: what the indexer needs. */
export interface RecordingTextWriter {
  /**
   * Adds derived text to the index (in one transaction); entries without words are skipped.
   * A text already indexed (a statement run again) is stored once and referenced again.
   */
  insertRecordingText(entries: readonly RecordingTextEntry[]): Promise<void>;
  /** Removes a recording's derived text (before re-indexing it); returns the entries removed. */
  deleteRecordingText(sessionId: string): Promise<number>;
}

/** Reading the index: what the search route needs. */
export interface RecordingTextSearcher {
  /**
   * Indexed text matching every term, newest first (by id), with its recording, filtered like
   * listRecordings. Served by the full-text index (FTS5 / tsvector + GIN), never a scan.
   * Every occurrence of a text is a hit of its own.
   */
  searchRecordingText(search: RecordingTextSearch): Promise<RecordingTextHit[]>;
  /** The derived text of one recording in seq order (tests, re-indexing checks). */
  listRecordingText(sessionId: string): Promise<RecordingTextEntry[]>;
}

export interface RecordingTextStore extends RecordingTextWriter, RecordingTextSearcher {}
