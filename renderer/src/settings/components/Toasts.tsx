/**
 * In-app notices that come and go (an access request approved or denied): the web host has no
 * desktop notifications, and in Electron the panel shows them too. A polite live region, so a
 * screen reader reads each without moving focus; each closes itself after a while or by hand.
 */
import { X } from 'lucide-react';
import { useEffect } from 'react';

export interface Toast {
  id: string;
  title: string;
  body: string;
  tone: 'ok' | 'bad' | 'info';
}

const TOAST_MS = 12_000;

export function Toasts({ toasts, onDismiss }: { toasts: Toast[]; onDismiss(id: string): void }) {
  return (
    <section className="toasts" aria-label="Notifications" aria-live="polite">
      {toasts.map((toast) => (
        <ToastCard key={toast.id} toast={toast} onDismiss={onDismiss} />
      ))}
    </section>
  );
}

function ToastCard({ toast, onDismiss }: { toast: Toast; onDismiss(id: string): void }) {
  useEffect(() => {
    const timer = setTimeout(() => onDismiss(toast.id), TOAST_MS);
    return () => clearTimeout(timer);
  }, [toast.id, onDismiss]);
  return (
    <div className={`toast toast-${toast.tone}`} role="status" aria-label={toast.title}>
      <div>
        <strong>{toast.title}</strong>
        <p className="toast-body">{toast.body}</p>
      </div>
      <button
        type="button"
        className="button button-ghost button-small"
        aria-label={`Dismiss ${toast.title}`}
        onClick={() => onDismiss(toast.id)}
      >
        <X size={15} aria-hidden="true" />
      </button>
    </div>
  );
}
