/**
 * Add or edit a grant: who (a user or a group), which resource, standing or approval-required,
 * the validity window, the longest session, and for approval grants who approves and how many
 * approvals it takes. Fields check as you type; the gateway's refusal lands under the field
 * it names. Subject and resource are fixed once a grant exists (delete and add instead).
 */
import { useState } from 'react';
import type {
  DesktopApi,
  PanelGrant,
  PanelUser,
  ResourceSummary,
} from '../../../../main/ipc/contract.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { SubmitButton } from '../../components/SubmitButton.tsx';
import { useAction } from '../../components/useAction.ts';
import { FormField, SelectInput, TextInput } from '../components/FormField.tsx';
import { errorFor, placeServerError } from '../components/serverErrorPlacement.ts';
import {
  emptyGrantForm,
  formFromGrant,
  type GrantField,
  type GrantFormValues,
  grantFormProblems,
  toCreateRequest,
  toUpdateRequest,
} from './grantForm.ts';

const serverRules: { field: GrantField; pattern: RegExp }[] = [
  { field: 'validUntil', pattern: /validUntil|validFrom|window|before/i },
  { field: 'maxSession', pattern: /maxSession|session length/i },
  { field: 'approvalsRequired', pattern: /approvalsRequired|approvals/i },
  { field: 'approverGroups', pattern: /approver/i },
  { field: 'resourceId', pattern: /resource/i },
  { field: 'group', pattern: /group/i },
  { field: 'userId', pattern: /user/i },
];

export function GrantEditor({
  api,
  grant,
  users,
  resources,
  onSaved,
  onCancel,
}: {
  api: DesktopApi;
  /** null: a new grant. */
  grant: PanelGrant | null;
  users: PanelUser[];
  resources: ResourceSummary[];
  onSaved(): void;
  onCancel(): void;
}) {
  const editing = grant !== null;
  const [values, setValues] = useState<GrantFormValues>(() =>
    grant ? formFromGrant(grant) : emptyGrantForm,
  );
  const action = useAction();
  const problems = grantFormProblems(values, editing);
  const placed = placeServerError(action.error, serverRules);
  const set = <K extends GrantField>(field: K, value: GrantFormValues[K]) => {
    setValues((current) => ({ ...current, [field]: value }));
    action.setError(null);
  };
  const text = (field: GrantField) => ({
    value: values[field] as string,
    onChange: (v: string) => set(field, v as never),
    validate: () => problems[field] ?? null,
    serverError: errorFor(placed, field),
  });

  return (
    <form
      className="settings-form"
      aria-label={editing ? 'Edit grant' : 'Add a grant'}
      onSubmit={(e) => {
        e.preventDefault();
        if (Object.keys(problems).length > 0) return;
        action.run(async () => {
          if (grant) await api.call('grants.update', toUpdateRequest(grant.id, values));
          else await api.call('grants.create', toCreateRequest(values));
          onSaved();
        });
      }}
    >
      <h3>{editing ? 'Edit grant' : 'Add a grant'}</h3>
      <div className="form-grid">
        <FormField label="Grant to" error={null}>
          {({ touch: _t, ...control }) => (
            <select
              {...control}
              disabled={editing}
              value={values.subjectKind}
              onChange={(e) => set('subjectKind', e.target.value as 'user' | 'group')}
            >
              <option value="group">A group</option>
              <option value="user">A user</option>
            </select>
          )}
        </FormField>
        {values.subjectKind === 'group' ? (
          editing ? (
            <ReadOnly label="Group" value={values.group} />
          ) : (
            <TextInput label="Group" placeholder="oncall" {...text('group')} />
          )
        ) : (
          <SelectInput
            label="User"
            {...text('userId')}
            disabled={editing}
            placeholder="Choose a user…"
            options={users.map((u) => ({ value: u.id, label: u.username }))}
          />
        )}
        <SelectInput
          label="Resource"
          {...text('resourceId')}
          disabled={editing}
          placeholder={editing && !values.resourceId ? 'A label selector' : 'Choose a resource…'}
          options={resources.map((r) => ({
            value: r.id,
            label: `${r.name} (${r.kind === 'ssh' ? 'SSH' : 'PostgreSQL'})`,
          }))}
        />
        <fieldset className="field mode-field">
          <legend>Access</legend>
          <label>
            <input
              type="radio"
              name="grant-mode"
              checked={values.mode === 'approval'}
              onChange={() => set('mode', 'approval')}
            />{' '}
            Approval required — they request access, approvers decide
          </label>
          <label>
            <input
              type="radio"
              name="grant-mode"
              checked={values.mode === 'standing'}
              onChange={() => set('mode', 'standing')}
            />{' '}
            Standing — usable at once
          </label>
        </fieldset>
        <TextInput
          label="Valid from"
          type="datetime-local"
          {...text('validFrom')}
          hint="Empty: from now."
        />
        <TextInput
          label="Valid until"
          type="datetime-local"
          {...text('validUntil')}
          hint="Empty: no end."
        />
        <TextInput
          label="Longest session"
          {...text('maxSession')}
          hint="e.g. 30m, 1h, 8h — also the longest access a request may ask for."
        />
        {values.mode === 'approval' ? (
          <>
            <FormField label="Approvers (users)" error={null} hint="None named: admins decide.">
              {({ touch: _t, ...control }) => (
                <select
                  {...control}
                  multiple
                  size={Math.min(5, Math.max(2, users.length))}
                  value={values.approverUsers}
                  onChange={(e) =>
                    set(
                      'approverUsers',
                      [...e.target.selectedOptions].map((o) => o.value),
                    )
                  }
                >
                  {users.map((u) => (
                    <option key={u.id} value={u.id}>
                      {u.username}
                    </option>
                  ))}
                </select>
              )}
            </FormField>
            <TextInput label="Approver groups" placeholder="leads" {...text('approverGroups')} />
            <TextInput
              label="Approvals required"
              type="number"
              {...text('approvalsRequired')}
              hint="Distinct approvers; nobody approves their own request."
            />
          </>
        ) : null}
        <TextInput
          label="Description"
          {...text('description')}
          placeholder="Why this grant exists"
        />
      </div>
      <ErrorAlert message={placed?.field === null ? placed.message : null} />
      <div className="form-actions">
        <button type="button" className="button button-ghost" onClick={onCancel}>
          Cancel
        </button>
        <SubmitButton busy={action.busy}>{editing ? 'Save grant' : 'Add grant'}</SubmitButton>
      </div>
    </form>
  );
}

function ReadOnly({ label, value }: { label: string; value: string }) {
  return (
    <div className="field">
      <span className="field-label">{label}</span>
      <div className="read-only">{value}</div>
    </div>
  );
}
