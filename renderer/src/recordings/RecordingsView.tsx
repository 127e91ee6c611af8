/**
 * The Recordings view: every recording the user may see, filtered and paged (the list is
 * virtualized, so tens of thousands scroll smoothly), full-text search over commands, queries
 * and output with the hits highlighted (a hit opens the player at that moment), Open bundle for
 * offline files, Watch live for admins and auditors. The player replaces the list while open.
 */

import { useVirtualizer } from '@tanstack/react-virtual';
import { TriangleAlert } from 'lucide-react';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { CallResponse, DesktopApi, RecordingFilters } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { formatDuration, formatPlaybackTime } from '../replay/playbackTime.ts';
import { type PlayerTarget, RecordingPlayer } from '../replay/RecordingPlayer.tsx';
import type { Theme } from '../theme/themePreference.ts';
import { highlightRanges } from './highlightRanges.ts';
import { hitRowHeight, hitSnippetLines, type ShownSnippet } from './hitSnippetLines.ts';
import { type DifferingField, differenceWarning, listVerdictLabel } from './listVerdict.ts';
import { OpenBundleDialog } from './OpenBundleDialog.tsx';
import { RecordingProblemsNotice } from './RecordingProblemsNotice.tsx';
import {
  activeFilterCount,
  EMPTY_FILTERS,
  type FilterForm,
  toRecordingFilters,
} from './recordingFilters.ts';
import { formatBytes } from './verdictLabel.ts';
import '../replay/replay.css';

type Recording = CallResponse<'recordings.list'>['recordings'][number];
type Hit = CallResponse<'recordings.search'>['hits'][number];

const PAGE = 100;

export function RecordingsView({
  api,
  theme,
  canWatchLive,
  target,
  onTarget,
}: {
  api: DesktopApi;
  theme: Theme;
  /** Admins and auditors may watch active sessions. */
  canWatchLive: boolean;
  /** The open recording (null: the list). */
  target: PlayerTarget | null;
  onTarget(target: PlayerTarget | null): void;
}) {
  const [form, setForm] = useState<FilterForm>(EMPTY_FILTERS);
  const [query, setQuery] = useState('');
  /** The search that was submitted (the list shows its hits); '' shows recordings. */
  const [submitted, setSubmitted] = useState('');
  const [bundleOpen, setBundleOpen] = useState(false);
  // Typing in a filter asks the gateway once the typing pauses, not once per key.
  const [applied, setApplied] = useState<FilterForm>(EMPTY_FILTERS);
  useEffect(() => {
    const timer = setTimeout(() => setApplied(form), 300);
    return () => clearTimeout(timer);
  }, [form]);
  const filterKey = JSON.stringify(toRecordingFilters(applied) ?? {});
  const filters = useMemo(
    () => (filterKey === '{}' ? undefined : (JSON.parse(filterKey) as RecordingFilters)),
    [filterKey],
  );

  if (target !== null) {
    return (
      <div className="recordings-view">
        {/* A new target is a new player: nothing (a verdict, "show anyway") carries over. */}
        <RecordingPlayer
          key={playerKey(target)}
          api={api}
          target={target}
          theme={theme}
          onBack={() => onTarget(null)}
        />
      </div>
    );
  }

  const set = <K extends keyof FilterForm>(key: K, value: FilterForm[K]) =>
    setForm((f) => ({ ...f, [key]: value }));

  return (
    <div className="recordings-view">
      <div className="recordings-head">
        <h2 id="recordings-view-title">Recordings</h2>
        <form
          className="recordings-search"
          onSubmit={(e) => {
            e.preventDefault();
            setSubmitted(query.trim());
          }}
        >
          <input
            type="search"
            aria-label="Search recordings"
            placeholder="Search commands, queries and output…"
            value={query}
            onChange={(e) => {
              setQuery(e.target.value);
              if (e.target.value === '') setSubmitted('');
            }}
          />
          <button type="submit" className="button button-small button-primary">
            Search
          </button>
        </form>
        <button type="button" className="button button-small" onClick={() => setBundleOpen(true)}>
          Open bundle…
        </button>
      </div>
      <fieldset className="recordings-filters">
        <legend className="visually-hidden">Filters ({activeFilterCount(form)} set)</legend>
        <input
          aria-label="Filter by user"
          placeholder="User"
          value={form.user}
          onChange={(e) => set('user', e.target.value)}
        />
        <input
          aria-label="Filter by resource"
          placeholder="Resource"
          value={form.resource}
          onChange={(e) => set('resource', e.target.value)}
        />
        <select
          aria-label="Filter by protocol"
          value={form.protocol}
          onChange={(e) => set('protocol', e.target.value as FilterForm['protocol'])}
        >
          <option value="">Any protocol</option>
          <option value="ssh">SSH</option>
          <option value="postgres">PostgreSQL</option>
        </select>
        <select
          aria-label="Filter by status"
          value={form.status}
          onChange={(e) => set('status', e.target.value as FilterForm['status'])}
        >
          <option value="">Any status</option>
          <option value="verified">Verified</option>
          <option value="complete">Complete</option>
          <option value="interrupted">Interrupted</option>
          <option value="failed">Failed</option>
          <option value="recording">Recording now</option>
        </select>
        <label className="date-filter">
          From
          <input type="date" value={form.from} onChange={(e) => set('from', e.target.value)} />
        </label>
        <label className="date-filter">
          To
          <input type="date" value={form.to} onChange={(e) => set('to', e.target.value)} />
        </label>
        {activeFilterCount(form) > 0 ? (
          <button
            type="button"
            className="button button-ghost button-small"
            onClick={() => setForm(EMPTY_FILTERS)}
          >
            Clear filters
          </button>
        ) : null}
      </fieldset>
      {canWatchLive ? <RecordingProblemsNotice api={api} /> : null}
      {submitted === '' ? (
        <RecordingList
          key={filterKey}
          api={api}
          filters={filters}
          canWatchLive={canWatchLive}
          onTarget={onTarget}
        />
      ) : (
        <SearchHits
          key={`${submitted}\n${filterKey}`}
          api={api}
          q={submitted}
          filters={filters}
          onTarget={onTarget}
        />
      )}
      {bundleOpen ? (
        <OpenBundleDialog
          api={api}
          onClose={() => setBundleOpen(false)}
          onOpened={(info) => {
            setBundleOpen(false);
            onTarget({ kind: 'bundle', info });
          }}
        />
      ) : null}
    </div>
  );
}

