/** What a disable or a role change took away, as the gateway answered it (issue #14). */
import type { AccessRevokedSummary } from '../../../../main/ipc/contract.ts';

export function RevokedSummary({
  what,
  summary,
  onDismiss,
}: {
  what: string;
  summary: AccessRevokedSummary;
  onDismiss(): void;
}) {
  const { user } = summary;
  const plural = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`;
  return (
    <div role="status" aria-label="Access revoked" className="alert alert-info revoked">
      <strong>
        {user.username} {what}.
      </strong>
      <ul>
        <li>
          {summary.signInsRevoked
            ? 'Signed out everywhere (every sign-in revoked)'
            : 'Sign-ins kept'}
        </li>
        <li>{plural(summary.grantsEnded.length, 'grant')} ended</li>
        <li>
          {plural(summary.sessionsEnded.length, 'live session')} ended
          {summary.sessionsEnded.length > 0 ? ` (${summary.sessionsEnded.join(', ')})` : ''}
        </li>
        <li>{plural(summary.watchesEnded, 'live watch')} ended</li>
      </ul>
      <button type="button" className="button button-small" onClick={onDismiss}>
        Dismiss
      </button>
    </div>
  );
}
