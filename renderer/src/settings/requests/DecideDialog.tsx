/** Approve or deny a request, with a comment the requester sees. */
import { useState } from 'react';
import type { AccessRequestSummary } from '../../../../main/ipc/contract.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { formatDuration } from '../components/timeText.ts';

export function DecideDialog({
  request,
  decision,
  busy,
  error,
  onDecide,
  onCancel,
}: {
  request: AccessRequestSummary;
  decision: 'approve' | 'deny';
  busy: boolean;
  error: string | null;
  onDecide(comment: string): void;
  onCancel(): void;
}) {
  const [comment, setComment] = useState('');
  const verb = decision === 'approve' ? 'Approve' : 'Deny';
  return (
    <ConfirmDialog
      title={`${verb} ${request.username}'s request for ${request.resourceName}?`}
      confirmLabel={verb}
      tone={decision === 'approve' ? 'primary' : 'danger'}
      busy={busy}
      error={error}
      onCancel={onCancel}
      onConfirm={() => onDecide(comment.trim())}
    >
      <p>
        {request.username} asks for {formatDuration(request.durationSeconds)}:{' '}
        <q>{request.reason}</q>
      </p>
      {decision === 'approve' && request.approvalsRequired > 1 ? (
        <p className="muted small">
          This request needs {request.approvalsRequired} approvals from different approvers.
        </p>
      ) : null}
      <label className="field">
        <span className="field-label">Comment</span>
        <input
          type="text"
          aria-label="Comment"
          value={comment}
          maxLength={1024}
          placeholder={decision === 'approve' ? 'Optional' : 'Say why, so they know what to do'}
          onChange={(e) => setComment(e.target.value)}
        />
      </label>
    </ConfirmDialog>
  );
}
