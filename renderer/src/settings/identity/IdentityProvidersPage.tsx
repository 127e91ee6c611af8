/**
 * Identity providers (admins, issue #18): the OpenID Connect providers people sign in with.
 * The client secret is write-only — typed to add a provider or to replace it, never shown
 * (the gateway never answers it). The redirect URI shown is the one to register at the
 * provider. Removing a provider stops new sign-ins through it.
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
  issuerProblem,
  parseScopes,
  providerNameProblem,
  requiredProblem,
  scopesProblem,
} from './identityForms.ts';

type Provider = CallResponse<'admin.identityProviders.list'>['providers'][number];

export function IdentityProvidersPage({ api }: SettingsPageProps) {
  const providers = useLoaded(
    useCallback(async () => (await api.call('admin.identityProviders.list', {})).providers, [api]),
  );
  const [editing, setEditing] = useState<Provider | 'new' | null>(null);
  const [removing, setRemoving] = useState<Provider | null>(null);
  const remove = useAction();

  const columns = useMemo<Column<Provider>[]>(
    () => [
      {
        id: 'name',
        header: 'Provider',
        value: (p) => p.displayName,
        render: (p) => (
          <>
            <strong>{p.displayName}</strong> <code className="muted">{p.name}</code>
          </>
        ),
      },
      { id: 'issuer', header: 'Issuer', value: (p) => p.issuer },
      { id: 'client', header: 'Client id', value: (p) => p.clientId },
      { id: 'groups', header: 'Groups claim', value: (p) => p.groupsClaim },
      {
        id: 'redirect',
        header: 'Redirect URI to register',
        value: (p) => p.redirectUri,
        render: (p) => <code>{p.redirectUri}</code>,
      },
      {
        id: 'actions',
        header: 'Actions',
        sortable: false,
        value: () => null,
        render: (p) => (
          <span className="row-actions">
            <button
              type="button"
              className="button button-small"
              aria-label={`Edit ${p.name}`}
              onClick={() => setEditing(p)}
            >
              Edit
            </button>
            <button
              type="button"
              className="button button-small button-danger"
              aria-label={`Remove ${p.name}`}
              onClick={() => {
                remove.setError(null);
                setRemoving(p);
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
        People sign in with these providers through their browser; Witness creates their account on
        first sign-in and follows the provider's groups claim, so grants to a group follow the
        provider.
      </p>
      {editing ? (
        <ProviderForm
          api={api}
          existing={editing === 'new' ? null : editing}
          onSaved={() => {
            setEditing(null);
            providers.reload();
          }}
          onCancel={() => setEditing(null)}
        />
      ) : null}
      <ErrorAlert message={providers.error} />
      <DataTable
        label="Identity providers"
        rows={providers.data}
        columns={columns}
        rowKey={(p) => p.name}
        rowLabel={(p) => p.name}
        initialSort={{ columnId: 'name', direction: 'ascending' }}
        toolbar={
          <button
            type="button"
            className="button button-primary"
            onClick={() => setEditing('new')}
            disabled={editing !== null}
          >
            Add provider
          </button>
        }
        empty={
          <EmptyState title="No identity provider yet">
            Add one (Okta, Entra ID, Google, Keycloak): its issuer URL, the client id and secret of
            an app registered there, and the redirect URI this page shows then.
          </EmptyState>
        }
      />
      {removing ? (
        <ConfirmDialog
          title={`Remove ${removing.displayName}?`}
          confirmLabel="Remove provider"
          busy={remove.busy}
          error={remove.error}
          onCancel={() => setRemoving(null)}
          onConfirm={() =>
            remove.run(async () => {
              await api.call('admin.identityProviders.delete', { name: removing.name });
              setRemoving(null);
              providers.reload();
            })
          }
        >
          <p>
            Nobody can sign in through {removing.displayName} any more. Accounts it created stay
            (disable them under Users to end their access).
          </p>
        </ConfirmDialog>
      ) : null}
    </>
  );
}

function ProviderForm({
  api,
  existing,
  onSaved,
  onCancel,
}: {
  api: DesktopApi;
  existing: Provider | null;
  onSaved(): void;
  onCancel(): void;
}) {
  const [name, setName] = useState(existing?.name ?? '');
  const [displayName, setDisplayName] = useState(existing?.displayName ?? '');
  const [issuer, setIssuer] = useState(existing?.issuer ?? '');
  const [clientId, setClientId] = useState(existing?.clientId ?? '');
  const [clientSecret, setClientSecret] = useState('');
  const [scopes, setScopes] = useState(
    (existing?.scopes ?? ['openid', 'profile', 'email', 'offline_access']).join(' '),
  );
  const [groupsClaim, setGroupsClaim] = useState(existing?.groupsClaim ?? 'groups');
  const action = useAction();
  const secretProblem =
    existing === null && clientSecret === '' ? 'Enter the client secret.' : null;
  const invalid =
    providerNameProblem(name) !== null ||
    issuerProblem(issuer) !== null ||
    clientId.trim() === '' ||
    secretProblem !== null ||
    scopesProblem(scopes) !== null ||
    groupsClaim.trim() === '';
  const title = existing ? `Edit ${existing.displayName}` : 'Add an identity provider';
  return (
    <form
      className="settings-form"
      aria-label={title}
      onSubmit={(e) => {
        e.preventDefault();
        if (invalid) {
          action.setError('Fill in the fields marked above.');
          return;
        }
        action.run(async () => {
          await api.call('admin.identityProviders.save', {
            create: existing === null,
            name,
            displayName: displayName.trim() || name,
            issuer: issuer.trim(),
            clientId: clientId.trim(),
            ...(clientSecret !== '' ? { clientSecret } : {}),
            scopes: parseScopes(scopes),
            groupsClaim: groupsClaim.trim(),
          });
          onSaved();
        });
      }}
    >
      <h3>{title}</h3>
      <div className="form-grid">
        {existing ? null : (
          <TextInput
            label="Name"
            value={name}
            onChange={setName}
            validate={providerNameProblem}
            placeholder="okta"
            hint="Short, for URLs and `witness login --sso NAME`."
          />
        )}
        <TextInput
          label="Display name"
          value={displayName}
          onChange={setDisplayName}
          placeholder="Okta"
          hint="On the sign-in button: “Sign in with …”."
        />
        <TextInput
          label="Issuer URL"
          value={issuer}
          onChange={setIssuer}
          validate={issuerProblem}
          placeholder="https://acme.okta.com"
        />
        <TextInput
          label="Client id"
          value={clientId}
          onChange={setClientId}
          validate={requiredProblem('client id')}
        />
        <FormField
          label="Client secret"
          error={secretProblem}
          hint={
            existing
              ? 'Stored sealed and never shown; leave empty to keep it, type to replace it.'
              : 'Stored sealed and never shown again.'
          }
        >
          {({ touch: _touch, ...control }) => (
            <input
              {...control}
              type="password"
              autoComplete="off"
              value={clientSecret}
              onChange={(e) => setClientSecret(e.target.value)}
            />
          )}
        </FormField>
        <TextInput
          label="Scopes"
          value={scopes}
          onChange={setScopes}
          validate={scopesProblem}
          hint="offline_access lets Witness ask the provider again while sessions are live."
        />
        <TextInput
          label="Groups claim"
          value={groupsClaim}
          onChange={setGroupsClaim}
          validate={requiredProblem('claim that holds groups')}
          hint="groups (Okta, Keycloak), roles, or a custom claim."
        />
      </div>
      <ErrorAlert message={action.error} />
      <div className="form-actions">
        <button type="button" className="button button-ghost" onClick={onCancel}>
          Cancel
        </button>
        <SubmitButton busy={action.busy}>
          {existing ? 'Save provider' : 'Add provider'}
        </SubmitButton>
      </div>
    </form>
  );
}
