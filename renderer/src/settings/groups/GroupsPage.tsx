/**
 * Groups (admins): a group is the name its members carry, so it exists while it has members —
 * a new group is made by adding its first member. Removing a member takes away what the group
 * granted, so it asks first; the gateway re-checks that person's live sessions.
 */
import { X } from 'lucide-react';
import { useCallback, useMemo, useState } from 'react';
import type { CallResponse } from '../../../../main/ipc/contract.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { SubmitButton } from '../../components/SubmitButton.tsx';
import { useAction } from '../../components/useAction.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { type Column, DataTable } from '../components/DataTable.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { FormField, TextInput } from '../components/FormField.tsx';
import { useLoaded } from '../components/useLoaded.ts';
import type { SettingsPageProps } from '../settingsPage.ts';
import { usernameProblem } from '../users/userRules.ts';

type Group = CallResponse<'groups.list'>['groups'][number];
type User = CallResponse<'users.list'>['users'][number];

const groupNameProblem = (value: string) =>
  usernameProblem(value)?.replace('username', 'group name') ?? null;

export function GroupsPage({ api }: SettingsPageProps) {
  const groups = useLoaded(
    useCallback(async () => (await api.call('groups.list', {})).groups, [api]),
  );
  const users = useLoaded(useCallback(async () => (await api.call('users.list', {})).users, [api]));
  const [removing, setRemoving] = useState<{
    group: string;
    userId: string;
    username: string;
  } | null>(null);
  const remove = useAction();
  const add = useAction();

  const addMember = useCallback(
    (group: string, userId: string) =>
      add.run(async () => {
        await api.call('groups.addMember', { group, userId });
        groups.reload();
        users.reload();
      }),
    [add, api, groups, users],
  );

  const columns = useMemo<Column<Group>[]>(
    () => [
      {
        id: 'name',
        header: 'Group',
        value: (g) => g.name,
        render: (g) => <strong>{g.name}</strong>,
      },
      { id: 'count', header: 'Members', value: (g) => g.members.length },
      {
        id: 'members',
        header: 'Who',
        value: (g) => g.members.map((m) => m.username).join(' '),
        render: (g) => (
          <span className="chips">
            {g.members.map((m) => (
              <span key={m.id} className="label-chip member-chip">
                {m.username}
                <button
                  type="button"
                  className="chip-remove"
                  aria-label={`Remove ${m.username} from ${g.name}`}
                  onClick={() => {
                    remove.setError(null);
                    setRemoving({ group: g.name, userId: m.id, username: m.username });
                  }}
                >
                  <X size={12} aria-hidden="true" />
                </button>
              </span>
            ))}
          </span>
        ),
      },
      {
        id: 'add',
        header: 'Add a member',
        sortable: false,
        value: () => null,
        render: (g) => (
          <AddMemberSelect
            group={g}
            users={users.data ?? []}
            busy={add.busy}
            onAdd={(userId) => addMember(g.name, userId)}
          />
        ),
      },
    ],
    [users.data, add.busy, addMember, remove],
  );

  return (
    <>
      <p className="page-intro muted">
        Groups let one grant, or one approver entry, cover several people. A group exists while it
        has members.
      </p>
      <NewGroupForm users={users.data ?? []} busy={add.busy} onCreate={addMember} />
      <ErrorAlert message={groups.error ?? users.error ?? add.error} />
      <DataTable
        label="Groups"
        rows={groups.data}
        columns={columns}
        rowKey={(g) => g.name}
        rowLabel={(g) => g.name}
        initialSort={{ columnId: 'name', direction: 'ascending' }}
        empty={
          <EmptyState title="No groups yet">
            Make one above: name it (e.g. <code>oncall</code>) and pick its first member. Grants and
            approvers can then name the group.
          </EmptyState>
        }
      />
      {removing ? (
        <ConfirmDialog
          title={`Remove ${removing.username} from ${removing.group}?`}
          confirmLabel="Remove member"
          busy={remove.busy}
          error={remove.error}
          onCancel={() => setRemoving(null)}
          onConfirm={() =>
            remove.run(async () => {
              await api.call('groups.removeMember', {
                group: removing.group,
                userId: removing.userId,
              });
              setRemoving(null);
              groups.reload();
              users.reload();
            })
          }
        >
          <p>
            {removing.username} loses what grants to {removing.group} gave them, and can no longer
            approve requests as a member of it.
          </p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}

function AddMemberSelect({
  group,
  users,
  busy,
  onAdd,
}: {
  group: Group;
  users: User[];
  busy: boolean;
  onAdd(userId: string): void;
}) {
  const members = new Set(group.members.map((m) => m.id));
  const candidates = users.filter((u) => !members.has(u.id) && !u.disabled);
  return (
    <select
      aria-label={`Add a member to ${group.name}`}
      value=""
      disabled={busy || candidates.length === 0}
      onChange={(e) => {
        if (e.target.value) onAdd(e.target.value);
      }}
    >
      <option value="">{candidates.length === 0 ? 'Everyone is a member' : 'Add…'}</option>
      {candidates.map((u) => (
        <option key={u.id} value={u.id}>
          {u.username}
        </option>
      ))}
    </select>
  );
}

function NewGroupForm({
  users,
  busy,
  onCreate,
}: {
  users: User[];
  busy: boolean;
  onCreate(group: string, userId: string): void;
}) {
  const [name, setName] = useState('');
  const [userId, setUserId] = useState('');
  const invalid = groupNameProblem(name) !== null || userId === '';
  return (
    <form
      className="settings-form inline-settings-form"
      aria-label="New group"
      onSubmit={(e) => {
        e.preventDefault();
        if (invalid) return;
        onCreate(name, userId);
        setName('');
        setUserId('');
      }}
    >
      <TextInput
        label="New group"
        value={name}
        onChange={setName}
        validate={groupNameProblem}
        placeholder="oncall"
      />
      <FormField label="First member" error={null}>
        {({ touch: _touch, ...control }) => (
          <select {...control} value={userId} onChange={(e) => setUserId(e.target.value)}>
            <option value="">Choose a user…</option>
            {users
              .filter((u) => !u.disabled)
              .map((u) => (
                <option key={u.id} value={u.id}>
                  {u.username}
                </option>
              ))}
          </select>
        )}
      </FormField>
      <SubmitButton busy={busy}>Create group</SubmitButton>
    </form>
  );
}
