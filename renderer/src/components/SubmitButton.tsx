/**
 * A form's primary button. Its name stays the same while busy (a spinner shows instead), so a
 * test or a screen reader that found "Sign in" still finds it after the click.
 */
import type { ReactNode } from 'react';

export function SubmitButton({ busy, children }: { busy: boolean; children: ReactNode }) {
  return (
    <button type="submit" className="button button-primary" disabled={busy} aria-busy={busy}>
      {busy ? <span className="spinner" aria-hidden="true" /> : null}
      {children}
    </button>
  );
}