let playerCount = 0;
const playerKeys = new WeakMap<PlayerTarget, string>();
/** One key per target object (each click makes a new one), so reopening starts afresh too. */
function playerKey(target: PlayerTarget): string {
  let key = playerKeys.get(target);
  if (key === undefined) {
    playerCount += 1;
    key = `player-${playerCount}`;
    playerKeys.set(target, key);
  }
  return key;
}

/** Pages of items behind a cursor: the first on mount, the next when the list scrolls near its end. */
function usePaged<T>(
  load: (cursor: string | undefined) => Promise<{ items: T[]; next: string | null }>,
) {
  const [items, setItems] = useState<T[]>([]);
  const [next, setNext] = useState<string | null | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);
  const busy = useRef(false);
  const more = useCallback(() => {
    if (busy.current || next === null) return;
    busy.current = true;
    setLoading(true);
    load(next)
      .then((page) => {
        setItems((current) => [...current, ...page.items]);
        setNext(page.next);
        setError(null);
      })
      .catch((e: unknown) => setError(describeError(e)))
      .finally(() => {
        busy.current = false;
        setLoading(false);
      });
  }, [load, next]);
  // biome-ignore lint/correctness/useExhaustiveDependencies: the first page once per mount (filters change remounts)
  useEffect(() => {
    more();
  }, []);
  return { items, hasMore: next !== null, loading, error, more, done: next !== undefined };
}

function useNearEnd(
  count: number,
  rowHeight: number | ((index: number) => number),
  hasMore: boolean,
  more: () => void,
  scrollRef: React.RefObject<HTMLDivElement | null>,
) {
  const virtualizer = useVirtualizer({
    count: count + (hasMore ? 1 : 0),
    getScrollElement: () => scrollRef.current,
    estimateSize: typeof rowHeight === 'number' ? () => rowHeight : rowHeight,
    overscan: 8,
  });
  const rows = virtualizer.getVirtualItems();
  const last = rows[rows.length - 1];
  useEffect(() => {
    if (hasMore && last !== undefined && last.index >= count - 5) more();
  }, [hasMore, last, count, more]);
  return { virtualizer, rows };
}

