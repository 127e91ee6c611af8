/**
 * Where the refresh token is kept, when the user should know (DESIGN.md, Desktop: fall back to
 * an encrypted file or to memory "saying so in the UI").
 */
import type { AppState } from '../../../main/ipc/contract.ts';

export function SecretStoreNotice({ status }: { status: AppState['secretStore'] }) {
  if (status.notice === null) return null;
  return (
    <div role="note" aria-label="Secret storage" className="alert alert-info">
      <strong>{status.durable ? 'Sign-in storage: ' : 'Not remembered: '}</strong>
      {status.notice}
    </div>
  );
}
