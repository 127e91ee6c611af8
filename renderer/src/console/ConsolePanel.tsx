/**
 * One query console tab (issue #15): the SQL editor, Run (Ctrl/Cmd+Enter) and Cancel, the
 * transaction state, the results of the last run (several result sets, each a streamed grid
 * with its row count), the run's time, notices, the error (its position marked in the editor,
 * or the rule that blocked the statement), export to CSV / JSON, and the history of this
 * resource's queries. The connection lives in main (main/services/consoles/); this panel sees
 * events and never a ticket.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import './console.css';
import type { DesktopApi, EventPayload, TransactionState } from '../../../main/ipc/contract.ts';
import { describeError } from '../components/describeError.ts';
import type { PanelState, TerminalTab } from '../terminals/TerminalPanel.tsx';
import { ConsoleResults } from './consoleResults.ts';
import { downloadText, exportFileName } from './downloadText.ts';
import { addToHistory, type HistoryEntry, readHistory, searchHistory } from './queryHistory.ts';
import { ResultGrid } from './ResultGrid.tsx';
import { resultCsv, resultJson } from './resultCsv.ts';
import type { SqlEditor } from './sqlEditor.ts';

const TRANSACTION_TEXT: Record<TransactionState, string> = {
  idle: 'Idle',
  'in-transaction': 'In transaction',
  failed: 'Transaction failed — roll back',
};

export function ConsolePanel({
  api,
  tab,
  active,
  tabElementId,
  panelElementId,
  onState,
}: {
  api: DesktopApi;
  tab: TerminalTab;
  active: boolean;
  tabElementId: string;
  panelElementId: string;
  onState(tabId: string, state: PanelState): void;
}) {
  const hostRef = useRef<HTMLDivElement>(null);
  const editorRef = useRef<SqlEditor | null>(null);
  const consoleIdRef = useRef<string | null>(null);
  const resultsRef = useRef(new ConsoleResults());
  const pendingAck = useRef(0);
  const frame = useRef<number | null>(null);
  const runRef = useRef<() => void>(() => {});
  const [state, setState] = useState<PanelState>({ kind: 'loading' });
  const [version, setVersion] = useState(0);
  const [shown, setShown] = useState(0);
  const [actionError, setActionError] = useState<string | null>(null);
  const [historyOpen, setHistoryOpen] = useState(false);
  const [historySearch, setHistorySearch] = useState('');
  const [history, setHistory] = useState<HistoryEntry[]>(() =>
    readHistory(localStorage, tab.resourceId),
  );

  // Re-render once per frame however many batches came, then ack what was taken: main keeps
  // sending only while the grid keeps up.
  const schedule = useCallback(() => {
    if (frame.current !== null) return;
    frame.current = requestAnimationFrame(() => {
      frame.current = null;
      setVersion(resultsRef.current.version);
      const rows = pendingAck.current;
      const consoleId = consoleIdRef.current;
      if (rows > 0 && consoleId) {
        pendingAck.current = 0;
        api.call('consoles.ack', { consoleId, rows }).catch(() => {});
      }
    });
  }, [api]);

  // Mount: the editor, the console's session, its events. Unmount (tab closed): close it.
  // biome-ignore lint/correctness/useExhaustiveDependencies: one console per mounted tab
  useEffect(() => {
    let cancelled = false;
    const onEvent = (payload: EventPayload<'console.event'>) => {
      if (payload.consoleId !== consoleIdRef.current) return;
      const event = payload.event;
      pendingAck.current += resultsRef.current.apply(event);
      if (event.kind === 'error') {
        editorRef.current?.markError(event.error.position);
      }
      if (event.kind === 'ended') {
        setState({
          kind: 'ended',
          sessionId: '',
          expiresAt: '',
          reason: { kind: 'gateway', cause: 'other', message: event.message },
        });
      }
      schedule();
    };
    const off = api.on('console.event', onEvent);
    setState({ kind: 'opening' });
    import('./sqlEditor.ts')
      .then(async ({ createSqlEditor }) => {
        const host = hostRef.current;
        if (cancelled || host === null) return;
        editorRef.current = createSqlEditor(host, {
          doc: '',
          onRun: () => runRef.current(),
          label: `SQL for ${tab.resourceName}`,
        });
        const opened = await api.call('consoles.open', { resourceId: tab.resourceId });
        if (cancelled) {
          api.call('consoles.close', { consoleId: opened.consoleId }).catch(() => {});
          return;
        }
        consoleIdRef.current = opened.consoleId;
        setState({
          kind: 'live',
          terminalId: opened.consoleId,
          sessionId: opened.sessionId,
          expiresAt: opened.expiresAt,
        });
        editorRef.current.view.focus();
        const catalog = await api.call('consoles.catalog', { consoleId: opened.consoleId });
        if (!cancelled) editorRef.current?.setCatalog(catalog);
      })
      .catch((error: unknown) => {
        if (!cancelled && consoleIdRef.current === null) {
          setState({ kind: 'failed', message: describeError(error) });
        }
      });
    return () => {
      cancelled = true;
      off();
      if (frame.current !== null) cancelAnimationFrame(frame.current);
      const consoleId = consoleIdRef.current;
      if (consoleId) api.call('consoles.close', { consoleId }).catch(() => {});
      consoleIdRef.current = null;
      editorRef.current?.destroy();
      editorRef.current = null;
    };
  }, []);

  useEffect(() => {
    onState(tab.id, state);
  }, [onState, tab.id, state]);

  const run = async () => {
    const consoleId = consoleIdRef.current;
    const text = editorRef.current?.runText();
    if (!consoleId || !text || resultsRef.current.running) return;
    setActionError(null);
    editorRef.current?.markError(null);
    try {
      const { runId } = await api.call('consoles.run', {
        consoleId,
        sql: text.sql,
        offset: text.offset,
      });
      resultsRef.current.begin(runId, text.sql);
      setShown(0);
      setVersion(resultsRef.current.version);
      setHistory(addToHistory(localStorage, tab.resourceId, text.sql));
    } catch (error) {
      setActionError(describeError(error));
    }
  };
  runRef.current = () => {
    void run();
  };

  const cancel = async () => {
    const consoleId = consoleIdRef.current;
    if (!consoleId) return;
    try {
      await api.call('consoles.cancel', { consoleId });
    } catch (error) {
      setActionError(describeError(error));
    }
  };

  const results = resultsRef.current;
  const current = results.run;
  const running = results.running;
  const live = state.kind === 'live';
  const result = current?.results[shown];
  const rowTotal = result?.rows.length ?? 0;
  void version;

  const exportResult = (format: 'csv' | 'json') => {
    if (!result) return;
    const text = format === 'csv' ? resultCsv(result) : resultJson(result);
    downloadText(
      exportFileName(tab.resourceName, format),
      text,
      format === 'csv' ? 'text/csv' : 'application/json',
    );
  };

  return (
    <div
      role="tabpanel"
      id={panelElementId}
      aria-labelledby={tabElementId}
      className="console-panel"
      hidden={!active}
    >
      <div className="console-toolbar">
        <button
          type="button"
          className="button button-small button-primary"
          onClick={() => void run()}
          disabled={!live || running}
          title="Run the selection, or everything (Ctrl+Enter)"
        >
          Run
        </button>
        <button
          type="button"
          className="button button-small"
          onClick={() => void cancel()}
          disabled={!running}
          title="Cancel the running query (a cancel request through the gateway)"
        >
          Cancel
        </button>
        <span
          className={`tx-state tx-state-${results.transaction}`}
          role="status"
          aria-label="Transaction state"
        >
          {TRANSACTION_TEXT[results.transaction]}
        </span>
        <span className="muted small">Recorded by the gateway</span>
        <span className="toolbar-spacer" />
        <button
          type="button"
          className="button button-small"
          aria-expanded={historyOpen}
          onClick={() => setHistoryOpen((open) => !open)}
        >
          History
        </button>
      </div>
      {state.kind === 'failed' ? (
        <p className="console-message console-error" role="alert">
          The console could not open: {state.message}
        </p>
      ) : null}
      {state.kind === 'ended' ? (
        <p className="console-message console-error" role="alert">
          {results.ended ?? 'This console’s session ended.'} Close the tab and open a new console.
        </p>
      ) : null}
      {actionError ? (
        <p className="console-message console-error" role="alert">
          {actionError}
        </p>
      ) : null}
      <div className="console-main">
        <div className="console-editor" ref={hostRef} />
        {historyOpen ? (
          <section className="console-history" aria-label="Query history">
            <input
              type="search"
              className="input"
              placeholder="Search history"
              aria-label="Search history"
              value={historySearch}
              onChange={(event) => setHistorySearch(event.target.value)}
            />
            <ul>
              {searchHistory(history, historySearch).map((entry) => (
                <li key={`${entry.at}-${entry.sql}`}>
                  <button
                    type="button"
                    className="history-entry"
                    title={entry.at}
                    onClick={() => {
                      editorRef.current?.setText(entry.sql);
                      editorRef.current?.view.focus();
                    }}
                  >
                    {entry.sql}
                  </button>
                </li>
              ))}
            </ul>
          </section>
        ) : null}
      </div>
      <section className="console-results" aria-label="Results">
        {current ? (
          <div className="console-status" role="status" data-testid="console-status">
            {running
              ? `Running… ${rowTotal.toLocaleString('en')} rows`
              : current.cancelled
                ? `Cancelled after ${current.elapsedMs} ms`
                : current.error && current.results.length === 0
                  ? `Failed after ${current.elapsedMs} ms`
                  : `${rowTotal.toLocaleString('en')} ${rowTotal === 1 ? 'row' : 'rows'} · ${current.elapsedMs} ms`}
            {result?.tag ? ` · ${result.tag}` : ''}
          </div>
        ) : (
          <p className="muted small">
            Write SQL above and press <kbd>Ctrl</kbd>+<kbd>Enter</kbd>. Everything you run and see
            is recorded by the gateway.
          </p>
        )}
        {current?.error ? (
          <div className="console-message console-error" role="alert" data-testid="console-error">
            {current.error.blockedBy ? (
              <strong>Blocked by rule “{current.error.blockedBy.rule}”: </strong>
            ) : (
              <strong>{current.error.severity ?? 'ERROR'}: </strong>
            )}
            {current.error.blockedBy ? current.error.blockedBy.reason : current.error.message}
            {current.error.code ? <span className="muted"> ({current.error.code})</span> : null}
            {current.error.position !== null ? (
              <span className="muted"> · at character {current.error.position}</span>
            ) : null}
            {current.error.detail ? <div>DETAIL: {current.error.detail}</div> : null}
            {current.error.hint ? <div>HINT: {current.error.hint}</div> : null}
          </div>
        ) : null}
        {current && current.notices.length > 0 ? (
          <ul className="console-notices" aria-label="Notices">
            {current.notices.map((notice, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: notices only grow, in order.
              <li key={i}>
                <strong>{notice.severity}:</strong> {notice.message}
              </li>
            ))}
          </ul>
        ) : null}
        {current && current.results.length > 1 ? (
          <div className="result-tabs" role="tablist" aria-label="Result sets">
            {current.results.map((r, i) => (
              <button
                // biome-ignore lint/suspicious/noArrayIndexKey: result sets are positional.
                key={i}
                type="button"
                role="tab"
                aria-selected={i === shown}
                className="result-tab"
                onClick={() => setShown(i)}
              >
                {r?.tag ?? `Result ${i + 1}`}
              </button>
            ))}
          </div>
        ) : null}
        {result && result.columns.length > 0 ? (
          <>
            <div className="result-actions">
              <button
                type="button"
                className="button button-small"
                disabled={!result.complete}
                onClick={() => exportResult('csv')}
              >
                Export CSV
              </button>
              <button
                type="button"
                className="button button-small"
                disabled={!result.complete}
                onClick={() => exportResult('json')}
              >
                Export JSON
              </button>
            </div>
            <ResultGrid
              key={`${current?.runId}-${shown}`}
              result={result}
              version={version}
              label={`Result ${shown + 1} of ${tab.resourceName}`}
            />
          </>
        ) : null}
      </section>
    </div>
  );
}
