/**
 * What the person is told about where their sign-in is kept (issue #15): plain words about
 * what it means for them, shown until they dismiss it. The technical reason main found (keytar's
 * D-Bus or Secret Service error) stays behind a "Details" disclosure for whoever debugs it.
 */
import type { AppState } from '../../../main/ipc/contract.ts';

type SecretStoreStatus = AppState['secretStore'];

/** localStorage key holding the store kind whose notice was dismissed. */
export const SECRET_NOTICE_DISMISSED_KEY = 'witness.secretStoreNotice.dismissed';

export interface SecretStoreNoticeText {
  title: string;
  body: string;
  /** main's own account of why, with the system's error; null when there is none. */
  details: string | null;
}

/** The notice for this store, or null when there is nothing to say (the OS keychain works). */
export function secretStoreNoticeText(status: SecretStoreStatus): SecretStoreNoticeText | null {
  if (status.notice === null) return null;
  const details = status.notice;
  switch (status.kind) {
    case 'keychain':
      return null;
    case 'encrypted-file':
    case 'file':
      return {
        title: 'Sign-in saved in an encrypted file',
        body:
          'This computer has no keychain Witness can use, so your sign-in is kept in a file ' +
          'encrypted for your user account. You stay signed in after a restart.',
        details,
      };
    case 'memory':
      return {
        title: 'Sign-in not saved on this computer',
        body: 'You will need to sign in again each time Witness starts.',
        details,
      };
  }
}

/**
 * Dismissed for this kind of store only: if it later gets worse (an encrypted file today,
 * memory only tomorrow), the new notice is shown again.
 */
export function noticeDismissed(status: SecretStoreStatus, dismissedKind: string | null): boolean {
  return dismissedKind === status.kind;
}
