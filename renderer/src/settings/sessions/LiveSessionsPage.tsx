/**
 * Live sessions (admins): who is connected to what now, watch one (the existing live watch,
 * in the Recordings view), or terminate it with a reason its user sees in their terminal.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { LiveSession } from '../../../../main/ipc/contract.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { useAction } from '../../components/useAction.ts';
import { useNow } from '../../time/useNow.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { type Column, DataTable } from '../components/DataTable.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { formatDateTime } from '../components/timeText.ts';
import { useLoaded } from '../components/useLoaded.ts';
import type { SettingsPageProps } from '../settingsPage.ts';

/** Sessions start and end all the time; the list is read again this often while shown. */
const REFRESH_MS = 5000;

export function LiveSessionsPage({ api, onWatchLive }: SettingsPageProps) {
  const sessions = useLoaded(
    useCallback(async () => (await api.call('sessions.listLive', {})).sessions, [api]),
  );
  const [ending, setEnding] = useState<LiveSession | null>(null);
  const [reason, setReason] = useState('');
  const terminate = useAction();
  const now = useNow(1000);
  const reload = sessions.reload;
  useEffect(() => {
    const timer = setInterval(reload, REFRESH_MS);
    return () => clearInterval(timer);
  }, [reload]);

  const columns = useMemo<Column<LiveSession>[]>(
    () => [
      {
        id: 'user',
        header: 'User',
        value: (s) => s.username,
        render: (s) => <strong>{s.username}</strong>,
      },
      { id: 'resource', header: 'Resource', value: (s) => s.resourceName },
      {
        id: 'since',
        header: 'Since',
        value: (s) => s.startedAt ?? s.createdAt,
        render: (s) => formatDateTime(s.startedAt ?? s.createdAt, now),
      },
      {
        id: 'ends',
        header: 'Ends',
        value: (s) => s.expiresAt,
        render: (s) => formatDateTime(s.expiresAt, now),
      },
      {
        id: 'request',
        header: 'Via',
        value: (s) => (s.requestId ? 'request' : 'grant'),
        render: (s) =>
          s.requestId ? <span title={s.requestId}>Approved request</span> : 'Standing grant',
      },
      {
        id: 'id',
        header: 'Session',
        value: (s) => s.id,
        render: (s) => <code className="session-id">{s.id}</code>,
      },
      {
        id: 'actions',
        header: 'Actions',
        sortable: false,
        value: () => null,
        className: 'actions-cell',
        render: (s) => (
          <span className="row-actions">
            <button
              type="button"
              className="button button-small"
              aria-label={`Watch ${s.username} on ${s.resourceName}`}
              onClick={() => onWatchLive(s.id, s.resourceName)}
            >
              Watch
            </button>
            <button
              type="button"
              className="button button-small button-danger-outline"
              aria-label={`Terminate ${s.username} on ${s.resourceName}`}
              onClick={() => {
                terminate.setError(null);
                setReason('');
                setEnding(s);
              }}
            >
              Terminate
            </button>
          </span>
        ),
      },
    ],
    [now, onWatchLive, terminate],
  );

  return (
    <>
      <p className="page-intro muted">
        Sessions open through this gateway now. Terminating asks the target to stop what runs there,
        then closes the connection; the user sees your reason.
      </p>
      <ErrorAlert message={sessions.error} />
      <DataTable
        label="Live sessions"
        rows={sessions.data}
        columns={columns}
        rowKey={(s) => s.id}
        rowLabel={(s) => `${s.username} on ${s.resourceName}`}
        initialSort={{ columnId: 'since', direction: 'descending' }}
        toolbar={
          <button type="button" className="button" onClick={reload}>
            Refresh
          </button>
        }
        empty={
          <EmptyState title="No live sessions">
            Nobody is connected right now. Sessions appear here as soon as someone opens one.
          </EmptyState>
        }
      />
      {ending ? (
        <ConfirmDialog
          title={`Terminate ${ending.username}'s session on ${ending.resourceName}?`}
          confirmLabel="Terminate session"
          busy={terminate.busy}
          error={terminate.error}
          confirmDisabled={reason.trim() === ''}
          onCancel={() => setEnding(null)}
          onConfirm={() =>
            terminate.run(async () => {
              await api.call('sessions.terminate', { sessionId: ending.id, reason: reason.trim() });
              setEnding(null);
              reload();
            })
          }
        >
          <p>The session ends at once. Its recording is kept and stays verifiable.</p>
          <label className="field">
            <span className="field-label">Reason</span>
            <input
              type="text"
              aria-label="Reason"
              value={reason}
              maxLength={200}
              placeholder="Shown to the user, e.g. incident 42 is closed"
              onChange={(e) => setReason(e.target.value)}
            />
          </label>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
