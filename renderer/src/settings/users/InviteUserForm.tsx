/**
 * Invite a user: username, role, groups. The gateway answers with a one-time enrollment link,
 * which is shown here once (the desktop keeps no copy) for the admin to hand over.
 */
import { useState } from 'react';
import type { CallResponse, DesktopApi } from '../../../../main/ipc/contract.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { SubmitButton } from '../../components/SubmitButton.tsx';
import { useAction } from '../../components/useAction.ts';
import { FormField, TextInput } from '../components/FormField.tsx';
import { errorFor, placeServerError } from '../components/serverErrorPlacement.ts';
import type { Role } from '../viewer.ts';
import {
  groupListProblem,
  inviteNoticeText,
  type LinkNoticeText,
  parseGroupList,
  usernameProblem,
} from './userRules.ts';

type Created = CallResponse<'users.create'>;

const roleHints: Record<Role, string> = {
  engineer: 'Opens sessions under grants; may request access.',
  auditor: 'Reads and verifies every recording.',
  admin: 'Manages users, resources, grants and sessions.',
};

const serverRules = [
  { field: 'username', pattern: /user named|username/i },
  { field: 'groups', pattern: /group/i },
] as const;

export function InviteUserForm({
  api,
  onCreated,
  onCancel,
}: {
  api: DesktopApi;
  onCreated(created: Created): void;
  onCancel(): void;
}) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('engineer');
  const [groups, setGroups] = useState('');
  const action = useAction();
  const placed = placeServerError(action.error, serverRules);
  const invalid = usernameProblem(username) !== null || groupListProblem(groups) !== null;
  return (
    <form
      className="settings-form"
      aria-label="Invite a user"
      onSubmit={(e) => {
        e.preventDefault();
        if (invalid) return;
        action.run(async () => {
          onCreated(
            await api.call('users.create', { username, role, groups: parseGroupList(groups) }),
          );
        });
      }}
    >
      <h3>Invite a user</h3>
      <div className="form-grid">
        <TextInput
          label="Username"
          value={username}
          onChange={(v) => {
            setUsername(v);
            action.setError(null);
          }}
          validate={usernameProblem}
          serverError={errorFor(placed, 'username')}
        />
        <FormField label="Role" error={null} hint={roleHints[role]}>
          {({ touch: _touch, ...control }) => (
            <select {...control} value={role} onChange={(e) => setRole(e.target.value as Role)}>
              <option value="engineer">Engineer</option>
              <option value="auditor">Auditor</option>
              <option value="admin">Admin</option>
            </select>
          )}
        </FormField>
        <TextInput
          label="Groups"
          value={groups}
          onChange={(v) => {
            setGroups(v);
            action.setError(null);
          }}
          validate={groupListProblem}
          serverError={errorFor(placed, 'groups')}
          hint="Comma-separated, e.g. oncall, dba. Grants and approvers can name groups."
        />
      </div>
      <ErrorAlert message={placed?.field === null ? placed.message : null} />
      <div className="form-actions">
        <button type="button" className="button button-ghost" onClick={onCancel}>
          Cancel
        </button>
        <SubmitButton busy={action.busy}>Create and get link</SubmitButton>
      </div>
    </form>
  );
}

/** The one-time link, shown once: after an invitation, or a reset (`text` says which). */
export function EnrollmentLinkNotice({
  created,
  onDone,
  text = inviteNoticeText(created.user.username),
}: {
  created: Created;
  onDone(): void;
  text?: LinkNoticeText;
}) {
  const [copied, setCopied] = useState(false);
  const link = created.enrollLink;
  return (
    <section className="settings-form enroll-notice" aria-label="Enrollment link">
      <h3>{text.heading}</h3>
      {link ? (
        <>
          <p>
            Send this one-time link to {created.user.username}. It is shown only now
            {created.enrollExpiresAt
              ? ` and works until ${new Date(created.enrollExpiresAt).toLocaleString()}`
              : ''}
            : they open it in Witness (Enroll with a link) {text.withLink}.
          </p>
          <textarea
            readOnly
            aria-label={`Enrollment link for ${created.user.username}`}
            value={link}
            rows={3}
            onFocus={(e) => e.currentTarget.select()}
          />
        </>
      ) : (
        <p>{text.withoutLink}</p>
      )}
      <div className="form-actions">
        {link ? (
          <button
            type="button"
            className="button"
            onClick={() => {
              void navigator.clipboard
                ?.writeText(link)
                .then(() => setCopied(true))
                .catch(() => setCopied(false));
            }}
          >
            {copied ? 'Copied' : 'Copy link'}
          </button>
        ) : null}
        <button type="button" className="button button-primary" onClick={onDone}>
          Done
        </button>
      </div>
    </section>
  );
}
