/**
 * Recordings the gateway finds missing (issue #12), above the list for admins and auditors: a
 * session recorded whose row was deleted is in no list at all, so without this notice it would
 * vanish silently. Each is badged "Missing" (its row or its bytes are gone) or "Unlisted bytes"
 * (stored bytes no row names). Asked once when the list is shown; the gateway runs its check
 * on each request. Says nothing when there is nothing missing or the call is refused.
 */
import { TriangleAlert } from 'lucide-react';
import { useEffect, useState } from 'react';
import type { CallResponse, DesktopApi } from '../../../main/ipc/contract.ts';

type Problem = CallResponse<'recordings.problems'>['problems'][number];

const BADGE: Record<Problem['kind'], string> = {
  missing_row: 'Missing',
  missing_bytes: 'Missing',
  orphan_bytes: 'Unlisted bytes',
};

export function RecordingProblemsNotice({ api }: { api: DesktopApi }) {
  const [problems, setProblems] = useState<Problem[]>([]);
  useEffect(() => {
    let cancelled = false;
    api
      .call('recordings.problems', {})
      .then((r) => {
        if (!cancelled) setProblems(r.problems);
      })
      // Not an auditor or admin, or an older gateway: the list alone is all there is.
      .catch(() => {});
    return () => {
      cancelled = true;
    };
  }, [api]);
  if (problems.length === 0) return null;
  const missing = problems.filter((p) => p.kind !== 'orphan_bytes').length;
  return (
    <section className="integrity integrity-bad" aria-label="Missing recordings">
      <strong className="integrity-title">
        <TriangleAlert size={16} aria-hidden="true" />
        <span>
          {missing === 1 ? '1 recording is missing' : `${missing} recordings are missing`}
          {problems.length > missing ? `, ${problems.length - missing} stored without a row` : ''}
        </span>
      </strong>
      <ul className="recording-problems">
        {problems.map((p) => (
          <li key={`${p.kind} ${p.sessionId}`} aria-label={`${BADGE[p.kind]}: ${p.sessionId}`}>
            <span className="badge badge-status-failed">{BADGE[p.kind]}</span>{' '}
            <code>{p.sessionId}</code> <span className="muted small">{p.message}</span>
          </li>
        ))}
      </ul>
    </section>
  );
}
