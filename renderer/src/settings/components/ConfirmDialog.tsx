/**
 * Confirmation for a destructive action (disable a user, delete a grant, terminate a session):
 * a modal <dialog> that names what will happen, with the destructive button spelled out and
 * Cancel focused first, so Enter does not destroy by accident. `children` may hold a field
 * (a reason); `confirmDisabled` keeps the button off until it is filled in.
 */
import { type ReactNode, useEffect, useId, useRef } from 'react';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';

export function ConfirmDialog({
  title,
  confirmLabel,
  busy,
  error,
  confirmDisabled = false,
  tone = 'danger',
  onConfirm,
  onCancel,
  children,
}: {
  title: string;
  confirmLabel: string;
  busy: boolean;
  error: string | null;
  confirmDisabled?: boolean;
  /** A destructive action is red; an approval is the usual primary button. */
  tone?: 'danger' | 'primary';
  onConfirm(): void;
  onCancel(): void;
  children: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      className="dialog confirm-dialog"
      role="alertdialog"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        if (!busy) onCancel();
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (!busy && !confirmDisabled) onConfirm();
        }}
      >
        <h2 id={titleId}>{title}</h2>
        <div className="confirm-body">{children}</div>
        <ErrorAlert message={error} />
        <div className="dialog-actions">
          <button type="button" className="button button-ghost" onClick={onCancel} disabled={busy}>
            Cancel
          </button>
          <button
            type="submit"
            className={`button ${tone === 'danger' ? 'button-danger' : 'button-primary'}`}
            disabled={busy || confirmDisabled}
            aria-busy={busy}
          >
            {busy ? <span className="spinner" aria-hidden="true" /> : null}
            {confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
