/**
 * The audit log page of the settings panel (issue #14): every admin action, access decision,
 * request and approval the gateway logged, newest first, filtered by actor, action and words;
 * "Verify" asks main to export the log and check its chain and signatures against the pinned
 * recording key (main verifies, never the renderer); "Export" saves it as JSON lines through
 * main's save dialog. Self-contained: the settings panel renders `<AuditPage />`.
 */
import { type FormEvent, type JSX, useCallback, useEffect, useState } from 'react';
import type {
  AuditEntryRow,
  AuditVerdict,
  CallResponse,
  DesktopApi,
} from '../../../../main/ipc/contract.ts';
import { describeError } from '../../components/describeError.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { SubmitButton } from '../../components/SubmitButton.tsx';
import { TextField } from '../../components/TextField.tsx';
import { useAction } from '../../components/useAction.ts';
import { getDesktopApi } from '../../desktopApi/getDesktopApi.ts';
import {
  type AuditFilterForm,
  auditListRequest,
  EMPTY_AUDIT_FILTERS,
  hasFilters,
  sinceProblem,
} from './auditFilters.ts';
import './audit.css';

/** The page as the settings panel mounts it: it reaches main itself. */
export function AuditPage(): JSX.Element {
  const [api, setApi] = useState<DesktopApi | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    getDesktopApi()
      .then(setApi)
      .catch((e: unknown) => setError(describeError(e)));
  }, []);
  if (api === null) {
    return (
      <section className="audit-page">
        <ErrorAlert message={error} />
      </section>
    );
  }
  return <AuditLog api={api} />;
}

type Exported = CallResponse<'audit.export'>;

/** The page with its DesktopApi given (tests pass a fake). */
export function AuditLog({ api }: { api: DesktopApi }): JSX.Element {
  const [form, setForm] = useState<AuditFilterForm>(EMPTY_AUDIT_FILTERS);
  const [applied, setApplied] = useState<AuditFilterForm>(EMPTY_AUDIT_FILTERS);
  const [entries, setEntries] = useState<AuditEntryRow[] | null>(null);
  const [nextCursor, setNextCursor] = useState<string | null>(null);
  const [verdict, setVerdict] = useState<AuditVerdict | null>(null);
  const [exported, setExported] = useState<Exported | null>(null);
  const loading = useAction();
  const verifying = useAction();
  const exporting = useAction();
  const sinceError = sinceProblem(form.since);

  const load = useCallback(
    (filters: AuditFilterForm, cursor: string | null) =>
      loading.run(async () => {
        const page = await api.call('audit.list', auditListRequest(filters, cursor));
        setEntries((shown) =>
          cursor === null ? page.entries : [...(shown ?? []), ...page.entries],
        );
        setNextCursor(page.nextCursor);
      }),
    [api, loading.run],
  );

  useEffect(() => {
    load(EMPTY_AUDIT_FILTERS, null);
  }, [load]);

  const applyFilters = (event: FormEvent) => {
    event.preventDefault();
    if (sinceError) return;
    setApplied(form);
    load(form, null);
  };
  const clearFilters = () => {
    setForm(EMPTY_AUDIT_FILTERS);
    setApplied(EMPTY_AUDIT_FILTERS);
    load(EMPTY_AUDIT_FILTERS, null);
  };
  const verify = () =>
    verifying.run(async () => {
      setVerdict(null);
      setVerdict(await api.call('audit.verify', {}));
    });
  const exportLog = () =>
    exporting.run(async () => {
      setExported(null);
      setExported(await api.call('audit.export', { exportId: `audit-${Date.now()}` }));
    });

  return (
    <section className="audit-page">
      <div className="audit-head">
        <div className="audit-actions">
          <button
            type="button"
            className="button"
            onClick={verify}
            disabled={verifying.busy}
            aria-busy={verifying.busy}
          >
            {verifying.busy ? <span className="spinner" aria-hidden="true" /> : null}
            Verify
          </button>
          <button
            type="button"
            className="button"
            onClick={exportLog}
            disabled={exporting.busy}
            aria-busy={exporting.busy}
          >
            Export
          </button>
        </div>
      </div>
      <p className="muted">
        Admin actions, sessions allowed or refused, access requests and approvals — chained and
        signed by the gateway, so an export can be checked offline with{' '}
        <code>witness audit verify</code>.
      </p>

      {verdict ? <VerdictNotice verdict={verdict} /> : null}
      <ErrorAlert message={verifying.error} />
      {exported ? (
        <div className="alert alert-info" role="status">
          Saved {exported.fileName} ({exported.bytes} bytes) to {exported.savedTo}.
        </div>
      ) : null}
      <ErrorAlert message={exporting.error} />

      <form className="audit-filters" onSubmit={applyFilters} aria-label="Filter the audit log">
        <TextField
          label="Actor"
          value={form.actor}
          onChange={(actor) => setForm({ ...form, actor })}
          placeholder="username"
        />
        <TextField
          label="Action"
          value={form.action}
          onChange={(action) => setForm({ ...form, action })}
          placeholder="admin, session, request…"
        />
        <TextField
          label="Search"
          value={form.text}
          onChange={(text) => setForm({ ...form, text })}
          placeholder="words in the entry"
        />
        <TextField
          label="Since"
          value={form.since}
          onChange={(since) => setForm({ ...form, since })}
          placeholder="2h, 7d or a time"
          aria-invalid={sinceError !== null}
          {...(sinceError ? { hint: sinceError } : {})}
        />
        <div className="audit-filter-buttons">
          <SubmitButton busy={loading.busy}>Filter</SubmitButton>
          {hasFilters(form) || hasFilters(applied) ? (
            <button type="button" className="button button-ghost" onClick={clearFilters}>
              Clear
            </button>
          ) : null}
        </div>
      </form>
      <ErrorAlert message={loading.error} />

      {entries === null ? null : entries.length === 0 ? (
        <p className="empty">
          {hasFilters(applied)
            ? 'No audit entries match these filters — clear them to see everything.'
            : 'Nothing is logged yet. Admin changes, sessions and access requests appear here as they happen.'}
        </p>
      ) : (
        <AuditTable entries={entries} />
      )}
      {nextCursor !== null ? (
        <button
          type="button"
          className="button button-ghost audit-more"
          onClick={() => load(applied, nextCursor)}
          disabled={loading.busy}
        >
          Show older entries
        </button>
      ) : null}
    </section>
  );
}

