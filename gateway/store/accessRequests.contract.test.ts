/**
 * The access-request store's contract (accessRequestStore.ts), on SQLite and PostgreSQL: a
 * request round-trips with its decisions, each approver counts once, a deny ends it, the
 * approval that completes the count stores the issued grant in the same transaction, and two
 * approvers completing the count at once through two connections issue one grant.
 */
import { beforeEach, expect, it } from 'vitest';
import type { AccessRequestRecord } from './accessRequestStore.ts';
import { describeStoreContract, grant, resource, T } from './fixtures/storeContract.ts';
import type { Store } from './store.ts';

function accessRequest(n: number, overrides: Partial<AccessRequestRecord> = {}) {
  return {
    id: `req_${n}`,
    userId: 'usr_1',
    resourceId: 'res_1',
    grantId: 'grt_1',
    reason: 'incident 42',
    durationSeconds: 1800,
    approvalsRequired: 2,
    state: 'pending',
    createdAt: T + n,
    decidedAt: null,
    issuedGrantId: null,
    decisions: [],
    ...overrides,
  } satisfies AccessRequestRecord;
}

const approve = (approverId: string, at: number) => ({
  approverId,
  decision: 'approve' as const,
  comment: `ok from ${approverId}`,
  createdAt: at,
});

describeStoreContract('access requests', (underTest) => {
  let store: Store;
  beforeEach(async () => {
    store = underTest.store;
    await store.createResource(resource(1));
  });
  const issue = (n: number) => (request: AccessRequestRecord) =>
    grant(100 + n, {
      requestId: request.id,
      subject: request.userId,
      validFrom: T,
      validUntil: T + 1,
    });

  it('round-trips a request and lists the newest first, by user and state', async () => {
    await store.createAccessRequest(accessRequest(1));
    await store.createAccessRequest(accessRequest(2, { userId: 'usr_2' }));
    expect(await store.getAccessRequest('req_1')).toEqual(accessRequest(1));
    expect((await store.listAccessRequests({ limit: 10 })).map((r) => r.id)).toEqual([
      'req_2',
      'req_1',
    ]);
    expect(
      (await store.listAccessRequests({ userId: 'usr_2', state: 'pending', limit: 10 })).map(
        (r) => r.id,
      ),
    ).toEqual(['req_2']);
    expect(await store.listAccessRequests({ state: 'approved', limit: 10 })).toEqual([]);
  });

  it('counts each approver once and issues the grant with the approval that completes the count', async () => {
    await store.createAccessRequest(accessRequest(1));
    const first = await store.decideAccessRequest('req_1', approve('usr_2', T + 10), issue(1));
    expect(first).toMatchObject({
      kind: 'recorded',
      issuedGrant: null,
      request: { state: 'pending' },
    });
    const twice = await store.decideAccessRequest('req_1', approve('usr_2', T + 11), issue(1));
    expect(twice.kind).toBe('already_decided');
    const second = await store.decideAccessRequest('req_1', approve('usr_3', T + 12), issue(1));
    expect(second).toMatchObject({
      kind: 'recorded',
      request: { state: 'approved', decidedAt: T + 12, issuedGrantId: 'grt_101' },
    });
    expect(await store.getGrant('grt_101')).toMatchObject({ requestId: 'req_1', subject: 'usr_1' });
    const stored = await store.getAccessRequest('req_1');
    expect(stored?.decisions.map((d) => d.approverId)).toEqual(['usr_2', 'usr_3']);
    const late = await store.decideAccessRequest('req_1', approve('usr_4', T + 13), issue(2));
    expect(late.kind).toBe('not_pending');
    expect(await store.decideAccessRequest('req_9', approve('usr_4', T), issue(3))).toEqual({
      kind: 'not_found',
    });
  });

  it('ends a request on a deny, issuing nothing', async () => {
    await store.createAccessRequest(accessRequest(1));
    const denied = await store.decideAccessRequest(
      'req_1',
      { approverId: 'usr_2', decision: 'deny', comment: 'no', createdAt: T + 5 },
      issue(1),
    );
    expect(denied).toMatchObject({
      kind: 'recorded',
      issuedGrant: null,
      request: { state: 'denied' },
    });
    expect(await store.getGrant('grt_101')).toBeUndefined();
  });

  it('issues one grant when two approvers complete the count at once on two connections', async () => {
    await store.createAccessRequest(accessRequest(1, { approvalsRequired: 1 }));
    const other = await underTest.openAnother();
    const first = () => store.decideAccessRequest('req_1', approve('usr_2', T + 1), issue(1));
    const second = () => other.decideAccessRequest('req_1', approve('usr_3', T + 1), issue(2));
    // better-sqlite3 is synchronous: a second connection in this same process waiting on the
    // first one's lock blocks the thread the first needs to commit. SQLite replicas are
    // separate processes, and BEGIN IMMEDIATE serialises them; here they take turns.
    const outcomes =
      underTest.kind === 'postgres'
        ? await Promise.all([first(), second()])
        : [await first(), await second()];
    expect(outcomes.map((o) => o.kind).sort()).toEqual(['not_pending', 'recorded']);
    const issued = (await store.listGrants()).filter((g) => g.requestId === 'req_1');
    expect(issued).toHaveLength(1);
    expect((await store.getAccessRequest('req_1'))?.issuedGrantId).toBe(issued[0]?.id);
  });
});
