/**
 * Choosing a password: the password with its length rule, and the same again to confirm.
 * Both screens that set one (creating the local admin, enrolling) check them with
 * formValidation.ts; the browser is told these are new passwords, not ones to fill in.
 */
import { TextField } from '../components/TextField.tsx';
import { MIN_PASSWORD_LENGTH } from './formValidation.ts';

export function NewPasswordFields(props: {
  /** What the first field is called ("Password", "New password"). */
  label: string;
  password: string;
  onPasswordChange: (value: string) => void;
  confirm: string;
  onConfirmChange: (value: string) => void;
}) {
  return (
    <>
      <TextField
        label={props.label}
        type="password"
        value={props.password}
        onChange={props.onPasswordChange}
        autoComplete="new-password"
        hint={`At least ${MIN_PASSWORD_LENGTH} characters.`}
        required
      />
      <TextField
        label="Confirm password"
        type="password"
        value={props.confirm}
        onChange={props.onConfirmChange}
        autoComplete="new-password"
        required
      />
    </>
  );
}
