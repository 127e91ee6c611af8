import { describe, expect, it } from 'vitest';
import type { AccessRequestSummary } from '../../../../main/ipc/contract.ts';
import { requestToast } from './requestToast.ts';

const request: AccessRequestSummary = {
  id: 'req_1',
  userId: 'usr_eve',
  username: 'eve',
  resourceId: 'res_1',
  resourceName: 'web-1',
  reason: 'incident 42',
  durationSeconds: 1800,
  approvalsRequired: 1,
  state: 'approved',
  createdAt: '2026-01-01T10:00:00Z',
  decidedAt: '2026-01-01T10:01:00Z',
  accessUntil: '2026-01-01T10:31:00Z',
  decisions: [
    {
      approverName: 'ada',
      decision: 'approve',
      comment: 'go ahead',
      createdAt: '2026-01-01T10:01:00Z',
    },
  ],
  sessionIds: [],
  canDecide: false,
};

describe('requestToast', () => {
  it('tells the requester their request was approved or denied', () => {
    expect(requestToast({ kind: 'approved', request }, 'eve')).toMatchObject({
      title: 'Access to web-1 approved',
      tone: 'ok',
    });
    expect(requestToast({ kind: 'approved', request }, 'eve')?.body).toContain('go ahead');
    expect(
      requestToast({ kind: 'denied', request: { ...request, state: 'denied' } }, 'eve'),
    ).toMatchObject({
      title: 'Access to web-1 denied',
      tone: 'bad',
    });
  });

  it('tells an approver about a new request they may decide, and nobody about the rest', () => {
    const pending = { ...request, state: 'pending' as const, canDecide: true, decisions: [] };
    expect(requestToast({ kind: 'created', request: pending }, 'ada')?.title).toBe(
      'eve requests web-1',
    );
    expect(
      requestToast({ kind: 'created', request: { ...pending, canDecide: false } }, 'ada'),
    ).toBeNull();
    expect(requestToast({ kind: 'approved', request }, 'ada')).toBeNull();
    expect(requestToast({ kind: 'decided', request: pending }, 'eve')).toBeNull();
  });
});
