import { describe, expect, it } from 'vitest';
import {
  emptyGrantForm,
  formFromGrant,
  grantFormProblems,
  isExpiringSoon,
  toCreateRequest,
} from './grantForm.ts';

const ready = { ...emptyGrantForm, group: 'oncall', resourceId: 'res_1' };

describe('grant form', () => {
  it('asks for a subject and a resource when creating, not when editing', () => {
    expect(grantFormProblems(emptyGrantForm, false)).toMatchObject({
      group: 'Name a group.',
      resourceId: 'Choose a resource.',
    });
    expect(grantFormProblems(emptyGrantForm, true)).toEqual({});
    expect(grantFormProblems(ready, false)).toEqual({});
  });

  it('checks the window, the session length and the approval count', () => {
    const problems = grantFormProblems(
      {
        ...ready,
        validFrom: '2026-05-02T10:00',
        validUntil: '2026-05-01T10:00',
        maxSession: '25h',
        approvalsRequired: '0',
        approverGroups: 'Ops!',
      },
      false,
    );
    expect(Object.keys(problems).sort()).toEqual([
      'approvalsRequired',
      'approverGroups',
      'maxSession',
      'validUntil',
    ]);
    // A standing grant has no approvers to check.
    expect(
      grantFormProblems({ ...ready, mode: 'standing', approvalsRequired: '0' }, false),
    ).toEqual({});
  });

  it('becomes the create request, and a grant becomes the form again', () => {
    const request = toCreateRequest({
      ...ready,
      maxSession: '2h',
      approverGroups: 'leads, leads',
      approvalsRequired: '2',
    });
    expect(request).toMatchObject({
      subject: { kind: 'group', group: 'oncall' },
      target: { kind: 'resource', resourceId: 'res_1' },
      mode: 'approval',
      maxSessionSeconds: 7200,
      approvers: { users: [], groups: ['leads'] },
      approvalsRequired: 2,
      validFrom: null,
    });
    const back = formFromGrant({
      id: 'g1',
      subject: { kind: 'user', userId: 'usr_1' },
      target: { kind: 'resource', resourceId: 'res_1' },
      mode: 'standing',
      validFrom: null,
      validUntil: null,
      maxSessionSeconds: 5400,
      description: '',
      approvers: { users: [], groups: [] },
      approvalsRequired: 1,
      requestId: null,
      createdAt: '2026-01-01T00:00:00Z',
    });
    expect(back).toMatchObject({ subjectKind: 'user', userId: 'usr_1', maxSession: '1h 30m' });
  });

  it('marks grants ending within a week as expiring soon', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(isExpiringSoon({ validUntil: '2026-01-03T00:00:00Z' }, now)).toBe(true);
    expect(isExpiringSoon({ validUntil: '2026-02-01T00:00:00Z' }, now)).toBe(false);
    expect(isExpiringSoon({ validUntil: '2025-12-31T00:00:00Z' }, now)).toBe(false);
    expect(isExpiringSoon({ validUntil: null }, now)).toBe(false);
  });
});
