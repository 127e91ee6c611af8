/**
 * Settings → Resources (issue #14): the admin's list of SSH servers and PostgreSQL databases
 * with their labels and a filter; add and edit forms that check as you type and show the
 * gateway's refusal at the field it concerns; "Generate key" (the public key to install, with a
 * copy button), "Scan host key" (the fingerprint, pinned on confirmation), "Test connection"
 * (the step that failed), and delete with confirmation. Every rule is the gateway's; no stored
 * secret ever reaches this page (the contract carries none back).
 */
import { Check, X } from 'lucide-react';
import { type JSX, type ReactNode, useCallback, useEffect, useId, useMemo, useState } from 'react';
import type { AdminResource, ConnectionTest, DesktopApi } from '../../../../main/ipc/contract.ts';
import { describeError } from '../../components/describeError.ts';
import { ErrorAlert } from '../../components/ErrorAlert.tsx';
import { SubmitButton } from '../../components/SubmitButton.tsx';
import { useAction } from '../../components/useAction.ts';
import { getDesktopApi } from '../../desktopApi/getDesktopApi.ts';
import {
  draftOf,
  emptyForm,
  type FieldErrors,
  filterAdminResources,
  formOf,
  issuesByField,
  type ResourceFormState,
  validateForm,
} from './resourceForm.ts';
import './resources.css';

export function ResourcesPage(): JSX.Element {
  const [api, setApi] = useState<DesktopApi | null>(null);
  const [resources, setResources] = useState<AdminResource[] | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [text, setText] = useState('');
  const [label, setLabel] = useState('');
  const [editing, setEditing] = useState<ResourceFormState | null>(null);
  const [installKey, setInstallKey] = useState<{ name: string; key: string } | null>(null);
  const [tests, setTests] = useState<Record<string, ConnectionTest | 'running'>>({});
  const [deleting, setDeleting] = useState<AdminResource | null>(null);
  const rowAction = useAction();
  const filterId = useId();
  const labelId = useId();

  useEffect(() => {
    getDesktopApi()
      .then(setApi)
      .catch((e: unknown) => setLoadError(describeError(e)));
  }, []);

  const load = useCallback(() => {
    if (!api) return;
    api
      .call('admin.resources.list', {})
      .then((result) => {
        setResources(result.resources);
        setLoadError(null);
      })
      .catch((e: unknown) => setLoadError(describeError(e)));
  }, [api]);
  useEffect(load, [load]);

  const labels = useMemo(
    () =>
      [
        ...new Set(
          (resources ?? []).flatMap((r) => Object.entries(r.labels).map(([k, v]) => `${k}=${v}`)),
        ),
      ].sort(),
    [resources],
  );
  const shown = useMemo(
    () => filterAdminResources(resources ?? [], text, label),
    [resources, text, label],
  );

  const test = (resource: AdminResource) => {
    if (!api) return;
    setTests((t) => ({ ...t, [resource.id]: 'running' }));
    api
      .call('admin.resources.test', { id: resource.id })
      .then((result) => setTests((t) => ({ ...t, [resource.id]: result })))
      .catch((e: unknown) => {
        setTests(({ [resource.id]: _, ...rest }) => rest);
        rowAction.setError(describeError(e));
      });
  };

  const confirmDelete = () => {
    const target = deleting;
    if (!api || !target) return;
    rowAction.run(async () => {
      await api.call('admin.resources.delete', { id: target.id });
      setDeleting(null);
      load();
    });
  };

  if (editing && api) {
    return (
      <ResourceForm
        api={api}
        initial={editing}
        onCancel={() => setEditing(null)}
        onSaved={(name, key) => {
          setEditing(null);
          setInstallKey(key ? { name, key } : null);
          load();
        }}
      />
    );
  }

  return (
    <section className="settings-resources">
      <header className="settings-resources-header">
        <div className="settings-resources-actions">
          <button type="button" className="button" onClick={() => setEditing(emptyForm('ssh'))}>
            Add SSH server
          </button>
          <button
            type="button"
            className="button"
            onClick={() => setEditing(emptyForm('postgres'))}
          >
            Add PostgreSQL database
          </button>
        </div>
      </header>
      <ErrorAlert message={loadError ?? rowAction.error} />
      {installKey ? (
        <PublicKeyNotice
          name={installKey.name}
          publicKey={installKey.key}
          onClose={() => setInstallKey(null)}
        />
      ) : null}
      {deleting ? (
        <div role="alertdialog" aria-labelledby={`${filterId}-delete`} className="settings-confirm">
          <p id={`${filterId}-delete`}>
            Delete <strong>{deleting.name}</strong>? Its grants are deleted and its live sessions
            end now.
          </p>
          <button
            type="button"
            className="button button-danger"
            disabled={rowAction.busy}
            onClick={confirmDelete}
          >
            Delete {deleting.name}
          </button>
          <button type="button" className="button" onClick={() => setDeleting(null)}>
            Keep it
          </button>
        </div>
      ) : null}
      {resources === null ? (
        <p className="settings-muted">{loadError ? '' : 'Loading…'}</p>
      ) : resources.length === 0 ? (
        <div className="settings-empty">
          <p>No resources yet.</p>
          <p>
            Add an SSH server or a PostgreSQL database: the gateway keeps its credential, and people
            reach it only through the gateway, recorded. Then grant it to someone on the Grants
            page.
          </p>
        </div>
      ) : (
        <>
          <div className="settings-filters">
            <label htmlFor={filterId}>Filter</label>
            <input
              id={filterId}
              type="search"
              value={text}
              placeholder="name, host or label"
              onChange={(e) => setText(e.target.value)}
            />
            <label htmlFor={labelId}>Label</label>
            <select id={labelId} value={label} onChange={(e) => setLabel(e.target.value)}>
              <option value="">any</option>
              {labels.map((l) => (
                <option key={l} value={l}>
                  {l}
                </option>
              ))}
            </select>
          </div>
          <table className="settings-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Kind</th>
                <th scope="col">Target</th>
                <th scope="col">Labels</th>
                <th scope="col">Credential</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => (
                <ResourceRow
                  key={r.id}
                  resource={r}
                  test={tests[r.id]}
                  onEdit={() => setEditing(formOf(r))}
                  onTest={() => test(r)}
                  onDelete={() => setDeleting(r)}
                />
              ))}
            </tbody>
          </table>
          {shown.length === 0 ? (
            <p className="settings-muted">No resource matches the filter.</p>
          ) : null}
        </>
      )}
    </section>
  );
}

