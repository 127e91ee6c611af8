/**
 * Settings → Policies (issue #14): the masking rules and guardrails of a PostgreSQL resource or
 * a grant, edited with a box to try them before saving — a sample query and an optional sample
 * result go to the gateway, which answers with the proxy's own verdict (allowed, or refused by
 * which rule) and the result as the client would see it. Saving shows the gateway's refusal at
 * the rule it concerns.
 */
import { type JSX, useEffect, useId, useState } from 'react';
import type {
  DesktopApi,
  MaskingRuleDraft,
  PolicyDraft,
  PolicyHolder,
  PolicyTrial,
} from '../../../../main/ipc/contract.ts';
import { describeError } from '../../components/describeError.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { useAction } from '../../components/useAction.ts';
import { getDesktopApi } from '../../desktopApi/getDesktopApi.ts';
import { EditableRows } from '../components/EditableRows.tsx';
import '../resources/resources.css';
import './policies.css';
import {
  EMPTY_POLICY,
  newGuardrail,
  newMaskingRule,
  parseSampleResult,
  STATEMENT_CLASSES,
  validatePolicy,
} from './policyForm.ts';

export function PoliciesPage(): JSX.Element {
  const [api, setApi] = useState<DesktopApi | null>(null);
  const [holders, setHolders] = useState<PolicyHolder[] | null>(null);
  const [selected, setSelected] = useState<string>('');
  const [policy, setPolicy] = useState<PolicyDraft>(EMPTY_POLICY);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [loadError, setLoadError] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const save = useAction();
  const holderId = useId();

  useEffect(() => {
    getDesktopApi()
      .then(async (desktop) => {
        setApi(desktop);
        const list = await desktop.call('admin.policies.list', {});
        setHolders(list.holders);
      })
      .catch((e: unknown) => setLoadError(describeError(e)));
  }, []);

  const holder = holders?.find((h) => `${h.kind}:${h.id}` === selected);
  const errors = { ...validatePolicy(policy), ...serverErrors };
  const change = (next: PolicyDraft) => {
    setPolicy(next);
    setServerErrors({});
    setSaved(null);
  };

  const doSave = () => {
    if (!api || !holder || Object.keys(validatePolicy(policy)).length > 0) return;
    save.run(async () => {
      const outcome = await api.call('admin.policies.save', {
        kind: holder.kind,
        id: holder.id,
        policy,
      });
      if (!outcome.saved) {
        setServerErrors(Object.fromEntries(outcome.issues.map((i) => [i.field, i.message])));
        save.setError(outcome.message);
        return;
      }
      setHolders(
        (list) =>
          list?.map((h) => (h.kind === holder.kind && h.id === holder.id ? outcome.value : h)) ??
          null,
      );
      setSaved(`Saved the policy of ${outcome.value.name}; new sessions are held to it.`);
    });
  };

  return (
    <section className="settings-policies">
      <p className="settings-muted">
        Masking and guardrails for PostgreSQL sessions. A session is held to its resource’s policy
        and its grant’s together.
      </p>
      <ErrorAlert message={loadError} />
      {holders !== null && holders.length === 0 ? (
        <div className="settings-empty">
          <p>No PostgreSQL resource or grant carries a policy yet.</p>
          <p>
            Add a PostgreSQL database on the Resources page (or a grant), then set its policy here.
            You can try rules below meanwhile.
          </p>
        </div>
      ) : null}
      {holders && holders.length > 0 ? (
        <div className="settings-filters">
          <label htmlFor={holderId}>Policy of</label>
          <select
            id={holderId}
            value={selected}
            onChange={(e) => {
              setSelected(e.target.value);
              const next = holders.find((h) => `${h.kind}:${h.id}` === e.target.value);
              change(next ? next.policy : EMPTY_POLICY);
            }}
          >
            <option value="">(a new policy, to try)</option>
            {holders.map((h) => (
              <option key={`${h.kind}:${h.id}`} value={`${h.kind}:${h.id}`}>
                {h.kind === 'resource' ? 'Resource' : 'Grant'}: {h.name}
              </option>
            ))}
          </select>
        </div>
      ) : null}

      <PolicyEditor policy={policy} errors={errors} onChange={change} />

      <div className="settings-form-actions">
        <button
          type="button"
          className="button button-primary"
          disabled={!holder || save.busy || Object.keys(validatePolicy(policy)).length > 0}
          onClick={doSave}
        >
          {holder ? `Save to ${holder.name}` : 'Save (pick a resource or grant)'}
        </button>
      </div>
      <ErrorAlert message={save.error} />
      {saved ? <p role="status">{saved}</p> : null}

      {api ? <TryBox api={api} policy={policy} /> : null}
    </section>
  );
}

