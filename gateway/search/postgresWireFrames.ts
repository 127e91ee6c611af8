/**
 * What the search deriver is fed of a PostgreSQL session recorded as wire (FORMAT.md §5.3):
 * the `q`, `E` and `N` events the wire bytes carry (shared/recording/postgresWire.ts), in
 * place of the `p` / `P` frames, which the deriver does not read. Rows, descriptions and tags
 * are not searched, so they are not decoded. Sits in front of the indexer, at the two places
 * frames reach it: the recorder's observer (as a session is recorded) and re-indexing.
 */
import {
  expandPostgresWire,
  isPostgresWire,
  PostgresWireEvents,
} from '../../shared/recording/postgresWire.ts';
import { eventKinds, type RecordingEvent } from '../../shared/recording/recordingFormat.ts';
import type { FrameObserver } from '../recorder/recorder.ts';

/** The deriver reads a query's text and an error's or notice's messages, nothing else. */
const SEARCHED = {
  kinds: new Set([eventKinds.query, eventKinds.error, eventKinds.notice]),
  queryParams: false,
};

/** `observer` fed the searchable events of wire frames; other frames pass as they are. */
export function withPostgresWireExpanded(observer: FrameObserver): FrameObserver {
  let wire: PostgresWireEvents | undefined;
  return {
    frame: (frame) => {
      if (!isPostgresWire(frame)) {
        observer.frame(frame);
        return;
      }
      wire ??= new PostgresWireEvents(SEARCHED);
      for (const event of wire.accept(frame)) observer.frame(event);
    },
    checkpoint: (seq) => observer.checkpoint(seq),
    end: () => observer.end(),
  };
}

/** A stored recording's events as re-indexing feeds them to the deriver. */
export function searchableEvents(
  events: AsyncIterable<RecordingEvent>,
): AsyncGenerator<RecordingEvent> {
  return expandPostgresWire(events, SEARCHED);
}
