/**
 * The resource form's state and the checks it makes as the admin types (issue #14). These only
 * spare a round trip: the gateway decides, and its refusal is shown at the field it names
 * (`serverIssues`). Labels are typed as `key=value, key=value`.
 */
import type { AdminResource, FieldIssue, ResourceDraft } from '../../../../main/ipc/contract.ts';

export type CredentialChoice = 'keep' | 'generate' | 'privateKey' | 'password';

export interface ResourceFormState {
  id: string | null;
  kind: 'ssh' | 'postgres';
  name: string;
  description: string;
  labels: string;
  host: string;
  port: string;
  username: string;
  database: string;
  tlsMode: 'disable' | 'prefer' | 'require' | 'verify-full';
  caPem: string;
  /** Edit: a CA is stored and no new one was pasted. */
  hasStoredCa: boolean;
  credential: CredentialChoice;
  privateKey: string;
  passphrase: string;
  password: string;
  /** The pinned key's fingerprint (edit) or the one the admin confirmed after a scan. */
  pinnedFingerprint: string | null;
  /** Set when the admin confirmed a scan in this form: sent as `hostKeyFingerprint`. */
  confirmedFingerprint: string | null;
}

export type FieldErrors = Partial<Record<string, string>>;

export function emptyForm(kind: 'ssh' | 'postgres'): ResourceFormState {
  return {
    id: null,
    kind,
    name: '',
    description: '',
    labels: '',
    host: '',
    port: kind === 'ssh' ? '22' : '5432',
    username: '',
    database: '',
    tlsMode: 'prefer',
    caPem: '',
    hasStoredCa: false,
    credential: kind === 'ssh' ? 'generate' : 'password',
    privateKey: '',
    passphrase: '',
    password: '',
    pinnedFingerprint: null,
    confirmedFingerprint: null,
  };
}

export function formOf(resource: AdminResource): ResourceFormState {
  const t = resource.target;
  return {
    ...emptyForm(t.kind),
    id: resource.id,
    name: resource.name,
    description: resource.description,
    labels: Object.entries(resource.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(', '),
    host: t.host,
    port: String(t.port),
    username: t.username,
    ...(t.kind === 'postgres'
      ? { database: t.database, tlsMode: t.tlsMode, hasStoredCa: t.hasCa }
      : { pinnedFingerprint: t.hostKeyFingerprint }),
    credential: 'keep',
  };
}

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const HOST = /^[A-Za-z0-9.:_-]{1,253}$/;
const LABEL_KEY = /^[a-z0-9]([a-z0-9._/-]{0,62}[a-z0-9])?$/;

export function parseLabels(text: string): Record<string, string> | string {
  const labels: Record<string, string> = {};
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const at = part.indexOf('=');
    if (at <= 0) return `"${part}" is not key=value`;
    const key = part.slice(0, at).trim();
    if (!LABEL_KEY.test(key)) return `"${key}": label keys are lower-case letters, digits, . _ / -`;
    labels[key] = part.slice(at + 1).trim();
  }
  return labels;
}

/** What is wrong with the form now, by field; empty when it can be sent. */
export function validateForm(form: ResourceFormState): FieldErrors {
  const errors: FieldErrors = {};
  if (!NAME.test(form.name)) errors.name = 'Lower-case letters, digits, . _ - (up to 63).';
  if (!HOST.test(form.host)) errors.host = 'A host name or IP address.';
  const port = Number(form.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) errors.port = 'A port from 1 to 65535.';
  if (form.username.trim() === '') errors.username = 'The account the gateway logs in as.';
  const labels = parseLabels(form.labels);
  if (typeof labels === 'string') errors.labels = labels;
  if (form.kind === 'postgres') {
    if (form.database.trim() === '') errors.database = 'The database to connect to.';
    if (form.tlsMode === 'verify-full' && form.caPem.trim() === '' && !form.hasStoredCa) {
      errors.caPem = 'verify-full needs the CA certificate (PEM) that signed the server’s.';
    }
    if (form.credential === 'password' && form.password === '')
      errors.password = 'The role’s password.';
    if (form.id === null && form.credential === 'keep') errors.credential = 'Give the password.';
  } else {
    if (
      form.credential === 'privateKey' &&
      !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(form.privateKey)
    ) {
      errors.privateKey = 'Paste a private key (-----BEGIN … PRIVATE KEY-----).';
    }
    if (form.credential === 'password' && form.password === '')
      errors.password = 'The account’s password.';
    if (form.pinnedFingerprint === null && form.confirmedFingerprint === null) {
      errors.hostKey =
        'Scan the host key and confirm it: sessions are refused until one is pinned.';
    }
  }
  return errors;
}

/** The draft main sends on; call only when `validateForm` found nothing. */
export function draftOf(form: ResourceFormState): ResourceDraft {
  const labels = parseLabels(form.labels);
  const port = Number(form.port);
  const credential: ResourceDraft['credential'] =
    form.credential === 'generate'
      ? { kind: 'generate' }
      : form.credential === 'privateKey'
        ? {
            kind: 'privateKey',
            privateKey: form.privateKey,
            ...(form.passphrase ? { passphrase: form.passphrase } : {}),
          }
        : form.credential === 'password'
          ? { kind: 'password', password: form.password }
          : { kind: 'keep' };
  return {
    ...(form.id !== null ? { id: form.id } : {}),
    name: form.name,
    description: form.description,
    labels: typeof labels === 'string' ? {} : labels,
    target:
      form.kind === 'ssh'
        ? { kind: 'ssh', host: form.host, port, username: form.username }
        : {
            kind: 'postgres',
            host: form.host,
            port,
            database: form.database,
            username: form.username,
            tlsMode: form.tlsMode,
            caPem: form.caPem.trim() === '' ? null : form.caPem,
            keepCa: form.hasStoredCa && form.caPem.trim() === '',
          },
    credential,
    ...(form.confirmedFingerprint ? { hostKeyFingerprint: form.confirmedFingerprint } : {}),
  };
}

/** The gateway's issues by the form's field names (main names them so). */
export function issuesByField(issues: readonly FieldIssue[]): FieldErrors {
  const errors: FieldErrors = {};
  for (const issue of issues) errors[issue.field] ??= issue.message;
  return errors;
}

/** Resources whose name, host or labels contain the text and that carry every label asked for. */
export function filterAdminResources(
  resources: readonly AdminResource[],
  text: string,
  label: string,
): AdminResource[] {
  const needle = text.trim().toLowerCase();
  return resources.filter((r) => {
    const labelText = Object.entries(r.labels).map(([k, v]) => `${k}=${v}`);
    if (label && !labelText.includes(label)) return false;
    if (!needle) return true;
    return [r.name, r.target.host, r.description, ...labelText].some((s) =>
      s.toLowerCase().includes(needle),
    );
  });
}