function PolicyEditor({
  policy,
  errors,
  onChange,
}: {
  policy: PolicyDraft;
  errors: Record<string, string>;
  onChange(policy: PolicyDraft): void;
}) {
  const modeId = useId();
  return (
    <div className="settings-policy-editor">
      <fieldset className="settings-fieldset">
        <legend>Masking</legend>
        <label htmlFor={modeId}>Mode</label>{' '}
        <select
          id={modeId}
          value={policy.maskingMode}
          onChange={(e) =>
            onChange({ ...policy, maskingMode: e.target.value as PolicyDraft['maskingMode'] })
          }
        >
          <option value="strict">strict: a masked column may only be shown, never used</option>
          <option value="basic">basic: masks result columns by name only</option>
        </select>
        <EditableRows
          rows={policy.masking}
          emptyText="No masking rules."
          addLabel="Add masking rule"
          newRow={newMaskingRule}
          onChange={(masking) => onChange({ ...policy, masking })}
          renderRow={(rule, set, i) => (
            <>
              <RuleInput
                label="Name"
                value={rule.name}
                error={errors[`masking.${i}.name`]}
                onChange={(name) => set({ ...rule, name })}
              />
              <label className="settings-inline">
                Matches{' '}
                <select
                  value={rule.match.kind}
                  onChange={(e) => {
                    const kind = e.target.value as MaskingRuleDraft['match']['kind'];
                    const match: MaskingRuleDraft['match'] =
                      kind === 'type'
                        ? { kind, types: ['text'] }
                        : kind === 'preset'
                          ? { kind, preset: 'email' }
                          : { kind, pattern: '' };
                    set({ ...rule, match });
                  }}
                >
                  <option value="column">columns named</option>
                  <option value="type">columns of type</option>
                  <option value="preset">values that look like</option>
                  <option value="value">values matching</option>
                </select>
              </label>
              {rule.match.kind === 'column' || rule.match.kind === 'value' ? (
                <RuleInput
                  label="Pattern"
                  value={rule.match.pattern}
                  error={errors[`masking.${i}.pattern`]}
                  onChange={(pattern) =>
                    set({ ...rule, match: { kind: rule.match.kind as 'column', pattern } })
                  }
                />
              ) : null}
              {rule.match.kind === 'type' ? (
                <RuleInput
                  label="Types"
                  value={rule.match.types.join(', ')}
                  error={errors[`masking.${i}.types`]}
                  onChange={(text) =>
                    set({
                      ...rule,
                      match: {
                        kind: 'type',
                        types: text
                          .split(',')
                          .map((t) => t.trim())
                          .filter(Boolean),
                      },
                    })
                  }
                />
              ) : null}
              {rule.match.kind === 'preset' ? (
                <select
                  aria-label="Preset"
                  value={rule.match.preset}
                  onChange={(e) =>
                    set({
                      ...rule,
                      match: {
                        kind: 'preset',
                        preset: e.target.value as 'email' | 'card' | 'phone',
                      },
                    })
                  }
                >
                  <option value="email">e-mail addresses</option>
                  <option value="card">card numbers</option>
                  <option value="phone">phone numbers</option>
                </select>
              ) : null}
              <select
                aria-label="Style"
                value={rule.style}
                onChange={(e) => set({ ...rule, style: e.target.value as 'full' | 'partial' })}
              >
                <option value="full">hide all</option>
                <option value="partial">keep the last four</option>
              </select>
            </>
          )}
        />
      </fieldset>

      <fieldset className="settings-fieldset">
        <legend>Guardrails</legend>
        <EditableRows
          rows={policy.guardrails}
          emptyText="No guardrails."
          addLabel="Add guardrail"
          newRow={newGuardrail}
          onChange={(guardrails) => onChange({ ...policy, guardrails })}
          renderRow={(rule, set, i) => (
            <>
              <RuleInput
                label="Name"
                value={rule.name}
                error={errors[`guardrails.${i}.name`]}
                onChange={(name) => set({ ...rule, name })}
              />
              <select
                aria-label="Kind"
                value={rule.kind}
                onChange={(e) =>
                  set(
                    e.target.value === 'regex'
                      ? { kind: 'regex', name: rule.name, pattern: '' }
                      : { kind: 'statement', name: rule.name, classes: [] },
                  )
                }
              >
                <option value="statement">refuse statements of class</option>
                <option value="regex">refuse statements matching</option>
              </select>
              {rule.kind === 'statement' ? (
                <div className="settings-classes">
                  {STATEMENT_CLASSES.map((c) => (
                    <label key={c} className="settings-inline">
                      <input
                        type="checkbox"
                        checked={rule.classes.includes(c)}
                        onChange={(e) =>
                          set({
                            ...rule,
                            classes: e.target.checked
                              ? [...rule.classes, c]
                              : rule.classes.filter((x) => x !== c),
                          })
                        }
                      />
                      {c.replaceAll('_', ' ')}
                    </label>
                  ))}
                  {errors[`guardrails.${i}.classes`] ? (
                    <p className="field-error">{errors[`guardrails.${i}.classes`]}</p>
                  ) : null}
                </div>
              ) : (
                <RuleInput
                  label="Pattern"
                  value={rule.pattern}
                  error={errors[`guardrails.${i}.pattern`]}
                  onChange={(pattern) => set({ ...rule, pattern })}
                />
              )}
            </>
          )}
        />
      </fieldset>
    </div>
  );
}

