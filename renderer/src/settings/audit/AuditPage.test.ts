import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { AuditEntryRow } from '../../../../main/ipc/contract.ts';
import { AuditTable } from './AuditPage.tsx';

const entries: AuditEntryRow[] = [
  {
    seq: 2,
    time: '2026-12-07T20:00:01.000Z',
    actorName: 'erin',
    action: 'session.refused',
    target: '/resources/prod-db',
    outcome: 'refused',
    details: '{"reason":"You have no active grant for prod-db"}',
  },
  {
    seq: 1,
    time: '2026-12-07T20:00:00.000Z',
    actorName: null,
    action: 'grant.issued',
    target: '/grants/grt_1',
    outcome: 'succeeded',
    details: '{}',
  },
];

describe('the audit table', () => {
  it('is a plain table with column headers, one row per entry in the order given', () => {
    const html = renderToStaticMarkup(createElement(AuditTable, { entries }));
    expect(html.match(/<th scope="col">/g)).toHaveLength(7);
    const rows = html.split('<tr').slice(2);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toContain('session.refused');
    expect(rows[0]).toContain('class="audit-outcome-refused"');
    expect(rows[0]).toContain('You have no active grant for prod-db');
    // The gateway's own entries name no person.
    expect(rows[1]).toContain('<span class="muted">gateway</span>');
    expect(rows[1]).toContain('<time dateTime="2026-12-07T20:00:00.000Z">');
  });
});
