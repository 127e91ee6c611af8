/**
 * What the search deriver is fed of a PostgreSQL session recorded as wire (FORMAT.md §5.3):
 * the `q`, `D`, `E` and `N` events the wire bytes carry (shared/recording/postgresWire.ts), in
 * place of the `p` / `P` frames, which the deriver does not read. Result rows are searched
 * (issue #16); descriptions and tags are not, so they are not decoded. SessionDerivation (sessionDerivation.ts) expands
 * a session's wire frames with one of these, on the indexer's worker as a session is recorded
 * (the proxy's event loop only copies the frames), inline without a worker, and re-indexing.
 */
import { PostgresWireEvents } from '../../shared/recording/postgresWire.ts';
import { eventKinds } from '../../shared/recording/recordingFormat.ts';

/** The deriver reads a query's text, result rows and an error's or notice's messages. */
const SEARCHED = {
  kinds: new Set([eventKinds.query, eventKinds.dataRow, eventKinds.error, eventKinds.notice]),
  queryParams: false,
};

/** One recording's wire expansion for search (stateful: one per recording). */
export function searchedWireEvents(): PostgresWireEvents {
  return new PostgresWireEvents(SEARCHED);
}
