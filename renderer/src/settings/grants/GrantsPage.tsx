/**
 * Grants (admins): who may use what, and how. "Expiring soon" asks the gateway for the grants
 * ending within 7 days (`?expiringWithin=7d`); rows ending within that time carry a badge.
 */
import { useCallback, useMemo, useState } from 'react';
import type { PanelGrant } from '../../../../main/ipc/contract.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { useAction } from '../../components/useAction.ts';
import { useNow } from '../../time/useNow.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { type Column, DataTable } from '../components/DataTable.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { formatDateTime, formatDuration } from '../components/timeText.ts';
import { useLoaded } from '../components/useLoaded.ts';
import type { SettingsPageProps } from '../settingsPage.ts';
import { GrantEditor } from './GrantEditor.tsx';
import { hasEnded, isExpiringSoon } from './grantForm.ts';

export function GrantsPage({ api }: SettingsPageProps) {
  const [expiringOnly, setExpiringOnly] = useState(false);
  const grants = useLoaded(
    useCallback(
      async () =>
        (await api.call('grants.list', expiringOnly ? { expiringWithin: '7d' } : {})).grants,
      [api, expiringOnly],
    ),
  );
  const users = useLoaded(useCallback(async () => (await api.call('users.list', {})).users, [api]));
  const resources = useLoaded(
    useCallback(async () => (await api.call('resources.list', {})).resources, [api]),
  );
  const [editing, setEditing] = useState<PanelGrant | 'new' | null>(null);
  const [deleting, setDeleting] = useState<PanelGrant | null>(null);
  const remove = useAction();
  const now = useNow(30_000);

  const userName = useCallback(
    (id: string) => users.data?.find((u) => u.id === id)?.username ?? id,
    [users.data],
  );
  const resourceName = useCallback(
    (id: string) => resources.data?.find((r) => r.id === id)?.name ?? id,
    [resources.data],
  );
  const subjectText = useCallback(
    (g: PanelGrant) =>
      g.subject.kind === 'user' ? userName(g.subject.userId) : `group ${g.subject.group}`,
    [userName],
  );
  const targetText = useCallback(
    (g: PanelGrant) =>
      g.target.kind === 'resource'
        ? resourceName(g.target.resourceId)
        : Object.entries(g.target.selector)
            .map(([k, v]) => `${k}=${v}`)
            .join(', '),
    [resourceName],
  );

  const columns = useMemo<Column<PanelGrant>[]>(
    () => [
      { id: 'subject', header: 'Who', value: subjectText },
      { id: 'target', header: 'Resource', value: targetText },
      {
        id: 'mode',
        header: 'Access',
        value: (g) => (g.requestId ? 'request' : g.mode),
        render: (g) =>
          g.requestId ? (
            <span className="badge badge-demo" title={`Issued by request ${g.requestId}`}>
              From a request
            </span>
          ) : g.mode === 'approval' ? (
            <span className="badge badge-warn">Approval · {g.approvalsRequired}</span>
          ) : (
            <span className="badge badge-status-complete">Standing</span>
          ),
      },
      {
        id: 'approvers',
        header: 'Approvers',
        value: (g) =>
          g.mode === 'approval'
            ? [
                ...g.approvers.users.map(userName),
                ...g.approvers.groups.map((n) => `group ${n}`),
              ].join(', ') || 'admins'
            : '',
      },
      {
        id: 'max',
        header: 'Longest session',
        value: (g) => g.maxSessionSeconds,
        render: (g) => formatDuration(g.maxSessionSeconds),
      },
      {
        id: 'until',
        header: 'Valid until',
        value: (g) => g.validUntil,
        render: (g) => (
          <>
            {g.validUntil ? (
              formatDateTime(g.validUntil, now)
            ) : (
              <span className="muted">no end</span>
            )}{' '}
            {hasEnded(g, now) ? (
              <span className="badge badge-status-failed">Ended</span>
            ) : isExpiringSoon(g, now) ? (
              <span className="badge badge-warn">Expiring soon</span>
            ) : null}
          </>
        ),
      },
      {
        id: 'actions',
        header: 'Actions',
        sortable: false,
        value: () => null,
        className: 'actions-cell',
        render: (g) => (
          <span className="row-actions">
            <button
              type="button"
              className="button button-small"
              aria-label={`Edit grant for ${subjectText(g)} on ${targetText(g)}`}
              onClick={() => setEditing(g)}
            >
              Edit
            </button>
            <button
              type="button"
              className="button button-small button-danger-outline"
              aria-label={`Delete grant for ${subjectText(g)} on ${targetText(g)}`}
              onClick={() => {
                remove.setError(null);
                setDeleting(g);
              }}
            >
              Delete
            </button>
          </span>
        ),
      },
    ],
    [subjectText, targetText, userName, now, remove],
  );

  return (
    <>
      <p className="page-intro muted">
        A grant lets a user or a group use a resource: at once (standing) or after an approved
        request. Sessions end when their grant ends, is deleted, or its end is moved earlier.
      </p>
      {editing !== null ? (
        <GrantEditor
          key={editing === 'new' ? 'new' : editing.id}
          api={api}
          grant={editing === 'new' ? null : editing}
          users={users.data ?? []}
          resources={resources.data ?? []}
          onCancel={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            grants.reload();
          }}
        />
      ) : null}
      <ErrorAlert message={grants.error ?? users.error ?? resources.error} />
      <DataTable
        label="Grants"
        rows={grants.data}
        columns={columns}
        rowKey={(g) => g.id}
        rowLabel={(g) => `Grant for ${subjectText(g)} on ${targetText(g)}`}
        initialSort={{ columnId: 'target', direction: 'ascending' }}
        toolbar={
          <>
            <label className="toggle">
              <input
                type="checkbox"
                checked={expiringOnly}
                onChange={(e) => setExpiringOnly(e.target.checked)}
              />{' '}
              Expiring within 7 days
            </label>
            <button
              type="button"
              className="button button-primary"
              onClick={() => setEditing('new')}
              disabled={editing === 'new'}
            >
              Add grant
            </button>
          </>
        }
        empty={
          expiringOnly ? (
            <EmptyState title="Nothing expiring soon">
              No grant ends within the next 7 days.
            </EmptyState>
          ) : (
            <EmptyState title="No grants yet">
              Nobody can open a session until a grant lets them. Use <strong>Add grant</strong>:
              pick a group or a user, a resource, and whether access needs approval.
            </EmptyState>
          )
        }
      />
      {deleting ? (
        <ConfirmDialog
          title="Delete this grant?"
          confirmLabel="Delete grant"
          busy={remove.busy}
          error={remove.error}
          onCancel={() => setDeleting(null)}
          onConfirm={() =>
            remove.run(async () => {
              await api.call('grants.delete', { grantId: deleting.id });
              setDeleting(null);
              grants.reload();
            })
          }
        >
          <p>
            {subjectText(deleting)} loses access to {targetText(deleting)}. Sessions open under this
            grant end within a second, with a message.
          </p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
