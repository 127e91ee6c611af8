/**
 * Refused input in the app's own words (issue #15: a 500-character username showed "Invalid
 * account.login request at username: Too big: expected string to have <=200 characters").
 * Every path by which a schema's refusal reaches a person — the dispatcher's check of a call,
 * gateway-client's check before sending, the gateway's 400 answer — goes through here, so the
 * renderer only ever shows sentences such as "The username is too long (200 characters at
 * most)." A field is named as the form names it; a check is described by what it limits, never
 * by zod's wording.
 */
import type { z } from 'zod';

/** What was wrong, independent of how the schema library phrases it. */
export type InputProblem =
  | { kind: 'missing' }
  | { kind: 'too-long'; max: number; unit: Unit }
  | { kind: 'too-short'; min: number; unit: Unit }
  | { kind: 'format' }
  | { kind: 'choice' }
  | { kind: 'unknown-fields' }
  /** A sentence the schema's author wrote (`.regex(…, 'TOTP codes are six digits')`). */
  | { kind: 'own'; sentence: string }
  | { kind: 'invalid' };

type Unit = 'characters' | 'items' | 'value';

/** How the forms name the fields that the contract and the API call by their keys. */
const FIELD_LABELS: Record<string, string> = {
  username: 'username',
  password: 'password',
  newPassword: 'new password',
  totp: 'authentication code',
  totpCode: 'authentication code',
  link: 'enroll link',
  url: 'gateway address',
  caFingerprint: 'fingerprint',
  name: 'name',
  reason: 'reason',
  host: 'host',
  port: 'port',
  user: 'user name',
  database: 'database',
  privateKey: 'private key',
  hostKeyFingerprint: 'host key fingerprint',
  expiresAt: 'expiry time',
  durationMinutes: 'duration',
  query: 'search',
};

/** "totpCode" → "authentication code"; an unlisted key "maxRows" → "max rows"; none → "request". */
export function fieldLabel(path: string | readonly PropertyKey[]): string {
  const keys = (typeof path === 'string' ? path.split('.') : path.map(String)).filter(
    (key) => key !== '' && !/^\d+$/.test(key),
  );
  const last = keys.at(-1);
  if (last === undefined) return 'request';
  return FIELD_LABELS[last] ?? last.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
}

export function sentenceFor(label: string, problem: InputProblem): string {
  const The = `The ${label}`;
  switch (problem.kind) {
    case 'missing':
      return label === 'request' ? 'Something required was left out.' : `Enter the ${label}.`;
    case 'too-long':
      if (problem.unit === 'items') return `${The} has too many entries (${problem.max} at most).`;
      return problem.unit === 'value'
        ? `${The} is too large (${problem.max} at most).`
        : `${The} is too long (${problem.max} characters at most).`;
    case 'too-short':
      if (problem.min <= 1 && problem.unit !== 'value') return `Enter the ${label}.`;
      if (problem.unit === 'items') return `${The} needs at least ${problem.min} entries.`;
      return problem.unit === 'value'
        ? `${The} is too small (${problem.min} at least).`
        : `${The} is too short (${problem.min} characters at least).`;
    case 'format':
      return `${The} is not in the expected form.`;
    case 'choice':
      return `${The} is not one of the choices.`;
    case 'unknown-fields':
      return 'The request carried fields the app does not know — update Witness.';
    case 'own': {
      // Authors write them lower-case for use after a colon ('passwords need at least 10 …').
      const text = problem.sentence[0]!.toUpperCase() + problem.sentence.slice(1);
      return /[.!?]$/.test(text) ? text : `${text}.`;
    }
    case 'invalid':
      return `${The} is not valid.`;
  }
}

/** A zod issue as the schema reported it (the dispatcher's own parse). */
export function problemOfZodIssue(issue: z.core.$ZodIssue): InputProblem {
  const unit = (origin: unknown): Unit =>
    origin === 'string' ? 'characters' : origin === 'array' || origin === 'set' ? 'items' : 'value';
  switch (issue.code) {
    case 'too_big':
      return { kind: 'too-long', max: Number(issue.maximum), unit: unit(issue.origin) };
    case 'too_small':
      return { kind: 'too-short', min: Number(issue.minimum), unit: unit(issue.origin) };
    case 'invalid_type':
      return issue.input === undefined ? { kind: 'missing' } : { kind: 'invalid' };
    case 'invalid_format':
      return isDefaultMessage(issue.message) ? { kind: 'format' } : own(issue.message);
    case 'invalid_value':
      return { kind: 'choice' };
    case 'unrecognized_keys':
      return { kind: 'unknown-fields' };
    default:
      return isDefaultMessage(issue.message) ? { kind: 'invalid' } : own(issue.message);
  }
}

/**
 * An issue that crossed HTTP as text (`{path, message}` from the gateway or from
 * gateway-client): zod's default wordings are recognised and re-said; a message the schema's
 * author wrote is kept.
 */
export function problemOfMessage(message: string): InputProblem {
  const size =
    /^Too (big|small): expected (\w+) to (?:have|be) [<>]=?(\d+)(?: (characters|items))?/.exec(
      message,
    );
  if (size) {
    const unit: Unit =
      size[4] === 'characters' ? 'characters' : size[4] === 'items' ? 'items' : 'value';
    const bound = Number(size[3]);
    return size[1] === 'big'
      ? { kind: 'too-long', max: bound, unit }
      : { kind: 'too-short', min: bound, unit };
  }
  if (/^Invalid input: expected \w+, received undefined/.test(message)) return { kind: 'missing' };
  if (/^Invalid (string|format)\b/.test(message)) return { kind: 'format' };
  if (/^Invalid option\b/.test(message)) return { kind: 'choice' };
  if (/^Unrecognized keys?\b/.test(message)) return { kind: 'unknown-fields' };
  if (isDefaultMessage(message)) return { kind: 'invalid' };
  return own(message);
}

/** One sentence per field (the first problem with each), at most three, for a whole request. */
export function invalidInputSentence(
  issues: readonly { path: string | readonly PropertyKey[]; problem: InputProblem }[],
): string {
  const byField = new Map<string, string>();
  for (const { path, problem } of issues) {
    const label = fieldLabel(path);
    if (!byField.has(label)) byField.set(label, sentenceFor(label, problem));
  }
  const sentences = [...byField.values()].slice(0, 3);
  return sentences.length > 0 ? sentences.join(' ') : 'The request is not valid.';
}

/** `{path, message}` issues as they cross HTTP, in the app's words (issue #15). */
export function sentenceOfApiIssues(issues: readonly { path: string; message: string }[]): string {
  return invalidInputSentence(
    issues.map((issue) => ({ path: issue.path, problem: problemOfMessage(issue.message) })),
  );
}

/** zod's built-in wordings start this way; an author's own message does not. */
function isDefaultMessage(message: string): boolean {
  return (
    /^(Invalid|Too (big|small)|Unrecognized|Expected)\b/.test(message) ||
    /expected \w+/.test(message)
  );
}

function own(message: string): InputProblem {
  return { kind: 'own', sentence: message };
}