function RecordingList({
  api,
  filters,
  canWatchLive,
  onTarget,
}: {
  api: DesktopApi;
  filters: RecordingFilters | undefined;
  canWatchLive: boolean;
  onTarget(target: PlayerTarget): void;
}) {
  const load = useCallback(
    (cursor: string | undefined) =>
      api
        .call('recordings.list', {
          limit: PAGE,
          ...(filters ? { filters } : {}),
          ...(cursor ? { cursor } : {}),
        })
        .then((r) => ({ items: r.recordings, next: r.nextCursor ?? null })),
    [api, filters],
  );
  const page = usePaged<Recording>(load);
  const scrollRef = useRef<HTMLDivElement>(null);
  const { virtualizer, rows } = useNearEnd(
    page.items.length,
    64,
    page.hasMore,
    page.more,
    scrollRef,
  );

  return (
    <>
      <ErrorAlert message={page.error} />
      {page.done && page.items.length === 0 && page.error === null ? (
        <p className="muted empty">No recordings match.</p>
      ) : null}
      <div ref={scrollRef} className="virtual-scroll">
        <ul
          className="virtual-list"
          aria-label="Recordings"
          style={{ height: virtualizer.getTotalSize() }}
        >
          {rows.map((row) => {
            const r = page.items[row.index];
            return (
              <li
                key={r?.sessionId ?? 'more'}
                className="virtual-row recording-row"
                aria-label={r ? `Recorded session ${r.sessionId}` : 'Loading more recordings'}
                style={{ transform: `translateY(${row.start}px)`, height: row.size }}
              >
                {r === undefined ? (
                  <span className="muted small">Loading more…</span>
                ) : (
                  <RecordingRow recording={r} canWatchLive={canWatchLive} onTarget={onTarget} />
                )}
              </li>
            );
          })}
        </ul>
      </div>
    </>
  );
}

function RecordingRow({
  recording: r,
  canWatchLive,
  onTarget,
}: {
  recording: Recording;
  canWatchLive: boolean;
  onTarget(target: PlayerTarget): void;
}) {
  const duration =
    r.endedAt === null ? null : new Date(r.endedAt).getTime() - new Date(r.startedAt).getTime();
  const verdict = listVerdictLabel(r);
  const flag = (field: DifferingField) => <DifferenceFlag recording={r} field={field} />;
  return (
    <>
      <button
        type="button"
        className="row-open"
        aria-label={`Open recording ${r.sessionId}`}
        onClick={() =>
          onTarget({ kind: 'session', sessionId: r.sessionId, startAtMs: null, focusSeq: null })
        }
      >
        <span className="row-title">
          <span className="resource-name">{r.resourceName}</span>
          {flag('resource')}
          <span className="badge badge-demo">{r.protocol === 'ssh' ? 'SSH' : 'PostgreSQL'}</span>
          {flag('protocol')}
          <span className={`badge badge-status-${r.status}`}>{r.status}</span>
          {flag('status')}
        </span>
        <span className="muted small">
          {r.username}
          {flag('user')} · {new Date(r.startedAt).toLocaleString()}
          {flag('startedAt')}
          {duration === null ? '' : ` · ${formatDuration(duration)}`}
          {flag('endedAt')} · {formatBytes(r.bytes)} ·{' '}
          <span className={`verdict verdict-${verdict.tone}`} title={verdict.detail}>
            {verdict.text}
          </span>
        </span>
      </button>
      {r.status === 'recording' && canWatchLive ? (
        <button
          type="button"
          className="button button-small"
          aria-label={`Watch live ${r.sessionId}`}
          onClick={() =>
            onTarget({ kind: 'live', sessionId: r.sessionId, resourceName: r.resourceName })
          }
        >
          Watch live
        </button>
      ) : null}
    </>
  );
}

/** A value the signed recording contradicts: marked, with what each side says (issue #12). */
function DifferenceFlag({ recording, field }: { recording: Recording; field: DifferingField }) {
  const warning = differenceWarning(recording, field);
  if (warning === null) return null;
  return (
    <span className="differs-flag" role="img" title={warning} aria-label={warning}>
      <TriangleAlert size={14} aria-hidden="true" />
    </span>
  );
}

