/**
 * Export a recording as the gateway produces it: `.cast` (terminal), the signed bundle (verifies
 * offline), the query log (database). Progress comes as `export.progress` events matched by the
 * exportId the renderer chose; main writes the file (Electron: where the user saved it; web host:
 * the app-data downloads folder) and says where. A `.cast` holds output only unless the person
 * ticks "Include typed input", which warns that input may hold secrets typed without echo.
 */
import { useEffect, useRef, useState } from 'react';
import type { DesktopApi, EventPayload } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import { isDesktopError } from '../desktopApi/getDesktopApi.ts';
import { formatBytes } from '../recordings/verdictLabel.ts';

type Format = 'cast' | 'bundle' | 'jsonl';
type ExportState =
  | { kind: 'idle'; note?: string }
  | { kind: 'running'; exportId: string; format: Format; bytes: number; total: number | null }
  | { kind: 'done'; format: Format; savedTo: string; bytes: number }
  | { kind: 'failed'; message: string };

const LABELS: Record<Format, string> = {
  cast: 'Export .cast',
  bundle: 'Export bundle',
  jsonl: 'Export query log',
};

let exportCounter = 0;

export function ExportButtons({
  api,
  sessionId,
  kind,
  channel = null,
}: {
  api: DesktopApi;
  sessionId: string;
  kind: 'terminal' | 'database';
  /** The terminal channel being played: `.cast` exports that one. */
  channel?: number | null;
}) {
  const [state, setState] = useState<ExportState>({ kind: 'idle' });
  const [includeInput, setIncludeInput] = useState(false);
  const running = useRef<string | null>(null);
  const cancelled = useRef(new Set<string>());

  useEffect(
    () =>
      api.on('export.progress', (p: EventPayload<'export.progress'>) => {
        if (p.exportId !== running.current) return;
        setState((s) =>
          s.kind === 'running' && p.state === 'running'
            ? { ...s, bytes: p.bytes, total: p.totalBytes }
            : s,
        );
      }),
    [api],
  );

  const start = (format: Format) => {
    exportCounter += 1;
    const exportId = `exp-${Date.now().toString(36)}-${exportCounter}`;
    running.current = exportId;
    setState({ kind: 'running', exportId, format, bytes: 0, total: null });
    api
      .call('recordings.export', {
        exportId,
        sessionId,
        format,
        ...(format === 'cast' && channel !== null ? { channel } : {}),
        ...(format === 'cast' && includeInput ? { includeInput: true } : {}),
      })
      .then((r) => setState({ kind: 'done', format, savedTo: r.savedTo, bytes: r.bytes }))
      .catch((e: unknown) => {
        // Cancelled here (Cancel export) or in Electron's save dialog: not a failure.
        if (cancelled.current.has(exportId) || (isDesktopError(e) && e.code === 'cancelled')) {
          setState({ kind: 'idle', note: 'Export cancelled.' });
        } else {
          setState({ kind: 'failed', message: describeError(e) });
        }
      })
      .finally(() => {
        if (running.current === exportId) running.current = null;
      });
  };

  const cancel = () => {
    if (state.kind !== 'running') return;
    const { exportId } = state;
    running.current = null;
    cancelled.current.add(exportId);
    api.call('recordings.cancelExport', { exportId }).catch(() => {});
  };

  const formats: Format[] = kind === 'terminal' ? ['cast', 'bundle'] : ['jsonl', 'bundle'];
  return (
    <fieldset className="export-bar">
      <legend className="visually-hidden">Export</legend>
      {formats.map((f) => (
        <button
          key={f}
          type="button"
          className="button button-small"
          disabled={state.kind === 'running'}
          onClick={() => start(f)}
        >
          {LABELS[f]}
        </button>
      ))}
      {kind === 'terminal' ? (
        <label className="player-option">
          <input
            type="checkbox"
            checked={includeInput}
            disabled={state.kind === 'running'}
            onChange={(e) => setIncludeInput(e.target.checked)}
          />{' '}
          Include typed input in .cast
        </label>
      ) : null}
      {kind === 'terminal' && includeInput ? (
        <span role="note" aria-label="Typed input warning" className="verdict verdict-warn small">
          Typed input may contain secrets typed without echo (passwords at a prompt); check the file
          before sharing it.
        </span>
      ) : null}
      {state.kind === 'running' ? (
        <>
          <progress
            aria-label="Export progress"
            max={state.total ?? undefined}
            value={state.total === null ? undefined : state.bytes}
          />
          <span className="muted small">{formatBytes(state.bytes)}</span>
          <button type="button" className="button button-ghost button-small" onClick={cancel}>
            Cancel export
          </button>
        </>
      ) : null}
      {state.kind === 'idle' && state.note ? (
        <span role="status" className="muted small">
          {state.note}
        </span>
      ) : null}
      {state.kind === 'done' ? (
        <span role="status" className="small export-done">
          Saved {formatBytes(state.bytes)} to <code>{state.savedTo}</code>
        </span>
      ) : null}
      {state.kind === 'failed' ? (
        <span role="alert" className="verdict verdict-bad">
          {state.message}
        </span>
      ) : null}
    </fieldset>
  );
}
