/**
 * Sign in to the pinned gateway. A 'totp_required' rejection moves to a second step asking for
 * the authenticator code; the password is kept in memory only until that step is done.
 */
import { type FormEvent, useState } from 'react';
import type { AppState, DesktopApi } from '../../../main/ipc/contract.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { LocalGatewayBadge } from '../components/LocalGatewayBadge.tsx';
import { SecretStoreNotice } from '../components/SecretStoreNotice.tsx';
import { SubmitButton } from '../components/SubmitButton.tsx';
import { TextField } from '../components/TextField.tsx';
import { useAction } from '../components/useAction.ts';
import { isDesktopError } from '../desktopApi/getDesktopApi.ts';
import { CardLayout, type ThemeProps } from './CardLayout.tsx';
import { normalizeTotp } from './formValidation.ts';
import { ProviderSignIn } from './ProviderSignIn.tsx';
import { UsernameField } from './UsernameField.tsx';

export function SignInScreen({
  api,
  state,
  notice,
  onState,
  onSigningOut,
  onEnroll,
  onConnectElsewhere,
  ...theme
}: ThemeProps & {
  api: DesktopApi;
  state: AppState;
  /** Why the user is here again (signed out by the gateway), or null. */
  notice: string | null;
  onState(state: AppState): void;
  onSigningOut(): void;
  onEnroll(): void;
  /** Leave the embedded local gateway for another (no call: see chooseScreen). */
  onConnectElsewhere(): void;
}) {
  // The last user to sign in here, from the desktop profile (issue #15); the password never is.
  const [username, setUsername] = useState(state.lastUsername ?? '');
  const [password, setPassword] = useState('');
  const [step, setStep] = useState<'password' | 'totp'>('password');
  const [totp, setTotp] = useState('');
  const action = useAction();
  const forget = useAction();

  const signIn = (event: FormEvent) => {
    event.preventDefault();
    if (username.trim() === '' || password === '') {
      action.setError('Enter your username and password.');
      return;
    }
    action.run(
      async () => {
        onState(await api.call('account.login', { username: username.trim(), password }));
      },
      (error) => {
        if (!isDesktopError(error) || error.code !== 'totp_required') return false;
        setStep('totp');
        return true;
      },
    );
  };

  const verifyCode = (event: FormEvent) => {
    event.preventDefault();
    const code = normalizeTotp(totp);
    if ('problem' in code) {
      action.setError(code.problem);
      return;
    }
    action.run(async () => {
      onState(
        await api.call('account.login', {
          username: username.trim(),
          password,
          totpCode: code.code,
        }),
      );
    });
  };

  const gateway = state.gateway;
  return (
    <CardLayout title="Sign in" {...theme}>
      {gateway ? (
        <p className="gateway-line">
          <span className="muted">Gateway</span> <code>{gateway.url}</code>
          {gateway.isLocal ? <LocalGatewayBadge /> : null}
        </p>
      ) : null}
      {notice !== null ? (
        <div role="status" className="alert alert-warn">
          {notice}
        </div>
      ) : null}
      <SecretStoreNotice status={state.secretStore} />
      {step === 'password' ? <ProviderSignIn api={api} onState={onState} /> : null}
      {step === 'password' ? (
        <form onSubmit={signIn} noValidate>
          <UsernameField value={username} onChange={setUsername} />
          <TextField
            label="Password"
            type="password"
            value={password}
            onChange={setPassword}
            autoComplete="current-password"
            // With the username remembered, the password is what is left to type.
            autoFocus={Boolean(state.lastUsername)}
            required
          />
          <ErrorAlert message={action.error} />
          <div className="actions">
            <SubmitButton busy={action.busy}>Sign in</SubmitButton>
          </div>
        </form>
      ) : (
        <form onSubmit={verifyCode} noValidate>
          <p>
            Enter the 6-digit code from your authenticator app for <strong>{username}</strong>.
          </p>
          <TextField
            label="Authentication code"
            value={totp}
            onChange={setTotp}
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={7}
            autoFocus
            required
          />
          <ErrorAlert message={action.error} />
          <div className="actions">
            <SubmitButton busy={action.busy}>Verify code</SubmitButton>
            <button
              type="button"
              className="button"
              onClick={() => {
                setStep('password');
                setTotp('');
                action.setError(null);
              }}
            >
              Back
            </button>
          </div>
        </form>
      )}
      <hr />
      <div className="secondary-actions">
        <button type="button" className="link-button" onClick={onEnroll}>
          Enroll with a link
        </button>
        <button
          type="button"
          className="link-button"
          disabled={forget.busy}
          onClick={() => {
            if (gateway?.isLocal) {
              onConnectElsewhere();
              return;
            }
            // Unpins this gateway (main then offers the local one again, or asks for another).
            forget.run(async () => {
              onSigningOut();
              onState(await api.call('gateway.forget', {}));
            });
          }}
        >
          Use a different gateway
        </button>
      </div>
      <ErrorAlert message={forget.error} />
    </CardLayout>
  );
}
