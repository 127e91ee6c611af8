/**
 * The database player: the session as a timeline of queries (when, how long, rows, errors,
 * blocked by a rule, masked columns), a page at a time from `playback.queries`, and the selected
 * query's recorded result table. A search hit on a query opens with that query selected.
 *
 * Live (`live` set): the queries arrive as the watched session completes them (`live.queries`),
 * and the newest is shown until the person picks one.
 */
import { Circle } from 'lucide-react';
import { useCallback, useEffect, useState } from 'react';
import type { CallResponse, DesktopApi, PlaybackInfo } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import type { LiveFeed } from './liveFeed.ts';
import { formatPlaybackTime } from './playbackTime.ts';
import { queryAtSeq } from './queryAtSeq.ts';

type Entry = CallResponse<'playback.queries'>['entries'][number];

const PAGE = 100;

export function DatabasePlayer({
  api,
  info,
  acceptFailed,
  focusSeq,
  live = null,
}: {
  api: DesktopApi;
  info: PlaybackInfo;
  acceptFailed: boolean;
  /** Select the query started by this frame (a search hit), once it is loaded. */
  focusSeq: number | null;
  /** A live watch: entries come from here instead of `playback.queries`. */
  live?: LiveFeed<Entry> | null;
}) {
  const [entries, setEntries] = useState<Entry[]>([]);
  const [nextCursor, setNextCursor] = useState<number | null>(live === null ? 0 : null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  /** Live: keep the newest query selected until the person picks one. */
  const [followNewest, setFollowNewest] = useState(true);

  const loadMore = useCallback(
    (cursor: number) => {
      setLoading(true);
      api
        .call('playback.queries', {
          playbackId: info.playbackId,
          cursor,
          limit: PAGE,
          ...(acceptFailed ? { acceptFailedVerification: true } : {}),
        })
        .then((page) => {
          setEntries((current) => [...current, ...page.entries]);
          setNextCursor(page.nextCursor);
        })
        .catch((e: unknown) => setError(describeError(e)))
        .finally(() => setLoading(false));
    },
    [api, info.playbackId, acceptFailed],
  );

  useEffect(() => {
    if (live === null) loadMore(0);
  }, [loadMore, live]);

  useEffect(() => {
    if (live === null) return;
    return live.subscribe((arrived) => setEntries((current) => [...current, ...arrived]));
  }, [live]);

  // Select the first query, or the one a search hit pointed at (loading pages until found);
  // live, the newest.
  useEffect(() => {
    if (live !== null) {
      if (followNewest && entries.length > 0) setSelected(entries.length - 1);
      return;
    }
    if (selected !== null || entries.length === 0) return;
    if (focusSeq === null) {
      setSelected(0);
      return;
    }
    const found = queryAtSeq(entries, focusSeq, nextCursor !== null);
    if (found !== 'load-more') setSelected(found);
    else if (nextCursor !== null && !loading) loadMore(nextCursor);
  }, [entries, focusSeq, selected, nextCursor, loading, loadMore, live, followNewest]);

  const entry = selected === null ? undefined : entries[selected];
  // Live, the session's length so far is its newest query's time.
  const durationMs = live === null ? info.durationMs : (entries[entries.length - 1]?.t ?? 0);
  return (
    <div className="database-player">
      <section className="query-timeline" aria-label="Query timeline">
        <h3>
          Queries{' '}
          <span className="muted small">({live === null ? info.queryCount : entries.length})</span>{' '}
          {live !== null ? (
            <span className="badge badge-status-recording" role="status">
              <Circle size={8} fill="currentColor" aria-hidden="true" /> Live
            </span>
          ) : null}
        </h3>
        <ErrorAlert message={error} />
        {entries.length === 0 && !loading && error === null ? (
          <p className="muted small">
            {live === null
              ? 'This session ran no queries.'
              : 'No query has completed yet; they appear here as the session runs them.'}
          </p>
        ) : null}
        <ol className="query-list">
          {entries.map((e, i) => (
            <li key={e.index}>
              <button
                type="button"
                className={`query${i === selected ? ' query-selected' : ''}`}
                aria-current={i === selected ? 'true' : undefined}
                aria-label={`Query ${e.index + 1} at ${formatPlaybackTime(e.t, durationMs)}: ${e.sql ?? '(no SQL text)'}`}
                onClick={() => {
                  setSelected(i);
                  setFollowNewest(i === entries.length - 1);
                }}
              >
                <span className="query-head">
                  <span className="command-time">{formatPlaybackTime(e.t, durationMs)}</span>
                  <QueryBadges entry={e} />
                </span>
                <code className="query-sql">{e.sql ?? '(no SQL text)'}</code>
                <span className="query-meta muted small">
                  {formatMs(e.durationMs)} · {e.rowCount} {e.rowCount === 1 ? 'row' : 'rows'}
                </span>
              </button>
            </li>
          ))}
        </ol>
        {nextCursor !== null && entries.length > 0 ? (
          <button
            type="button"
            className="button button-small"
            disabled={loading}
            onClick={() => loadMore(nextCursor)}
          >
            Load more queries
          </button>
        ) : null}
      </section>
      <section className="query-detail" aria-label="Query result">
        {entry === undefined ? (
          <p className="muted small">Select a query to see its result.</p>
        ) : (
          <QueryDetail entry={entry} durationMs={durationMs} />
        )}
      </section>
    </div>
  );
}

function QueryBadges({ entry }: { entry: Entry }) {
  return (
    <span className="query-badges">
      {entry.error ? <span className="badge badge-status-failed">error</span> : null}
      {entry.blocked ? <span className="badge badge-status-failed">blocked</span> : null}
      {entry.maskedColumns.length > 0 ? <span className="badge badge-warn">masked</span> : null}
    </span>
  );
}

function QueryDetail({ entry, durationMs }: { entry: Entry; durationMs: number }) {
  const masked = new Set(entry.maskedColumns);
  return (
    <>
      <h3>
        Query {entry.index + 1}{' '}
        <span className="muted small">
          at {formatPlaybackTime(entry.t, durationMs)} · {formatMs(entry.durationMs)} ·{' '}
          {entry.status}
        </span>
      </h3>
      <pre className="query-sql-full">{entry.sql ?? '(no SQL text)'}</pre>
      {entry.params && entry.params.length > 0 ? (
        <p className="small">
          Parameters: <code>{JSON.stringify(entry.params)}</code>
        </p>
      ) : null}
      {entry.blocked ? (
        <div className="alert alert-error" role="note" aria-label="Blocked">
          Blocked by rule <strong>{entry.blocked.rule}</strong>: {entry.blocked.reason}
        </div>
      ) : null}
      {entry.error ? (
        <div className="alert alert-error" role="note" aria-label="Query error">
          {entry.error.code}: {entry.error.message}
        </div>
      ) : null}
      {entry.maskedColumns.length > 0 ? (
        <p className="small alert alert-warn">
          Masked by the gateway: {entry.maskedColumns.join(', ')}
        </p>
      ) : null}
      {entry.columns.length > 0 ? (
        <div className="result-wrap">
          <table className="result-table" aria-label={`Result of query ${entry.index + 1}`}>
            <thead>
              <tr>
                {entry.columns.map((c, i) => (
                  <th
                    // biome-ignore lint/suspicious/noArrayIndexKey: columns may share a name
                    key={i}
                    scope="col"
                    className={masked.has(c.name) ? 'column-masked' : undefined}
                  >
                    {c.name}
                    {masked.has(c.name) ? ' (masked)' : ''}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {entry.rows.map((row, r) => (
                // biome-ignore lint/suspicious/noArrayIndexKey: recorded rows have no key
                <tr key={r}>
                  {row.map((cell, c) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: cells are positional
                    <td key={c} className={cell === null ? 'cell-null' : undefined}>
                      {cell ?? 'NULL'}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      <p className="muted small">
        {entry.rowCount} {entry.rowCount === 1 ? 'row' : 'rows'} returned
        {entry.rowsTruncated ? `; the first ${entry.rows.length} were recorded` : ''}.
      </p>
    </>
  );
}

function formatMs(ms: number): string {
  if (ms < 1) return '<1 ms';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}
