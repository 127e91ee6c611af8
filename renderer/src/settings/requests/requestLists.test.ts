import { describe, expect, it } from 'vitest';
import type { AccessRequestSummary } from '../../../../main/ipc/contract.ts';
import { mergeMine, mergeQueue, statusText } from './requestLists.ts';

const base: AccessRequestSummary = {
  id: 'req_1',
  userId: 'usr_eve',
  username: 'eve',
  resourceId: 'res_1',
  resourceName: 'web-1',
  reason: 'incident 42',
  durationSeconds: 1800,
  approvalsRequired: 1,
  state: 'pending',
  createdAt: '2026-01-01T10:00:00Z',
  decidedAt: null,
  accessUntil: null,
  decisions: [],
  sessionIds: [],
  canDecide: true,
};

describe('request lists follow events', () => {
  it('replaces my request with its newer copy, and ignores other people’s', () => {
    const approved = { ...base, state: 'approved' as const, canDecide: false };
    expect(mergeMine([base], approved, 'eve')).toEqual([approved]);
    expect(mergeMine([base], { ...approved, username: 'bob' }, 'eve')).toEqual([base]);
    expect(mergeMine(null, approved, 'eve')).toBeNull();
  });

  it('keeps only pending requests the approver may decide in the queue', () => {
    const other = { ...base, id: 'req_0', createdAt: '2026-01-01T09:00:00Z' };
    expect(mergeQueue([other], base)?.map((r) => r.id)).toEqual(['req_0', 'req_1']);
    expect(mergeQueue([other, base], { ...base, state: 'approved' })?.map((r) => r.id)).toEqual([
      'req_0',
    ]);
    expect(mergeQueue([base], { ...base, canDecide: false })).toEqual([]);
  });

  it('says where a request stands', () => {
    const now = Date.parse('2026-01-01T10:10:00Z');
    expect(statusText(base, now)).toBe('Pending · 0 of 1 approvals');
    expect(
      statusText(
        {
          ...base,
          state: 'denied',
          decisions: [
            {
              approverName: 'ada',
              decision: 'deny',
              comment: 'not now',
              createdAt: base.createdAt,
            },
          ],
        },
        now,
      ),
    ).toBe('Denied by ada: not now');
    expect(
      statusText({ ...base, state: 'approved', accessUntil: '2026-01-01T10:05:00Z' }, now),
    ).toBe('Approved · access ended');
    expect(
      statusText({ ...base, state: 'approved', accessUntil: '2026-01-01T11:00:00Z' }, now),
    ).toMatch(/^Approved · until /);
  });
});
