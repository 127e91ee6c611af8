/**
 * Recent recordings with "Verify" (main downloads the recording and checks its hash chain and
 * signatures against the pinned recording key) and "Play" (opens it in the Recordings view);
 * "All recordings" opens that view's list, search and filters.
 *
 * The list follows sessions that start or end anywhere — another window, the CLI, another
 * person — by listing again every RELIST_MS while the window is visible (issue #16: it changed
 * only when this window's own terminals did, or on signing in again). A list of ten is one
 * small indexed query on the gateway; the gateway has no session feed to push it (its one
 * event stream is for access requests).
 */
import { RefreshCw } from 'lucide-react';
import { useCallback, useEffect, useState } from 'react';
import type { CallResponse, DesktopApi } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { formatBytes, type RecordingVerdict, verdictLabel } from './verdictLabel.ts';

type Recording = CallResponse<'recordings.list'>['recordings'][number];
type VerifyState =
  | { kind: 'running' }
  | { kind: 'done'; verdict: RecordingVerdict }
  | { kind: 'error'; message: string };

const LIMIT = 10;
/** How often the list is read again while the window is visible. */
const RELIST_MS = 5_000;

export function RecordingsPanel({
  api,
  refreshKey,
  onPlay,
  onShowAll,
}: {
  api: DesktopApi;
  refreshKey: number;
  onPlay(sessionId: string): void;
  onShowAll(): void;
}) {
  const [recordings, setRecordings] = useState<Recording[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [verifying, setVerifying] = useState<Record<string, VerifyState>>({});

  const load = useCallback(() => {
    api
      .call('recordings.list', { limit: LIMIT })
      .then((result) => {
        // Unchanged lists keep their identity: nothing re-renders every few seconds.
        setRecordings((shown) =>
          shown !== null && JSON.stringify(shown) === JSON.stringify(result.recordings)
            ? shown
            : result.recordings,
        );
        setError(null);
      })
      .catch((e: unknown) => setError(describeError(e)));
  }, [api]);

  // refreshKey changes when a terminal ends, so its recording shows up as complete.
  // biome-ignore lint/correctness/useExhaustiveDependencies: refreshKey is the trigger
  useEffect(() => {
    load();
  }, [load, refreshKey]);

  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') load();
    }, RELIST_MS);
    return () => clearInterval(timer);
  }, [load]);

  const verify = (sessionId: string) => {
    setVerifying((v) => ({ ...v, [sessionId]: { kind: 'running' } }));
    api
      .call('recordings.verify', { sessionId })
      .then((verdict) => setVerifying((v) => ({ ...v, [sessionId]: { kind: 'done', verdict } })))
      .catch((e: unknown) =>
        setVerifying((v) => ({ ...v, [sessionId]: { kind: 'error', message: describeError(e) } })),
      );
  };

  return (
    <section className="panel recordings" aria-labelledby="recordings-title">
      <div className="panel-head">
        <h2 id="recordings-title">Recent recordings</h2>
        <button
          type="button"
          className="button button-ghost button-small all-recordings"
          onClick={onShowAll}
        >
          All recordings
        </button>
        <button
          type="button"
          className="button button-ghost button-small"
          onClick={load}
          aria-label="Refresh recordings"
          title="Refresh recordings"
        >
          <RefreshCw size={15} aria-hidden="true" />
        </button>
      </div>
      <ErrorAlert message={error} />
      {recordings !== null && recordings.length === 0 ? (
        <p className="muted small empty">No recordings yet. Every session you open is recorded.</p>
      ) : null}
      <ul className="recording-list" aria-label="Recording list">
        {(recordings ?? []).map((r) => (
          <li key={r.sessionId} className="recording" aria-label={`Recording ${r.sessionId}`}>
            <div className="recording-title">
              <span className="resource-name">{r.resourceName}</span>
              <span className={`badge badge-status-${r.status}`}>{r.status}</span>
            </div>
            <div className="recording-meta muted small">
              {r.username} · {new Date(r.startedAt).toLocaleString()} · {formatBytes(r.bytes)}
            </div>
            <div className="recording-foot">
              <code className="session-id" title={r.sessionId}>
                {r.sessionId}
              </code>
              <button
                type="button"
                className="button button-small"
                aria-label={`Play recording ${r.sessionId}`}
                onClick={() => onPlay(r.sessionId)}
              >
                Play
              </button>
              <button
                type="button"
                className="button button-small"
                aria-label={`Verify recording ${r.sessionId}`}
                onClick={() => verify(r.sessionId)}
                disabled={verifying[r.sessionId]?.kind === 'running' || r.status === 'recording'}
                title={
                  r.status === 'recording' ? 'Still recording: verify once it ends.' : undefined
                }
              >
                Verify
              </button>
            </div>
            {/* The verdict gets its own line: beside the buttons a narrow sidebar wrapped it
                over three lines. */}
            <div className="recording-verdict">
              <VerifyResult state={verifying[r.sessionId]} />
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

function VerifyResult({ state }: { state: VerifyState | undefined }) {
  if (state === undefined) return null;
  if (state.kind === 'running') {
    return (
      <span role="status" className="muted small">
        Verifying…
      </span>
    );
  }
  if (state.kind === 'error') {
    return (
      <span role="alert" className="verdict verdict-bad">
        {state.message}
      </span>
    );
  }
  const label = verdictLabel(state.verdict);
  return (
    <span
      role="status"
      className={`verdict verdict-${label.tone}`}
      title={`${state.verdict.message} (key ${state.verdict.recordingKeyFingerprint})`}
    >
      {label.text}
    </span>
  );
}
