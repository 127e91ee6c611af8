/**
 * Redeem a `witness://enroll?…` link: main pins the gateway from the link (its CA fingerprint
 * travels in it), sets the chosen password and signs in. Reached from the connect and sign-in
 * screens, and by an `app.deepLink` event when the OS opened such a link.
 */
import { type FormEvent, useId, useState } from 'react';
import type { AppState, DesktopApi } from '../../../main/ipc/contract.ts';
import { ErrorAlert } from '../components/ErrorAlert.tsx';
import { SubmitButton } from '../components/SubmitButton.tsx';
import { useAction } from '../components/useAction.ts';
import { CardLayout, type ThemeProps } from './CardLayout.tsx';
import { enrollLinkProblem, newPasswordProblem } from './formValidation.ts';
import { NewPasswordFields } from './NewPasswordFields.tsx';

export function EnrollScreen({
  api,
  initialLink,
  onState,
  onCancel,
  ...theme
}: ThemeProps & {
  api: DesktopApi;
  initialLink: string;
  onState(state: AppState): void;
  onCancel(): void;
}) {
  const [link, setLink] = useState(initialLink);
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const action = useAction();
  const linkId = useId();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const problem = enrollLinkProblem(link) ?? newPasswordProblem({ password, confirm });
    if (problem !== null) {
      action.setError(problem);
      return;
    }
    action.run(async () => {
      onState(await api.call('account.enroll', { link: link.trim(), password }));
    });
  };

  return (
    <CardLayout title="Enroll with a link" {...theme}>
      <p className="muted">
        Your administrator sent you a one-time link starting with <code>witness://enroll?</code>.
        Enrolling pins the gateway it names, sets your password and signs you in.
      </p>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={linkId}>Enroll link</label>
          <textarea
            id={linkId}
            value={link}
            onChange={(e) => setLink(e.target.value)}
            rows={3}
            spellCheck={false}
            autoCapitalize="off"
            placeholder="witness://enroll?gateway=…&token=…&fingerprint=…"
            required
          />
        </div>
        <NewPasswordFields
          label="New password"
          password={password}
          onPasswordChange={setPassword}
          confirm={confirm}
          onConfirmChange={setConfirm}
        />
        <ErrorAlert message={action.error} />
        <div className="actions">
          <SubmitButton busy={action.busy}>Enroll</SubmitButton>
          <button type="button" className="button" onClick={onCancel}>
            Back
          </button>
        </div>
      </form>
    </CardLayout>
  );
}