function VerdictNotice({ verdict }: { verdict: AuditVerdict }): JSX.Element {
  return (
    <div
      className={verdict.ok ? 'alert alert-info audit-verdict' : 'alert alert-error audit-verdict'}
      role="status"
      aria-label="Audit log verification"
    >
      <strong>{verdict.ok ? 'Verified' : 'Not verified'}:</strong> {verdict.message}
      <span className="audit-key"> Key {verdict.recordingKeyFingerprint} (pinned).</span>
    </div>
  );
}

/** A plain table, newest first: what happened, by whom, to what, and how it ended. */
export function AuditTable({ entries }: { entries: AuditEntryRow[] }): JSX.Element {
  return (
    <table className="audit-table">
      <thead>
        <tr>
          <th scope="col">Seq</th>
          <th scope="col">Time</th>
          <th scope="col">Actor</th>
          <th scope="col">Action</th>
          <th scope="col">Target</th>
          <th scope="col">Outcome</th>
          <th scope="col">Details</th>
        </tr>
      </thead>
      <tbody>
        {entries.map((entry) => (
          <tr key={entry.seq} className={`audit-outcome-${entry.outcome}`}>
            <td className="audit-seq">{entry.seq}</td>
            <td>
              <time dateTime={entry.time}>{new Date(entry.time).toLocaleString()}</time>
            </td>
            <td>{entry.actorName ?? <span className="muted">gateway</span>}</td>
            <td>
              <code>{entry.action}</code>
            </td>
            <td className="audit-target">{entry.target}</td>
            <td>
              <span className="audit-outcome">{entry.outcome}</span>
            </td>
            <td className="audit-details" title={entry.details}>
              {entry.details === '{}' ? '' : entry.details}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
