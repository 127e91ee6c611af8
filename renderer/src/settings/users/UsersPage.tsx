/**
 * Users (admins): list, invite (one-time enrollment link), role, reset password / TOTP (a new
 * one-time link), disable (offboarding, with what was revoked) and enable. Every rule is the gateway's; disabling yourself is refused
 * there too, and the button is not offered for your own row.
 */
import { useCallback, useMemo, useState } from 'react';
import type {
  AccessRevokedSummary,
  CallResponse,
  PanelUser,
} from '../../../../main/ipc/contract.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { useAction } from '../../components/useAction.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { type Column, DataTable } from '../components/DataTable.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { formatDateTime } from '../components/timeText.ts';
import { useLoaded } from '../components/useLoaded.ts';
import type { SettingsPageProps } from '../settingsPage.ts';
import type { Role } from '../viewer.ts';
import { EnrollmentLinkNotice, InviteUserForm } from './InviteUserForm.tsx';
import { ResetCredentialsDialog, type ResetDone } from './ResetCredentialsDialog.tsx';
import { RevokedSummary } from './RevokedSummary.tsx';
import { resetNoticeText } from './userRules.ts';

export function UsersPage({ api, viewer }: SettingsPageProps) {
  const users = useLoaded(useCallback(async () => (await api.call('users.list', {})).users, [api]));
  const [inviting, setInviting] = useState(false);
  const [created, setCreated] = useState<CallResponse<'users.create'> | null>(null);
  const [disabling, setDisabling] = useState<PanelUser | null>(null);
  const [resetting, setResetting] = useState<PanelUser | null>(null);
  const [resetDone, setResetDone] = useState<ResetDone | null>(null);
  const [revoked, setRevoked] = useState<{ what: string; summary: AccessRevokedSummary } | null>(
    null,
  );
  const disable = useAction();
  const rowAction = useAction();

  const setRole = useCallback(
    (user: PanelUser, role: Role) =>
      rowAction.run(async () => {
        const summary = await api.call('users.setRole', { userId: user.id, role });
        const tookAway = summary.sessionsEnded.length > 0 || summary.watchesEnded > 0;
        setRevoked(tookAway ? { what: `is now ${role}`, summary } : null);
        users.reload();
      }),
    [api, rowAction, users],
  );

  const columns = useMemo<Column<PanelUser>[]>(
    () => [
      {
        id: 'username',
        header: 'Username',
        value: (u) => u.username,
        render: (u) => <strong>{u.username}</strong>,
      },
      {
        id: 'role',
        header: 'Role',
        value: (u) => u.role,
        render: (u) =>
          u.username === viewer.username ? (
            u.role
          ) : (
            <select
              aria-label={`Role of ${u.username}`}
              value={u.role}
              disabled={rowAction.busy || u.disabled}
              onChange={(e) => setRole(u, e.target.value as Role)}
            >
              <option value="engineer">engineer</option>
              <option value="auditor">auditor</option>
              <option value="admin">admin</option>
            </select>
          ),
      },
      {
        id: 'groups',
        header: 'Groups',
        value: (u) => u.groups.join(', '),
        render: (u) => (
          <span className="chips">
            {u.groups.map((g) => (
              <span key={g} className="label-chip">
                {g}
              </span>
            ))}
          </span>
        ),
      },
      {
        id: 'status',
        header: 'Status',
        value: (u) => (u.disabled ? 'disabled' : 'active'),
        render: (u) => (
          <span className={`badge ${u.disabled ? 'badge-status-failed' : 'badge-status-complete'}`}>
            {u.disabled ? 'Disabled' : 'Active'}
          </span>
        ),
      },
      { id: 'totp', header: '2FA', value: (u) => (u.totpEnabled ? 'on' : 'off') },
      {
        id: 'created',
        header: 'Created',
        value: (u) => u.createdAt,
        render: (u) => formatDateTime(u.createdAt),
      },
      {
        id: 'actions',
        header: 'Actions',
        sortable: false,
        value: () => null,
        className: 'actions-cell',
        render: (u) =>
          u.username === viewer.username ? (
            <span className="muted small">you</span>
          ) : (
            <>
              <button
                type="button"
                className="button button-small"
                aria-label={`Reset password or TOTP of ${u.username}`}
                disabled={rowAction.busy}
                onClick={() => setResetting(u)}
              >
                Reset password / TOTP
              </button>{' '}
              {u.disabled ? (
                <button
                  type="button"
                  className="button button-small"
                  aria-label={`Enable ${u.username}`}
                  disabled={rowAction.busy}
                  onClick={() =>
                    rowAction.run(async () => {
                      await api.call('users.enable', { userId: u.id });
                      users.reload();
                    })
                  }
                >
                  Enable
                </button>
              ) : (
                <button
                  type="button"
                  className="button button-small button-danger-outline"
                  aria-label={`Disable ${u.username}`}
                  onClick={() => {
                    disable.setError(null);
                    setDisabling(u);
                  }}
                >
                  Disable
                </button>
              )}
            </>
          ),
      },
    ],
    [api, viewer.username, rowAction, setRole, users, disable],
  );

  return (
    <>
      <p className="page-intro muted">
        People who may sign in to this gateway. Invite someone to get a one-time enrollment link;
        resetting a password or TOTP signs them out and gives you a new link; disabling a user signs
        them out and ends their grants and live sessions within a second.
      </p>
      {resetDone ? (
        <EnrollmentLinkNotice
          created={resetDone.answer}
          text={resetNoticeText(resetDone.answer.user.username, resetDone.reset)}
          onDone={() => setResetDone(null)}
        />
      ) : null}
      {created ? (
        <EnrollmentLinkNotice created={created} onDone={() => setCreated(null)} />
      ) : inviting ? (
        <InviteUserForm
          api={api}
          onCancel={() => setInviting(false)}
          onCreated={(answer) => {
            setInviting(false);
            setCreated(answer);
            users.reload();
          }}
        />
      ) : null}
      {revoked ? (
        <RevokedSummary
          what={revoked.what}
          summary={revoked.summary}
          onDismiss={() => setRevoked(null)}
        />
      ) : null}
      <ErrorAlert message={users.error ?? rowAction.error} />
      <DataTable
        label="Users"
        rows={users.data}
        columns={columns}
        rowKey={(u) => u.id}
        rowLabel={(u) => u.username}
        initialSort={{ columnId: 'username', direction: 'ascending' }}
        toolbar={
          <button
            type="button"
            className="button button-primary"
            onClick={() => {
              setCreated(null);
              setInviting(true);
            }}
            disabled={inviting}
          >
            Invite user
          </button>
        }
        empty={
          <EmptyState title="No users yet">
            Invite the first person with <strong>Invite user</strong>: they get a one-time link to
            set their password.
          </EmptyState>
        }
      />
      {resetting ? (
        <ResetCredentialsDialog
          api={api}
          user={resetting}
          onCancel={() => setResetting(null)}
          onReset={(done) => {
            setResetting(null);
            setResetDone(done);
            users.reload();
          }}
        />
      ) : null}
      {disabling ? (
        <ConfirmDialog
          title={`Disable ${disabling.username}?`}
          confirmLabel={`Disable ${disabling.username}`}
          busy={disable.busy}
          error={disable.error}
          onCancel={() => setDisabling(null)}
          onConfirm={() =>
            disable.run(async () => {
              const summary = await api.call('users.disable', { userId: disabling.id });
              setDisabling(null);
              setRevoked({ what: 'was disabled', summary });
              users.reload();
            })
          }
        >
          <p>
            {disabling.username} is signed out everywhere, every grant naming them ends, and their
            live SSH, PostgreSQL and tunnel sessions and live watches end within a second with a
            message. Their recordings stay. You can enable the account again later; the grants do
            not come back.
          </p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}