function RuleInput({
  label,
  value,
  error,
  onChange,
}: {
  label: string;
  value: string;
  error: string | undefined;
  onChange(value: string): void;
}) {
  const id = useId();
  return (
    <span className={error ? 'settings-inline field-invalid' : 'settings-inline'}>
      <label htmlFor={id}>{label}</label>{' '}
      <input
        id={id}
        value={value}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {error ? (
        <span id={`${id}-error`} className="field-error">
          {' '}
          {error}
        </span>
      ) : null}
    </span>
  );
}

function TryBox({ api, policy }: { api: DesktopApi; policy: PolicyDraft }) {
  const [query, setQuery] = useState('');
  const [columns, setColumns] = useState('');
  const [rows, setRows] = useState('');
  const [trial, setTrial] = useState<PolicyTrial | null>(null);
  const [issues, setIssues] = useState<string[]>([]);
  const trying = useAction();
  const queryId = useId();
  const columnsId = useId();
  const rowsId = useId();
  const sample = parseSampleResult(columns, rows);

  const run = () => {
    if (typeof sample === 'string' || query.trim() === '') return;
    trying.run(async () => {
      setTrial(null);
      setIssues([]);
      const outcome = await api.call('admin.policies.try', {
        policy,
        sampleQuery: query,
        ...(sample ? { sampleResult: sample } : {}),
      });
      if (outcome.saved) setTrial(outcome.value);
      else {
        trying.setError(outcome.message);
        setIssues(outcome.issues.map((i) => `${i.field}: ${i.message}`));
      }
    });
  };

  return (
    <fieldset className="settings-fieldset settings-try">
      <legend>Try it</legend>
      <label htmlFor={queryId}>Sample query</label>
      <textarea
        id={queryId}
        rows={3}
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        placeholder="select id, email from users"
      />
      <label htmlFor={columnsId}>Sample result columns (optional)</label>
      <input
        id={columnsId}
        value={columns}
        onChange={(e) => setColumns(e.target.value)}
        placeholder="id:int4, email:text"
      />
      <label htmlFor={rowsId}>
        Sample rows: one per line, values separated by |, NULL for null
      </label>
      <textarea
        id={rowsId}
        rows={3}
        value={rows}
        onChange={(e) => setRows(e.target.value)}
        placeholder="1 | ann@example.com"
      />
      {typeof sample === 'string' ? <p className="field-error">{sample}</p> : null}
      <button
        type="button"
        className="button button-primary"
        disabled={trying.busy || query.trim() === '' || typeof sample === 'string'}
        onClick={run}
      >
        Try
      </button>
      <ErrorAlert message={trying.error} />
      {issues.length > 0 ? (
        <ul className="field-error">
          {issues.map((i) => (
            <li key={i}>{i}</li>
          ))}
        </ul>
      ) : null}
      {trial ? <TrialVerdict trial={trial} /> : null}
    </fieldset>
  );
}

function TrialVerdict({ trial }: { trial: PolicyTrial }) {
  return (
    <div
      role="status"
      className={
        trial.verdict === 'allowed'
          ? 'settings-test settings-test-ok'
          : 'settings-test settings-test-bad'
      }
    >
      {trial.refusal ? (
        <>
          <p>
            Refused by the {trial.refusal.kind.replace('_', ' ')} rule “{trial.refusal.rule}”.
          </p>
          <p className="settings-mono">{trial.refusal.statement}</p>
          <p>{trial.refusal.reason}</p>
        </>
      ) : (
        <p>Allowed.</p>
      )}
      {trial.result ? (
        <table className="settings-table">
          <thead>
            <tr>
              {trial.result.columns.map((c) => (
                <th key={c.name} scope="col">
                  {c.name}
                  {c.rules.length > 0 ? ` (${c.treatment}: ${c.rules.join(', ')})` : ''}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {trial.result.rows.map((row, i) => (
              // biome-ignore lint/suspicious/noArrayIndexKey: rules and sample rows are positional (the gateway's issues name them by index)
              <tr key={i}>
                {row.map((v, j) => (
                  // biome-ignore lint/suspicious/noArrayIndexKey: rules and sample rows are positional (the gateway's issues name them by index)
                  <td key={j} className="settings-mono">
                    {v ?? 'NULL'}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      {trial.notes.map((n) => (
        <p key={n} className="settings-muted">
          {n}
        </p>
      ))}
    </div>
  );
}