function SearchHits({
  api,
  q,
  filters,
  onTarget,
}: {
  api: DesktopApi;
  q: string;
  filters: RecordingFilters | undefined;
  onTarget(target: PlayerTarget): void;
}) {
  const load = useCallback(
    (cursor: string | undefined) =>
      api
        .call('recordings.search', {
          q,
          limit: PAGE,
          ...(filters ? { filters } : {}),
          ...(cursor ? { cursor } : {}),
        })
        .then((r) => ({ items: r.hits, next: r.nextCursor })),
    [api, q, filters],
  );
  const page = usePaged<Hit>(load);
  const scrollRef = useRef<HTMLDivElement>(null);
  const shown = useMemo(
    () => page.items.map((hit) => hitSnippetLines(hit.snippet, hit.highlights)),
    [page.items],
  );
  const { virtualizer, rows } = useNearEnd(
    page.items.length,
    (index) => hitRowHeight(shown[index]?.lines ?? 1),
    page.hasMore,
    page.more,
    scrollRef,
  );
  // Row heights follow the snippets: sizes measured for the previous items no longer hold.
  useEffect(() => {
    if (shown.length > 0) virtualizer.measure();
  }, [shown, virtualizer]);
  return (
    <>
      <ErrorAlert message={page.error} />
      <p className="muted small" role="status">
        {!page.done
          ? `Searching for “${q}”…`
          : page.items.length === 0
            ? `No matches for “${q}”.`
            : `${page.items.length}${page.hasMore ? '+' : ''} ${page.items.length === 1 ? 'match' : 'matches'} for “${q}”`}
      </p>
      <div ref={scrollRef} className="virtual-scroll">
        <ul
          className="virtual-list"
          aria-label="Search results"
          style={{ height: virtualizer.getTotalSize() }}
        >
          {rows.map((row) => {
            const hit = page.items[row.index];
            return (
              <li
                key={hit ? `${hit.sessionId}:${hit.seq}:${row.index}` : 'more'}
                className="virtual-row hit-row"
                style={{ transform: `translateY(${row.start}px)`, height: row.size }}
              >
                {hit === undefined ? (
                  <span className="muted small">Loading more…</span>
                ) : (
                  <HitButton
                    hit={hit}
                    shown={shown[row.index] ?? hitSnippetLines(hit.snippet, hit.highlights)}
                    onTarget={onTarget}
                  />
                )}
              </li>
            );
          })}
        </ul>
      </div>
    </>
  );
}

const KIND_LABEL: Record<Hit['kind'], string> = {
  input: 'typed',
  output: 'output',
  command: 'command',
  query: 'query',
};

function HitButton({
  hit,
  shown,
  onTarget,
}: {
  hit: Hit;
  shown: ShownSnippet;
  onTarget(target: PlayerTarget): void;
}) {
  return (
    <button
      type="button"
      className="row-open"
      aria-label={`Play ${hit.sessionId} at ${formatPlaybackTime(hit.t)}: ${hit.snippet}`}
      onClick={() =>
        onTarget({
          kind: 'session',
          sessionId: hit.sessionId,
          // The screen just after the hit's frame (the player seeks by its seq).
          startAtMs: hit.t,
          focusSeq: hit.seq,
        })
      }
    >
      <span className="row-title">
        <span className="resource-name">{hit.resourceName ?? hit.sessionId}</span>
        <span className="badge badge-demo">{KIND_LABEL[hit.kind]}</span>
        <span className="muted small">
          at {formatPlaybackTime(hit.t)}
          {hit.username ? ` · ${hit.username}` : ''}
          {hit.startedAt ? ` · ${new Date(hit.startedAt).toLocaleString()}` : ''}
        </span>
      </span>
      <code className="hit-snippet">
        {highlightRanges(shown.snippet, shown.highlights).map((piece, i) =>
          piece.hit ? (
            // biome-ignore lint/suspicious/noArrayIndexKey: pieces are positional
            <mark key={i}>{piece.text}</mark>
          ) : (
            // biome-ignore lint/suspicious/noArrayIndexKey: pieces are positional
            <span key={i}>{piece.text}</span>
          ),
        )}
      </code>
    </button>
  );
}