function ResourceRow({
  resource,
  test,
  onEdit,
  onTest,
  onDelete,
}: {
  resource: AdminResource;
  test: ConnectionTest | 'running' | undefined;
  onEdit(): void;
  onTest(): void;
  onDelete(): void;
}) {
  const t = resource.target;
  const stored = [
    resource.stored.hasPrivateKey ? 'key' : '',
    resource.stored.hasPassword ? 'password' : '',
  ]
    .filter(Boolean)
    .join(' + ');
  return (
    <>
      <tr>
        <td>{resource.name}</td>
        <td>{t.kind === 'ssh' ? 'SSH' : 'PostgreSQL'}</td>
        <td className="settings-mono">
          {t.username}@{t.host}:{t.port}
          {t.kind === 'postgres' ? `/${t.database} (TLS ${t.tlsMode})` : ''}
          {t.kind === 'ssh' && !t.hostKeyFingerprint ? (
            <span className="settings-warn"> host key not pinned</span>
          ) : null}
        </td>
        <td>
          {Object.entries(resource.labels).map(([k, v]) => (
            <span key={k} className="settings-label">
              {k}={v}
            </span>
          ))}
        </td>
        <td>{stored || <span className="settings-warn">none</span>}</td>
        <td className="settings-row-actions">
          <button type="button" className="button" onClick={onTest} disabled={test === 'running'}>
            Test connection
          </button>
          <button type="button" className="button" onClick={onEdit}>
            Edit
          </button>
          <button type="button" className="button button-danger" onClick={onDelete}>
            Delete
          </button>
        </td>
      </tr>
      {test !== undefined ? (
        <tr className="settings-test-row">
          <td colSpan={6}>
            {test === 'running' ? 'Testing…' : <ConnectionTestResult result={test} />}
          </td>
        </tr>
      ) : null}
    </>
  );
}

