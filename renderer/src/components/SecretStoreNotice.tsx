/**
 * Where the refresh token is kept, when the user should know (DESIGN.md, Desktop: fall back to
 * an encrypted file or to memory "saying so in the UI"): said once in plain words, dismissible,
 * and the dismissal remembered (issue #15).
 */
import { X } from 'lucide-react';
import { useState } from 'react';
import type { AppState } from '../../../main/ipc/contract.ts';
import {
  noticeDismissed,
  SECRET_NOTICE_DISMISSED_KEY,
  secretStoreNoticeText,
} from './secretStoreNoticeText.ts';
import '../workbench/workbench.css';

function readDismissed(): string | null {
  try {
    return localStorage.getItem(SECRET_NOTICE_DISMISSED_KEY);
  } catch {
    return null; // storage disabled: the notice is shown again next time
  }
}

export function SecretStoreNotice({ status }: { status: AppState['secretStore'] }) {
  const [dismissedKind, setDismissedKind] = useState(readDismissed);
  const text = secretStoreNoticeText(status);
  if (text === null || noticeDismissed(status, dismissedKind)) return null;
  const dismiss = () => {
    try {
      localStorage.setItem(SECRET_NOTICE_DISMISSED_KEY, status.kind);
    } catch {
      // not remembered; hidden for this window still
    }
    setDismissedKind(status.kind);
  };
  return (
    <div role="note" aria-label="Sign-in storage" className="alert alert-info secret-store-notice">
      <div className="secret-store-notice-text">
        <strong>{text.title}.</strong> {text.body}
        {text.details ? (
          <details>
            <summary>Details</summary>
            {text.details}
          </details>
        ) : null}
      </div>
      <button
        type="button"
        className="button button-ghost button-small"
        aria-label="Dismiss sign-in storage notice"
        title="Dismiss — it will not be shown again"
        onClick={dismiss}
      >
        <X size={16} aria-hidden="true" />
      </button>
    </div>
  );
}
