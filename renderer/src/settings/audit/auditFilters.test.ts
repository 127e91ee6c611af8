import { describe, expect, it } from 'vitest';
import {
  AUDIT_PAGE_SIZE,
  auditListRequest,
  EMPTY_AUDIT_FILTERS,
  hasFilters,
  sinceProblem,
} from './auditFilters.ts';

describe('the audit page filters', () => {
  it('sends only what was filled in, trimmed, with the cursor of the next page', () => {
    expect(auditListRequest(EMPTY_AUDIT_FILTERS, null)).toEqual({ limit: AUDIT_PAGE_SIZE });
    expect(
      auditListRequest({ actor: ' erin ', action: 'session', text: '', since: '2h' }, '41'),
    ).toEqual({
      limit: AUDIT_PAGE_SIZE,
      actor: 'erin',
      action: 'session',
      since: '2h',
      cursor: '41',
    });
  });

  it('accepts a duration or a time for "since", and says what to write otherwise', () => {
    expect(sinceProblem('')).toBeNull();
    expect(sinceProblem('7d')).toBeNull();
    expect(sinceProblem('2026-01-31T12:00:00Z')).toBeNull();
    expect(sinceProblem('yesterday')).toMatch(/2h, 7d/);
  });

  it('knows when any filter is set', () => {
    expect(hasFilters(EMPTY_AUDIT_FILTERS)).toBe(false);
    expect(hasFilters({ ...EMPTY_AUDIT_FILTERS, text: 'grant' })).toBe(true);
    expect(hasFilters({ ...EMPTY_AUDIT_FILTERS, text: '  ' })).toBe(false);
  });
});
