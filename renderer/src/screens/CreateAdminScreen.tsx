/**
 * First run of the embedded local gateway: create its admin account. createAdmin signs in as it
 * and returns the new AppState, so the next screen is the workspace.
 */
import { type FormEvent, useState } from 'react';
import type { AppState, DesktopApi } from '../../../main/ipc/contract.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { SubmitButton } from '../components/SubmitButton.tsx';
import { useAction } from '../components/useAction.ts';
import { CardLayout, type ThemeProps } from './CardLayout.tsx';
import { adminFormProblem } from './formValidation.ts';
import { NewPasswordFields } from './NewPasswordFields.tsx';
import { UsernameField } from './UsernameField.tsx';

export function CreateAdminScreen({
  api,
  localGateway,
  onState,
  onConnectElsewhere,
  ...theme
}: ThemeProps & {
  api: DesktopApi;
  localGateway: AppState['localGateway'];
  onState(state: AppState): void;
  onConnectElsewhere(): void;
}) {
  const [username, setUsername] = useState('admin');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const action = useAction();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const problem = adminFormProblem({ username, password, confirm });
    if (problem !== null) {
      action.setError(problem);
      return;
    }
    action.run(async () => {
      onState(await api.call('localGateway.createAdmin', { username, password }));
    });
  };

  return (
    <CardLayout title="Create the admin account" {...theme}>
      <div className="evaluation-note" role="note" aria-label="Local gateway for evaluation">
        <span className="badge badge-warn">local gateway — for evaluation</span>
        <p>
          History here is only as safe as this machine: recordings and signing keys are stored on
          this computer
          {localGateway.dataDir ? (
            <>
              {' '}
              in <code>{localGateway.dataDir}</code>
            </>
          ) : null}
          . Use a dedicated gateway for real work.
        </p>
      </div>
      <p className="muted">
        This account administers the local gateway. You are signed in as it when it is created.
      </p>
      <form onSubmit={submit} noValidate>
        <UsernameField value={username} onChange={setUsername} />
        <NewPasswordFields
          label="Password"
          password={password}
          onPasswordChange={setPassword}
          confirm={confirm}
          onConfirmChange={setConfirm}
        />
        <ErrorAlert message={action.error} />
        <div className="actions">
          <SubmitButton busy={action.busy}>Create admin account</SubmitButton>
        </div>
      </form>
      <hr />
      <p className="muted small">
        Have an organisation gateway?{' '}
        <button type="button" className="link-button" onClick={onConnectElsewhere}>
          Connect to it instead
        </button>
      </p>
      {localGateway.demoTargets.length > 0 ? (
        <p className="muted small">
          Demo targets you will find after signing in:{' '}
          {localGateway.demoTargets.map((t) => t.name).join(', ')}.
        </p>
      ) : null}
    </CardLayout>
  );
}
