/**
 * "Reset password / TOTP" (issue #14): the admin chooses what to reset (both by default) and
 * confirms; the gateway revokes the user's sign-ins and, for a password, answers a one-time
 * link that the page then shows once, as after an invitation. Live sessions go on.
 */
import { useState } from 'react';
import type { CallResponse, DesktopApi, PanelUser } from '../../../../main/ipc/contract.ts';
import { useAction } from '../../components/useAction.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';

export interface ResetDone {
  answer: CallResponse<'users.reset'>;
  reset: { password: boolean; totp: boolean };
}

export function ResetCredentialsDialog({
  api,
  user,
  onCancel,
  onReset,
}: {
  api: DesktopApi;
  user: PanelUser;
  onCancel(): void;
  onReset(done: ResetDone): void;
}) {
  const [password, setPassword] = useState(true);
  // Nothing to reset when TOTP is not set up; the gateway would accept it, but say so here.
  const [totp, setTotp] = useState(user.totpEnabled);
  const action = useAction();
  return (
    <ConfirmDialog
      title={`Reset ${user.username}'s sign-in?`}
      confirmLabel={`Reset for ${user.username}`}
      busy={action.busy}
      error={action.error}
      confirmDisabled={!password && !totp}
      onCancel={onCancel}
      onConfirm={() =>
        action.run(async () => {
          const reset = { password, totp };
          const answer = await api.call('users.reset', { userId: user.id, ...reset });
          onReset({ answer, reset });
        })
      }
    >
      <p>
        {user.username} is signed out everywhere. A password reset stops the old password at once
        and gives you a one-time link to send them; after a TOTP reset they set up their
        authenticator again. Their live sessions go on: they are still allowed, only their
        credentials change.
      </p>
      <label className="toggle">
        <input type="checkbox" checked={password} onChange={(e) => setPassword(e.target.checked)} />{' '}
        Password
      </label>{' '}
      <label className="toggle">
        <input type="checkbox" checked={totp} onChange={(e) => setTotp(e.target.checked)} /> TOTP
        {user.totpEnabled ? '' : ' (not set up)'}
      </label>
    </ConfirmDialog>
  );
}
