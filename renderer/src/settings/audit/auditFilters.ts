/**
 * The audit page's filter form as the `audit.list` call takes it: blank fields are left out,
 * words are trimmed, and "since" accepts what the gateway reads (an ISO time or `2h`, `7d`).
 */
import type { AuditFilters } from '../../../../main/ipc/contract.ts';

export interface AuditFilterForm {
  actor: string;
  action: string;
  text: string;
  since: string;
}

export const EMPTY_AUDIT_FILTERS: AuditFilterForm = { actor: '', action: '', text: '', since: '' };

export const AUDIT_PAGE_SIZE = 100;

export function auditListRequest(form: AuditFilterForm, cursor: string | null): AuditFilters {
  const actor = form.actor.trim();
  const action = form.action.trim();
  const q = form.text.trim();
  const since = form.since.trim();
  return {
    limit: AUDIT_PAGE_SIZE,
    ...(actor && { actor }),
    ...(action && { action }),
    ...(q && { q }),
    ...(since && { since }),
    ...(cursor !== null && { cursor }),
  };
}

/** What the "since" field accepts, checked as the person types (the gateway checks again). */
export function sinceProblem(since: string): string | null {
  const text = since.trim();
  if (text === '') return null;
  if (/^\d{1,7}[smhd]?$/.test(text)) return null;
  if (/^\d{4}-\d\d-\d\d/.test(text) && Number.isFinite(Date.parse(text))) return null;
  return 'Write a time (2026-01-31T12:00:00Z) or how long ago (2h, 7d).';
}

export function hasFilters(form: AuditFilterForm): boolean {
  return Object.values(form).some((value) => value.trim() !== '');
}
