import { describe, expect, it } from 'vitest';
import type { AccessRequestEvent } from '../../../shared/api/apiSchemas.ts';
import { requestNotice } from './accessRequestNotice.ts';

const request: AccessRequestEvent['request'] = {
  id: 'req_1',
  userId: 'usr_eve',
  username: 'eve',
  resourceId: 'res_1',
  resourceName: 'web-1',
  grantId: 'grt_1',
  reason: 'incident 42',
  durationSeconds: 1800,
  approvalsRequired: 1,
  state: 'denied',
  createdAt: '2026-01-01T10:00:00Z',
  decidedAt: '2026-01-01T10:01:00Z',
  issuedGrantId: null,
  accessUntil: null,
  decisions: [
    {
      approverId: 'usr_ada',
      approverName: 'ada',
      decision: 'deny',
      comment: 'not during the freeze',
      createdAt: '2026-01-01T10:01:00Z',
    },
  ],
  sessionIds: [],
  canDecide: false,
};

describe('requestNotice', () => {
  it('notifies the requester of a decision, with who and why', () => {
    const notice = requestNotice({ kind: 'denied', request }, 'usr_eve');
    expect(notice?.title).toBe('Access to web-1 denied');
    expect(notice?.body).toContain('ada denied your request');
    expect(notice?.body).toContain('not during the freeze');
    const approved = requestNotice(
      {
        kind: 'approved',
        request: { ...request, state: 'approved', accessUntil: '2026-01-01T10:31:00Z' },
      },
      'usr_eve',
    );
    expect(approved?.title).toBe('Access to web-1 approved');
  });

  it('stays quiet for other people’s requests and for steps short of a decision', () => {
    expect(requestNotice({ kind: 'denied', request }, 'usr_ada')).toBeNull();
    expect(requestNotice({ kind: 'created', request }, 'usr_eve')).toBeNull();
    expect(requestNotice({ kind: 'decided', request }, 'usr_eve')).toBeNull();
  });
});
