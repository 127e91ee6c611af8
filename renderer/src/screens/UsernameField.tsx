/** A username as typed: no capitalizing or spell-checking, and the browser may fill it in. */
import { TextField } from '../components/TextField.tsx';

export function UsernameField(props: { value: string; onChange: (value: string) => void }) {
  return (
    <TextField
      label="Username"
      value={props.value}
      onChange={props.onChange}
      autoComplete="username"
      autoCapitalize="off"
      spellCheck={false}
      required
    />
  );
}
