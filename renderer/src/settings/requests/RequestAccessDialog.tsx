/**
 * "Request access" on a resource whose grant needs approval: a reason approvers read and how
 * long. The longest allowed is the grant's, which only the gateway knows: a longer ask comes
 * back as its sentence, under Duration.
 */
import { useEffect, useRef, useState } from 'react';
import type { DesktopApi, ResourceSummary } from '../../../../main/ipc/contract.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { SubmitButton } from '../../components/SubmitButton.tsx';
import { useAction } from '../../components/useAction.ts';
import { TextInput } from '../components/FormField.tsx';
import { errorFor, placeServerError } from '../components/serverErrorPlacement.ts';
import { parseDuration } from '../components/timeText.ts';

const serverRules = [
  { field: 'duration', pattern: /at most|duration|shorter/i },
  { field: 'reason', pattern: /reason|say why/i },
] as const;

export function durationProblem(text: string): string | null {
  const seconds = parseDuration(text);
  if (seconds === null) return 'A duration such as 30m, 1h or 2h.';
  if (seconds < 60) return 'At least a minute.';
  if (seconds > 24 * 3600) return 'At most 24h.';
  return null;
}

export function RequestAccessDialog({
  api,
  resource,
  onRequested,
  onClose,
}: {
  api: DesktopApi;
  resource: ResourceSummary;
  onRequested(): void;
  onClose(): void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState('');
  const [duration, setDuration] = useState('1h');
  const action = useAction();
  const placed = placeServerError(action.error, serverRules);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  const reasonProblem = (v: string) => (v.trim() === '' ? 'Say why you need access.' : null);
  const invalid = reasonProblem(reason) !== null || durationProblem(duration) !== null;
  return (
    <dialog
      ref={ref}
      className="dialog"
      aria-labelledby="request-access-title"
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (invalid) return;
          action.run(async () => {
            await api.call('requests.create', {
              resourceId: resource.id,
              reason: reason.trim(),
              durationSeconds: parseDuration(duration) ?? 3600,
            });
            onRequested();
          });
        }}
      >
        <h2 id="request-access-title">Request access to {resource.name}</h2>
        <p className="muted small">
          An approver sees your reason and decides. You are told here as soon as they do; the access
          then lasts as long as you asked and ends by itself.
        </p>
        <TextInput
          label="Reason"
          value={reason}
          onChange={(v) => {
            setReason(v);
            action.setError(null);
          }}
          validate={reasonProblem}
          serverError={errorFor(placed, 'reason')}
          placeholder="e.g. incident 42: restart the API"
        />
        <TextInput
          label="Duration"
          value={duration}
          onChange={(v) => {
            setDuration(v);
            action.setError(null);
          }}
          validate={durationProblem}
          serverError={errorFor(placed, 'duration')}
          hint="e.g. 30m, 1h, 2h — at most what the grant allows."
        />
        <ErrorAlert message={placed?.field === null ? placed.message : null} />
        <div className="dialog-actions">
          <button type="button" className="button button-ghost" onClick={onClose}>
            Cancel
          </button>
          <SubmitButton busy={action.busy}>Send request</SubmitButton>
        </div>
      </form>
    </dialog>
  );
}
