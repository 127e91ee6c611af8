/**
 * Requests: everyone sees their own access requests, with their status kept live by
 * `requests.changed` (main follows the gateway's event stream; no polling); approvers — anyone
 * a grant names, admins by default — also see the queue they may decide, and approve or deny
 * with a comment. The gateway decides who may decide; `canDecide` says what it decided.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import type { AccessRequestSummary } from '../../../../main/ipc/contract.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { useAction } from '../../components/useAction.ts';
import { useNow } from '../../time/useNow.ts';
import { type Column, DataTable } from '../components/DataTable.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { formatDateTime, formatDuration } from '../components/timeText.ts';
import { useLoaded } from '../components/useLoaded.ts';
import type { SettingsPageProps } from '../settingsPage.ts';
import { DecideDialog } from './DecideDialog.tsx';
import { approvalsOf, mergeMine, mergeQueue, statusText } from './requestLists.ts';

const stateTone = {
  pending: 'badge-warn',
  approved: 'badge-status-complete',
  denied: 'badge-status-failed',
};

export function RequestsPage({ api, viewer }: SettingsPageProps) {
  const mine = useLoaded(
    useCallback(async () => (await api.call('requests.list', { scope: 'mine' })).requests, [api]),
  );
  const queue = useLoaded(
    useCallback(async () => (await api.call('requests.list', { scope: 'queue' })).requests, [api]),
  );
  const [deciding, setDeciding] = useState<{
    request: AccessRequestSummary;
    decision: 'approve' | 'deny';
  } | null>(null);
  const decide = useAction();
  const now = useNow(15_000);
  const setMine = mine.set;
  const setQueue = queue.set;

  useEffect(
    () =>
      api.on('requests.changed', ({ request }) => {
        setMine((current) => mergeMine(current, request, viewer.username));
        setQueue((current) => mergeQueue(current, request));
      }),
    [api, viewer.username, setMine, setQueue],
  );

  const mineColumns = useMemo<Column<AccessRequestSummary>[]>(
    () => [
      {
        id: 'resource',
        header: 'Resource',
        value: (r) => r.resourceName,
        render: (r) => <strong>{r.resourceName}</strong>,
      },
      {
        id: 'for',
        header: 'For',
        value: (r) => r.durationSeconds,
        render: (r) => formatDuration(r.durationSeconds),
      },
      { id: 'reason', header: 'Reason', value: (r) => r.reason },
      {
        id: 'status',
        header: 'Status',
        value: (r) => r.state,
        render: (r) => <span className={`badge ${stateTone[r.state]}`}>{statusText(r, now)}</span>,
      },
      {
        id: 'asked',
        header: 'Asked',
        value: (r) => r.createdAt,
        render: (r) => formatDateTime(r.createdAt, now),
      },
      { id: 'sessions', header: 'Sessions', value: (r) => r.sessionIds.length },
    ],
    [now],
  );

  const queueColumns = useMemo<Column<AccessRequestSummary>[]>(
    () => [
      {
        id: 'who',
        header: 'Who',
        value: (r) => r.username,
        render: (r) => <strong>{r.username}</strong>,
      },
      { id: 'resource', header: 'Resource', value: (r) => r.resourceName },
      {
        id: 'for',
        header: 'For',
        value: (r) => r.durationSeconds,
        render: (r) => formatDuration(r.durationSeconds),
      },
      { id: 'reason', header: 'Reason', value: (r) => r.reason },
      {
        id: 'approvals',
        header: 'Approvals',
        value: (r) => `${approvalsOf(r)}/${r.approvalsRequired}`,
      },
      {
        id: 'asked',
        header: 'Asked',
        value: (r) => r.createdAt,
        render: (r) => formatDateTime(r.createdAt, now),
      },
      {
        id: 'actions',
        header: 'Decide',
        sortable: false,
        value: () => null,
        className: 'actions-cell',
        render: (r) => (
          <span className="row-actions">
            <button
              type="button"
              className="button button-small button-primary"
              aria-label={`Approve ${r.username}'s request for ${r.resourceName}`}
              onClick={() => {
                decide.setError(null);
                setDeciding({ request: r, decision: 'approve' });
              }}
            >
              Approve
            </button>
            <button
              type="button"
              className="button button-small button-danger-outline"
              aria-label={`Deny ${r.username}'s request for ${r.resourceName}`}
              onClick={() => {
                decide.setError(null);
                setDeciding({ request: r, decision: 'deny' });
              }}
            >
              Deny
            </button>
          </span>
        ),
      },
    ],
    [now, decide],
  );

  // Anyone may be named an approver, so the queue shows whenever it holds something; admins
  // (who decide where a grant names nobody) always see it.
  const showQueue = viewer.role === 'admin' || (queue.data?.length ?? 0) > 0;

  return (
    <>
      <p className="page-intro muted">
        Access that needs approval is asked for here and decided here. A request ends in a
        time-boxed grant; sessions it enables end by themselves when it does.
      </p>
      {showQueue ? (
        <section className="settings-section" aria-labelledby="queue-title">
          <h3 id="queue-title">Waiting for your decision</h3>
          <ErrorAlert message={queue.error} />
          <DataTable
            label="Requests to decide"
            rows={queue.data}
            columns={queueColumns}
            rowKey={(r) => r.id}
            rowLabel={(r) => `${r.username}'s request for ${r.resourceName}`}
            initialSort={{ columnId: 'asked', direction: 'ascending' }}
            empty={
              <EmptyState title="Nothing to decide">
                Requests you may approve appear here the moment they are made.
              </EmptyState>
            }
          />
        </section>
      ) : null}
      <section className="settings-section" aria-labelledby="mine-title">
        <h3 id="mine-title">My requests</h3>
        <ErrorAlert message={mine.error} />
        <DataTable
          label="My requests"
          rows={mine.data}
          columns={mineColumns}
          rowKey={(r) => r.id}
          rowLabel={(r) => `My request for ${r.resourceName}`}
          initialSort={{ columnId: 'asked', direction: 'descending' }}
          empty={
            <EmptyState title="No requests yet">
              Resources that need approval show <strong>Request access</strong> in the resource
              list. Say why and for how long; you are told here when someone decides.
            </EmptyState>
          }
        />
      </section>
      {deciding ? (
        <DecideDialog
          request={deciding.request}
          decision={deciding.decision}
          busy={decide.busy}
          error={decide.error}
          onCancel={() => setDeciding(null)}
          onDecide={(comment) =>
            decide.run(async () => {
              const { request } = await api.call(
                deciding.decision === 'approve' ? 'requests.approve' : 'requests.deny',
                { requestId: deciding.request.id, comment },
              );
              setDeciding(null);
              setQueue((current) => mergeQueue(current, request));
              setMine((current) => mergeMine(current, request, viewer.username));
            })
          }
        />
      ) : null}
    </>
  );
}
