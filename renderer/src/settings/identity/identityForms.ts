/**
 * The rules of the identity providers' and machine identities' forms (issue #18), pure so they
 * are tested without a page. They only catch what a person can fix before sending; the gateway
 * decides (discovery of the issuer, claims it refuses as bindings).
 */

const PROVIDER_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;
const MACHINE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function providerNameProblem(value: string): string | null {
  if (value === '') return 'Give the provider a short name, e.g. okta.';
  return PROVIDER_NAME.test(value)
    ? null
    : 'Lower-case letters, digits and -, at most 32 (it appears in URLs and on the command line).';
}

export function machineNameProblem(value: string): string | null {
  if (value === '') return 'Name the identity, e.g. ci-deploy.';
  return MACHINE_NAME.test(value)
    ? null
    : 'Lower-case letters, digits, . _ and -, at most 63 (it is also its Witness user name).';
}

/** HTTPS, or http on a loopback address (a provider beside the gateway), as the gateway says. */
export function issuerProblem(value: string): string | null {
  if (value.trim() === '') return 'Enter the issuer URL, e.g. https://acme.okta.com.';
  if (!URL.canParse(value.trim())) return 'That is not a URL; it starts with https://.';
  const url = new URL(value.trim());
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  if (url.protocol === 'https:' || (url.protocol === 'http:' && loopback)) return null;
  return 'The issuer must be an https:// URL (http:// only on 127.0.0.1 or localhost).';
}

export function requiredProblem(what: string) {
  return (value: string): string | null => (value.trim() === '' ? `Enter the ${what}.` : null);
}

/** Scopes as typed: separated by spaces or commas. */
export function parseScopes(value: string): string[] {
  return value.split(/[\s,]+/).filter((scope) => scope !== '');
}

export function scopesProblem(value: string): string | null {
  const scopes = parseScopes(value);
  if (!scopes.includes('openid')) return 'The scopes must include openid.';
  return null;
}

export type ParsedClaims = { claims: Record<string, string> } | { problem: string };

/** One `claim=value` per line (or separated by commas): what the workload token must say. */
export function parseClaims(value: string): ParsedClaims {
  const claims: Record<string, string> = {};
  const entries = value
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const entry of entries) {
    const at = entry.indexOf('=');
    const key = entry.slice(0, at).trim();
    const claimValue = entry.slice(at + 1).trim();
    if (at <= 0 || key === '' || claimValue === '') {
      return { problem: `Write each claim as name=value (“${entry}” is not).` };
    }
    if (key in claims) return { problem: `The claim ${key} is named twice.` };
    claims[key] = claimValue;
  }
  if (entries.length === 0) {
    return {
      problem:
        'Bind at least one claim (repository=acme/app, for instance); without one any job of the issuer would match.',
    };
  }
  return { claims };
}

export function claimsProblem(value: string): string | null {
  const parsed = parseClaims(value);
  return 'problem' in parsed ? parsed.problem : null;
}
