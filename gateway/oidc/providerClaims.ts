/**
 * What a provider's claims mean to Witness (issue #18): the username a new user gets and the
 * groups a user carries. Witness names are `[a-z0-9][a-z0-9._-]{0,62}` (apiSchemas.ts), so a
 * provider's names are folded into that alphabet; one that cannot be is left out.
 */

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function witnessName(value: string): string | undefined {
  const folded = value
    .normalize('NFKD')
    // Accents come apart into combining marks: drop them, so Zoë is zoe, not zo-e.
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, 63);
  return NAME.test(folded) ? folded : undefined;
}

/**
 * The user's groups from `claim`: an array of strings (Okta, Keycloak, Entra ID's `groups` or
 * `roles`), or one space/comma-separated string. A missing claim means no groups: the provider
 * is the source, so a claim that disappeared takes the groups with it.
 */
export function groupsFromClaims(claims: Record<string, unknown>, claim: string): string[] {
  const value = claims[claim];
  const raw =
    typeof value === 'string'
      ? value.split(/[\s,]+/)
      : Array.isArray(value)
        ? value.filter((item): item is string => typeof item === 'string')
        : [];
  const names = raw
    .map((name) => witnessName(name.replace(/^\//, '')))
    .filter((n) => n !== undefined);
  return [...new Set(names)].sort();
}

/** The username a first sign-in proposes: preferred_username, else the e-mail's local part, else sub. */
export function proposedUsername(claims: Record<string, unknown>): string {
  const candidates = [
    claims.preferred_username,
    typeof claims.email === 'string' ? claims.email.split('@')[0] : undefined,
    claims.sub,
  ];
  for (const candidate of candidates) {
    if (typeof candidate !== 'string') continue;
    const name = witnessName(candidate);
    if (name) return name;
  }
  return 'user';
}