const STEP_NAMES: Record<ConnectionTest['steps'][number]['step'], string> = {
  dns: 'DNS',
  tcp: 'TCP',
  tls: 'TLS',
  host_key: 'Host key',
  auth: 'Login',
};

function ConnectionTestResult({ result }: { result: ConnectionTest }) {
  return (
    <div
      role="status"
      className={result.ok ? 'settings-test settings-test-ok' : 'settings-test settings-test-bad'}
    >
      <p>
        {result.ok
          ? result.message
          : `${STEP_NAMES[result.failedStep ?? 'auth']} failed: ${result.message}`}
      </p>
      <ol className="settings-steps">
        {result.steps.map((s) => (
          <li key={s.step} className={s.ok ? 'ok' : 'bad'}>
            {s.ok ? <Check size={14} aria-label="passed" /> : <X size={14} aria-label="failed" />}{' '}
            {STEP_NAMES[s.step]} · {s.ms} ms{s.detail ? ` · ${s.detail}` : ''}
          </li>
        ))}
      </ol>
      {result.hostKeyFingerprints ? (
        <p className="settings-mono">
          presented {result.hostKeyFingerprints.presented ?? '(none)'} · pinned{' '}
          {result.hostKeyFingerprints.pinned ?? '(none)'}
        </p>
      ) : null}
    </div>
  );
}

function PublicKeyNotice({
  name,
  publicKey,
  onClose,
}: {
  name: string;
  publicKey: string;
  onClose(): void;
}) {
  const [copied, setCopied] = useState(false);
  return (
    <div role="status" className="settings-public-key">
      <p>
        Install this public key on <strong>{name}</strong>: append it to the login account’s{' '}
        <code>~/.ssh/authorized_keys</code>, then test the connection.
      </p>
      <pre className="settings-mono">{publicKey}</pre>
      <button
        type="button"
        className="button"
        onClick={() => {
          void navigator.clipboard.writeText(publicKey).then(() => setCopied(true));
        }}
      >
        {copied ? 'Copied' : 'Copy public key'}
      </button>
      <button type="button" className="button" onClick={onClose}>
        Done
      </button>
    </div>
  );
}

