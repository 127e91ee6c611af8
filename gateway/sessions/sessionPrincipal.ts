/**
 * Who opened a session beyond its user (issue #18): a machine identity and the claims of the
 * workload token it signed in with (repository, run id, …). The proxies spread this into the
 * session-start frame, so the signed recording carries it, and search finds it there.
 */
import type { SessionRecord } from '../store/sessionStore.ts';

export interface MachinePrincipal {
  kind: 'machine';
  identity: string;
  claims: Record<string, unknown>;
}

export function principalJson(principal: MachinePrincipal): string {
  return JSON.stringify(principal);
}

/** `{principal}` for the session-start frame, or nothing for a person's session. */
export function principalOf(session: Pick<SessionRecord, 'principal'>): {
  principal?: MachinePrincipal;
} {
  if (!session.principal) return {};
  return { principal: JSON.parse(session.principal) as MachinePrincipal };
}
