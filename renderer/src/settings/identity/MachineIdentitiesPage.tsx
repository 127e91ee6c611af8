/**
 * Machine identities (admins, issue #18): a CI job signs in with the token its CI system
 * issues per job, and Witness takes it for the identity whose issuer, audience and claims it
 * matches exactly. Each identity is a Witness user of the same name, so its access is granted
 * on the Grants page like anyone's; nothing long-lived is ever issued to it.
 */
import { useCallback, useMemo, useState } from 'react';
import type { CallResponse, DesktopApi } from '../../../../main/ipc/contract.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { SubmitButton } from '../../components/SubmitButton.tsx';
import { useAction } from '../../components/useAction.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { type Column, DataTable } from '../components/DataTable.tsx';
import { EmptyState } from '../components/EmptyState.tsx';
import { FormField, TextInput } from '../components/FormField.tsx';
import { useLoaded } from '../components/useLoaded.ts';
import type { SettingsPageProps } from '../settingsPage.ts';
import {
  claimsProblem,
  issuerProblem,
  machineNameProblem,
  parseClaims,
  requiredProblem,
} from './identityForms.ts';

type Identity = CallResponse<'admin.machineIdentities.list'>['identities'][number];

const claimsText = (identity: Identity) =>
  Object.entries(identity.claims)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');

export function MachineIdentitiesPage({ api }: SettingsPageProps) {
  const identities = useLoaded(
    useCallback(async () => (await api.call('admin.machineIdentities.list', {})).identities, [api]),
  );
  const [adding, setAdding] = useState(false);
  const [removing, setRemoving] = useState<Identity | null>(null);
  const remove = useAction();

  const columns = useMemo<Column<Identity>[]>(
    () => [
      {
        id: 'name',
        header: 'Identity',
        value: (m) => m.name,
        render: (m) => <strong>{m.name}</strong>,
      },
      { id: 'issuer', header: 'Issuer', value: (m) => m.issuer },
      { id: 'audience', header: 'Audience', value: (m) => m.audience },
      {
        id: 'claims',
        header: 'Required claims',
        value: claimsText,
        render: (m) => (
          <span className="chips">
            {Object.entries(m.claims).map(([key, value]) => (
              <code key={key} className="label-chip">
                {key}={value}
              </code>
            ))}
          </span>
        ),
      },
      {
        id: 'actions',
        header: 'Actions',
        sortable: false,
        value: () => null,
        render: (m) => (
          <span className="row-actions">
            <button
              type="button"
              className="button button-small button-danger"
              aria-label={`Remove ${m.name}`}
              onClick={() => {
                remove.setError(null);
                setRemoving(m);
              }}
            >
              Remove
            </button>
          </span>
        ),
      },
    ],
    [remove],
  );

  return (
    <>
      <p className="page-intro muted">
        CI jobs sign in with their CI system's per-job token (
        <code>witness login URL --id-token FILE</code>) and get minutes of access, nothing more.
        Give an identity access on the Grants page: it is a user of the same name.
      </p>
      {adding ? (
        <MachineIdentityForm
          api={api}
          onSaved={() => {
            setAdding(false);
            identities.reload();
          }}
          onCancel={() => setAdding(false)}
        />
      ) : null}
      <ErrorAlert message={identities.error} />
      <DataTable
        label="Machine identities"
        rows={identities.data}
        columns={columns}
        rowKey={(m) => m.name}
        rowLabel={(m) => m.name}
        initialSort={{ columnId: 'name', direction: 'ascending' }}
        toolbar={
          <button
            type="button"
            className="button button-primary"
            onClick={() => setAdding(true)}
            disabled={adding}
          >
            Add machine identity
          </button>
        }
        empty={
          <EmptyState title="No machine identity yet">
            Add one for a CI job: the issuer (e.g. https://token.actions.githubusercontent.com), the
            audience the job asks for, and the claims that pin it (repository, ref).
          </EmptyState>
        }
      />
      {removing ? (
        <ConfirmDialog
          title={`Remove ${removing.name}?`}
          confirmLabel="Remove identity"
          busy={remove.busy}
          error={remove.error}
          onCancel={() => setRemoving(null)}
          onConfirm={() =>
            remove.run(async () => {
              await api.call('admin.machineIdentities.delete', { name: removing.name });
              setRemoving(null);
              identities.reload();
            })
          }
        >
          <p>
            Jobs matching {claimsText(removing)} can no longer sign in, and the sessions they have
            open end now.
          </p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}

function MachineIdentityForm({
  api,
  onSaved,
  onCancel,
}: {
  api: DesktopApi;
  onSaved(): void;
  onCancel(): void;
}) {
  const [name, setName] = useState('');
  const [issuer, setIssuer] = useState('');
  const [audience, setAudience] = useState('witness');
  const [claims, setClaims] = useState('');
  const [claimsTouched, setClaimsTouched] = useState(false);
  const action = useAction();
  const invalid =
    machineNameProblem(name) !== null ||
    issuerProblem(issuer) !== null ||
    audience.trim() === '' ||
    claimsProblem(claims) !== null;
  return (
    <form
      className="settings-form"
      aria-label="Add a machine identity"
      onSubmit={(e) => {
        e.preventDefault();
        setClaimsTouched(true);
        const parsed = parseClaims(claims);
        if (invalid || 'problem' in parsed) {
          action.setError('Fill in the fields marked above.');
          return;
        }
        action.run(async () => {
          await api.call('admin.machineIdentities.create', {
            name,
            issuer: issuer.trim(),
            audience: audience.trim(),
            claims: parsed.claims,
          });
          onSaved();
        });
      }}
    >
      <h3>Add a machine identity</h3>
      <div className="form-grid">
        <TextInput
          label="Name"
          value={name}
          onChange={setName}
          validate={machineNameProblem}
          placeholder="ci-deploy"
          hint="Also its Witness user name: grants and recordings show it."
        />
        <TextInput
          label="Issuer URL"
          value={issuer}
          onChange={setIssuer}
          validate={issuerProblem}
          placeholder="https://token.actions.githubusercontent.com"
        />
        <TextInput
          label="Audience"
          value={audience}
          onChange={setAudience}
          validate={requiredProblem('audience')}
          hint="The aud the job requests its token for."
        />
        <FormField
          label="Required claims"
          error={claimsTouched ? claimsProblem(claims) : null}
          hint="One name=value per line, matched exactly, e.g. repository=acme/app."
        >
          {({ touch, ...control }) => (
            <textarea
              {...control}
              rows={3}
              value={claims}
              placeholder={'repository=acme/app\nref=refs/heads/main'}
              onChange={(e) => {
                setClaims(e.target.value);
                touch();
                setClaimsTouched(true);
              }}
            />
          )}
        </FormField>
      </div>
      <ErrorAlert message={action.error} />
      <div className="form-actions">
        <button type="button" className="button button-ghost" onClick={onCancel}>
          Cancel
        </button>
        <SubmitButton busy={action.busy}>Add identity</SubmitButton>
      </div>
    </form>
  );
}