function ResourceForm({
  api,
  initial,
  onCancel,
  onSaved,
}: {
  api: DesktopApi;
  initial: ResourceFormState;
  onCancel(): void;
  onSaved(name: string, publicKeyToInstall: string | null): void;
}) {
  const [form, setForm] = useState(initial);
  const [touched, setTouched] = useState<Record<string, boolean>>({});
  const [serverErrors, setServerErrors] = useState<FieldErrors>({});
  const [scan, setScan] = useState<{ keyType: string; fingerprint: string } | null>(null);
  const save = useAction();
  const scanning = useAction();
  const clientErrors = validateForm(form);
  const submitted = touched.__submit === true;
  const errorOf = (field: string): string | undefined =>
    serverErrors[field] ?? (touched[field] || submitted ? clientErrors[field] : undefined);
  const set = <K extends keyof ResourceFormState>(field: K, value: ResourceFormState[K]) => {
    setForm((f) => ({ ...f, [field]: value }));
    setTouched((t) => ({ ...t, [field]: true }));
    setServerErrors(({ [field]: _, ...rest }) => rest);
  };
  const isSsh = form.kind === 'ssh';

  const doScan = () =>
    scanning.run(async () => {
      setScan(null);
      const port = Number(form.port);
      setScan(await api.call('admin.resources.scanHostKey', { host: form.host, port }));
    });

  const submit = () => {
    setTouched((t) => ({ ...t, __submit: true }));
    if (Object.keys(clientErrors).length > 0) return;
    save.run(async () => {
      const outcome = await api.call('admin.resources.save', draftOf(form));
      if (outcome.saved) {
        onSaved(outcome.value.resource.name, outcome.value.publicKeyToInstall);
        return;
      }
      setServerErrors(issuesByField(outcome.issues));
      save.setError(outcome.message);
    });
  };

  return (
    <form
      className="settings-resource-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        submit();
      }}
    >
      <h2>
        {form.id === null ? 'Add' : 'Edit'} {isSsh ? 'SSH server' : 'PostgreSQL database'}
      </h2>
      <ErrorAlert message={save.error} />
      <Field label="Name" error={errorOf('name')}>
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            value={form.name}
            onChange={(e) => set('name', e.target.value)}
          />
        )}
      </Field>
      <Field label="Description" error={errorOf('description')}>
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            value={form.description}
            onChange={(e) => set('description', e.target.value)}
          />
        )}
      </Field>
      <Field label="Labels" hint="key=value, separated by commas" error={errorOf('labels')}>
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            value={form.labels}
            onChange={(e) => set('labels', e.target.value)}
          />
        )}
      </Field>
      <Field label="Host" error={errorOf('host')}>
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            value={form.host}
            onChange={(e) => {
              set('host', e.target.value);
              setForm((f) => ({
                ...f,
                confirmedFingerprint: null,
                pinnedFingerprint:
                  initial.host === e.target.value ? initial.pinnedFingerprint : null,
              }));
              setScan(null);
            }}
          />
        )}
      </Field>
      <Field label="Port" error={errorOf('port')}>
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            inputMode="numeric"
            value={form.port}
            onChange={(e) => {
              set('port', e.target.value);
              setForm((f) => ({
                ...f,
                confirmedFingerprint: null,
                pinnedFingerprint:
                  initial.port === e.target.value ? initial.pinnedFingerprint : null,
              }));
              setScan(null);
            }}
          />
        )}
      </Field>
      <Field label={isSsh ? 'Login user' : 'Role'} error={errorOf('username')}>
        {(id, describedBy) => (
          <input
            id={id}
            aria-describedby={describedBy}
            value={form.username}
            onChange={(e) => set('username', e.target.value)}
          />
        )}
      </Field>

      {isSsh ? (
        <fieldset className="settings-fieldset">
          <legend>Host key</legend>
          {(form.confirmedFingerprint ?? form.pinnedFingerprint) ? (
            <p className="settings-mono">
              Pinned: {form.confirmedFingerprint ?? form.pinnedFingerprint}
            </p>
          ) : (
            <p className="settings-muted">Not pinned: sessions are refused until a host key is.</p>
          )}
          <button
            type="button"
            className="button"
            onClick={doScan}
            disabled={scanning.busy || !!clientErrors.host}
          >
            Scan host key
          </button>
          <ErrorAlert message={scanning.error} />
          {scan ? (
            <div className="settings-scan" role="status">
              <p>
                {form.host}:{form.port} presents the {scan.keyType} key{' '}
                <code>{scan.fingerprint}</code>. Compare it with the server’s own (
                <code>ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub</code> on it).
              </p>
              <button
                type="button"
                className="button button-primary"
                onClick={() => {
                  setForm((f) => ({ ...f, confirmedFingerprint: scan.fingerprint }));
                  setServerErrors(({ hostKey: _, ...rest }) => rest);
                  setScan(null);
                }}
              >
                Pin this key
              </button>
            </div>
          ) : null}
          {errorOf('hostKey') ? <p className="field-error">{errorOf('hostKey')}</p> : null}
        </fieldset>
      ) : (
        <>
          <Field label="Database" error={errorOf('database')}>
            {(id, describedBy) => (
              <input
                id={id}
                aria-describedby={describedBy}
                value={form.database}
                onChange={(e) => set('database', e.target.value)}
              />
            )}
          </Field>
          <Field label="TLS" error={errorOf('tlsMode')}>
            {(id, describedBy) => (
              <select
                id={id}
                aria-describedby={describedBy}
                value={form.tlsMode}
                onChange={(e) => set('tlsMode', e.target.value as ResourceFormState['tlsMode'])}
              >
                <option value="disable">disable</option>
                <option value="prefer">prefer</option>
                <option value="require">require</option>
                <option value="verify-full">verify-full</option>
              </select>
            )}
          </Field>
          <Field
            label="CA certificate (PEM)"
            hint={
              form.hasStoredCa ? 'A CA is stored; paste one to replace it.' : 'For verify-full.'
            }
            error={errorOf('caPem')}
          >
            {(id, describedBy) => (
              <textarea
                id={id}
                aria-describedby={describedBy}
                rows={3}
                value={form.caPem}
                onChange={(e) => set('caPem', e.target.value)}
              />
            )}
          </Field>
        </>
      )}

      <fieldset className="settings-fieldset">
        <legend>Credential (write-only: never shown again)</legend>
        {form.id !== null ? (
          <Choice
            name="credential"
            value="keep"
            current={form.credential}
            onChange={(v) => set('credential', v)}
          >
            Keep the stored one
          </Choice>
        ) : null}
        {isSsh ? (
          <>
            <Choice
              name="credential"
              value="generate"
              current={form.credential}
              onChange={(v) => set('credential', v)}
            >
              Generate key (the gateway makes an ed25519 key and shows the public key to install)
            </Choice>
            <Choice
              name="credential"
              value="privateKey"
              current={form.credential}
              onChange={(v) => set('credential', v)}
            >
              Upload a private key
            </Choice>
          </>
        ) : null}
        <Choice
          name="credential"
          value="password"
          current={form.credential}
          onChange={(v) => set('credential', v)}
        >
          Password
        </Choice>
        {form.credential === 'privateKey' ? (
          <>
            <Field label="Private key" error={errorOf('privateKey')}>
              {(id, describedBy) => (
                <textarea
                  id={id}
                  aria-describedby={describedBy}
                  rows={5}
                  autoComplete="off"
                  spellCheck={false}
                  value={form.privateKey}
                  onChange={(e) => set('privateKey', e.target.value)}
                />
              )}
            </Field>
            <Field label="Passphrase (if the key has one)" error={errorOf('passphrase')}>
              {(id, describedBy) => (
                <input
                  id={id}
                  type="password"
                  aria-describedby={describedBy}
                  value={form.passphrase}
                  onChange={(e) => set('passphrase', e.target.value)}
                />
              )}
            </Field>
          </>
        ) : null}
        {form.credential === 'password' ? (
          <Field label="Password" error={errorOf('password')}>
            {(id, describedBy) => (
              <input
                id={id}
                type="password"
                autoComplete="new-password"
                aria-describedby={describedBy}
                value={form.password}
                onChange={(e) => set('password', e.target.value)}
              />
            )}
          </Field>
        ) : null}
        {errorOf('credential') ? <p className="field-error">{errorOf('credential')}</p> : null}
      </fieldset>

      <div className="settings-form-actions">
        <SubmitButton busy={save.busy}>
          {form.id === null ? 'Add resource' : 'Save changes'}
        </SubmitButton>
        <button type="button" className="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function Field({
  label,
  hint,
  error,
  children,
}: {
  label: string;
  hint?: string;
  error: string | undefined;
  children: (id: string, describedBy: string | undefined) => ReactNode;
}) {
  const id = useId();
  const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : '']
    .filter(Boolean)
    .join(' ');
  return (
    <div className={error ? 'field field-invalid' : 'field'}>
      <label htmlFor={id}>{label}</label>
      {children(id, described || undefined)}
      {hint ? (
        <p id={`${id}-hint`} className="field-hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field-error">
          {error}
        </p>
      ) : null}
    </div>
  );
}

function Choice<V extends string>({
  name,
  value,
  current,
  onChange,
  children,
}: {
  name: string;
  value: V;
  current: string;
  onChange(value: V): void;
  children: ReactNode;
}) {
  return (
    <label className="settings-choice">
      <input
        type="radio"
        name={name}
        value={value}
        checked={current === value}
        onChange={() => onChange(value)}
      />
      {children}
    </label>
  );
}
