/**
 * What the resource list says about access to one resource, and whether it offers a terminal.
 * Issue #5: "Open terminal" for ssh resources with access 'granted' or 'admin'; postgres
 * resources are listed but their query console comes in a later issue.
 */
import type { ResourceSummary } from '../../../main/ipc/contract.ts';
import { formatTimeLeft } from '../time/formatTimeLeft.ts';

export interface GrantStatus {
  /** Short badge text: "Granted", "Admin", "Request access". */
  badge: string;
  tone: 'ok' | 'warn' | 'muted';
  /** "42 min left", "no end", or null when access is not granted. */
  timeLeft: string | null;
}

/** Grants ending within this window are shown in the warning tone. */
const ENDING_SOON_MS = 15 * 60_000;

export function grantStatus(resource: ResourceSummary, nowMs: number): GrantStatus {
  if (resource.access === 'requestable') {
    return { badge: 'Needs access request', tone: 'muted', timeLeft: null };
  }
  const timeLeft = formatTimeLeft(resource.grantExpiresAt, nowMs);
  const endMs = resource.grantExpiresAt === null ? null : Date.parse(resource.grantExpiresAt);
  const endingSoon = endMs !== null && endMs - nowMs <= ENDING_SOON_MS;
  return {
    badge: resource.access === 'admin' ? 'Admin access' : 'Granted',
    tone: endingSoon ? 'warn' : 'ok',
    timeLeft,
  };
}

export function canOpenTerminal(resource: ResourceSummary, nowMs: number): boolean {
  return resource.kind === 'ssh' && canOpenSession(resource, nowMs);
}

/** A query console on a PostgreSQL resource (issue #15): the same rule as a terminal. */
export function canOpenConsole(resource: ResourceSummary, nowMs: number): boolean {
  return resource.kind === 'postgres' && canOpenSession(resource, nowMs);
}

function canOpenSession(resource: ResourceSummary, nowMs: number): boolean {
  if (resource.access === 'requestable') return false;
  // A grant that ran out since the list was fetched: the gateway would refuse the session.
  if (resource.grantExpiresAt !== null && Date.parse(resource.grantExpiresAt) <= nowMs) {
    return false;
  }
  return true;
}
