/**
 * Just-in-time access through the API (issue #14), on a real gateway over HTTPS with both
 * store backends: grants outside their window, approval counts, nobody approving their own
 * request, non-approvers, the duration cap, the time-boxed grant an approval issues and the
 * session that names its request, the requester's live event stream, and the "expire soon"
 * list of grants.
 */
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';
import { describeWithPostgres, freshPostgresDatabase } from '../harness/postgresForTests.ts';

const PASSWORD = 'a-long-password-1';

describe('access requests (sqlite store)', () => describeRequests(async () => undefined));
describeWithPostgres('access requests (postgres store)', () =>
  describeRequests(freshPostgresDatabase),
);

interface EventStream {
  events: { kind: string; request: { id: string; state: string } }[];
  /** Resolves when an event matching `predicate` has arrived (or rejects after `ms`). */
  next(predicate: (event: EventStream['events'][number]) => boolean, ms: number): Promise<void>;
  close(): void;
}

/** Subscribes to GET /v1/access-requests/events and parses its Server-Sent Events. */
function subscribe(gw: TestGateway, token: string): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const events: EventStream['events'] = [];
    const waiters: (() => void)[] = [];
    const req = https.request(
      new URL('/v1/access-requests/events', gw.gateway.apiUrl),
      {
        headers: { authorization: `Bearer ${token}` },
        ca: gw.gateway.services.keys.caPem,
        servername: 'localhost',
      },
      (res) => {
        if (res.statusCode !== 200) return reject(new Error(`events: ${res.statusCode}`));
        expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
        let buffered = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buffered += chunk;
          let end = buffered.indexOf('\n\n');
          while (end >= 0) {
            const block = buffered.slice(0, end);
            buffered = buffered.slice(end + 2);
            const data = block
              .split('\n')
              .filter((line) => line.startsWith('data: '))
              .map((line) => line.slice(6))
              .join('\n');
            if (data) events.push(JSON.parse(data));
            for (const wake of waiters.splice(0)) wake();
            end = buffered.indexOf('\n\n');
          }
        });
        // The first comment line says the subscription is in place.
        res.once('data', () =>
          resolve({
            events,
            next: (predicate, ms) =>
              new Promise<void>((done, fail) => {
                const timer = setTimeout(() => fail(new Error(`no such event in ${ms} ms`)), ms);
                const check = () => {
                  if (events.some(predicate)) {
                    clearTimeout(timer);
                    done();
                  } else waiters.push(check);
                };
                check();
              }),
            close: () => req.destroy(),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function describeRequests(databaseUrl: () => Promise<string | undefined>): void {
  let gw: TestGateway;
  const token: Record<string, string> = {};
  const id: Record<string, string> = {};
  let resourceId: string;
  let approvalGrantId: string;

  const call = (who: string, method: string, path: string, body?: unknown) =>
    gw.request(method, path, { token: token[who], ...(body === undefined ? {} : { body }) });
  const ask = (who: string, durationSeconds = 1800, resource = 'prod-web') =>
    call(who, 'POST', '/v1/access-requests', {
      resource,
      reason: 'incident 42: restart the worker',
      durationSeconds,
    });

  /** Moves the gateway's clock; sign-ins are short-lived, so everyone signs in again. */
  const advance = async (ms: number) => {
    gw.clock.advance(ms);
    for (const name of Object.keys(token)) token[name] = await gw.login(name, PASSWORD);
  };

  beforeAll(async () => {
    gw = await startTestGateway({ databaseUrl: await databaseUrl() });
    const people: [string, 'admin' | 'engineer' | 'auditor', string[]][] = [
      ['root', 'admin', []],
      ['alice', 'engineer', ['ops', 'leads']],
      ['bob', 'engineer', ['leads']],
      ['carol', 'engineer', ['leads']],
      ['dave', 'engineer', ['ops']],
    ];
    for (const [name, role, groups] of people) {
      id[name] = await gw.createUser(name, role, PASSWORD, groups);
      token[name] = await gw.login(name, PASSWORD);
    }
    const resource = await call('root', 'POST', '/v1/resources', {
      name: 'prod-web',
      target: { kind: 'ssh', host: '127.0.0.1', port: 22, username: 'deploy' },
    });
    expect(resource.status).toBe(201);
    resourceId = resource.json.id;
    // ops may ask for prod-web for up to an hour; two of the leads group must agree.
    const grant = await call('root', 'POST', '/v1/grants', {
      subject: { kind: 'group', group: 'ops' },
      target: { kind: 'resource', resourceId },
      mode: 'approval',
      maxSessionSeconds: 3600,
      approvers: { users: [], groups: ['leads'] },
      approvalsRequired: 2,
    });
    expect(grant.status).toBe(201);
    expect(grant.json).toMatchObject({
      approvers: { users: [], groups: ['leads'] },
      approvalsRequired: 2,
      requestId: null,
    });
    approvalGrantId = grant.json.id;
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('lists the resource as requestable, and refuses a session until approved', async () => {
    const listed = await call('dave', 'GET', '/v1/resources');
    expect(
      listed.json.resources.map((r: { name: string; access: string }) => [r.name, r.access]),
    ).toEqual([['prod-web', 'requestable']]);
    const refused = await call('dave', 'POST', '/v1/sessions', { resourceId });
    expect([refused.status, refused.json.code]).toEqual([403, 'access_request_required']);
  });

  it('caps the duration at the grant’s maximum session length', async () => {
    const tooLong = await ask('dave', 7200);
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.message).toMatch(/at most 1h/);
  });

  it('counts approvals: 1 of 2 stays pending, 2 of 2 issues a time-boxed grant', async () => {
    const events = await subscribe(gw, token.dave as string);
    try {
      const asked = await ask('dave');
      expect(asked.status).toBe(201);
      expect(asked.json).toMatchObject({
        state: 'pending',
        approvalsRequired: 2,
        username: 'dave',
        resourceName: 'prod-web',
        canDecide: false,
      });
      const requestId = asked.json.id as string;

      const queue = await call('bob', 'GET', '/v1/access-requests?scope=queue');
      expect(queue.json.requests.map((r: { id: string }) => r.id)).toEqual([requestId]);
      expect(queue.json.requests[0].canDecide).toBe(true);

      const first = await call('bob', 'POST', `/v1/access-requests/${requestId}/approve`, {
        comment: 'looks right',
      });
      expect(first.status).toBe(200);
      expect(first.json.state).toBe('pending');
      expect(first.json.decisions).toMatchObject([
        { approverName: 'bob', decision: 'approve', comment: 'looks right' },
      ]);
      // One approver counts once.
      const again = await call('bob', 'POST', `/v1/access-requests/${requestId}/approve`, {});
      expect([again.status, again.json.code]).toEqual([409, 'conflict']);
      const stillRefused = await call('dave', 'POST', '/v1/sessions', { resourceId });
      expect(stillRefused.status).toBe(403);

      const approvedAt = Date.now();
      const second = await call('carol', 'POST', `/v1/access-requests/${requestId}/approve`, {
        comment: 'ok',
      });
      expect(second.status).toBe(200);
      expect(second.json.state).toBe('approved');
      expect(second.json.issuedGrantId).toMatch(/^grt_/);
      expect(Date.parse(second.json.accessUntil)).toBe(gw.clock.now() + 1800 * 1000);
      // The requester's stream says so within a second of the approval.
      await events.next((e) => e.kind === 'approved' && e.request.id === requestId, 1000);
      const latencyMs = Date.now() - approvedAt;
      console.log(`[access requests] approved event reached the requester in ${latencyMs} ms`);
      expect(latencyMs).toBeLessThan(1000);

      const issued = await call('root', 'GET', `/v1/grants/${second.json.issuedGrantId}`);
      expect(issued.json).toMatchObject({
        subject: { kind: 'user', userId: id.dave },
        target: { kind: 'resource', resourceId },
        mode: 'standing',
        requestId,
      });
      const listed = await call('dave', 'GET', '/v1/resources');
      expect(listed.json.resources[0]).toMatchObject({
        access: 'granted',
        grantExpiresAt: second.json.accessUntil,
      });

      // The session names the request, and the request its sessions.
      const session = await call('dave', 'POST', '/v1/sessions', { resourceId });
      expect(session.status).toBe(201);
      expect(session.json.expiresAt).toBe(second.json.accessUntil);
      const row = await call('dave', 'GET', `/v1/sessions/${session.json.sessionId}`);
      expect(row.json.requestId).toBe(requestId);
      const shown = await call('dave', 'GET', `/v1/access-requests/${requestId}`);
      expect(shown.json.sessionIds).toEqual([session.json.sessionId]);

      // A decided request cannot be decided again.
      const late = await call('alice', 'POST', `/v1/access-requests/${requestId}/deny`, {});
      expect([late.status, late.json.code]).toEqual([409, 'conflict']);
    } finally {
      events.close();
    }
  });

  it('refuses a requester approving their own request, even as an approver', async () => {
    const asked = await ask('alice');
    expect(asked.status).toBe(201);
    const own = await call('alice', 'POST', `/v1/access-requests/${asked.json.id}/approve`, {});
    expect([own.status, own.json.code]).toEqual([403, 'forbidden']);
    expect(own.json.message).toMatch(/cannot approve or deny your own request/);
    const queue = await call('alice', 'GET', '/v1/access-requests?scope=queue');
    expect(queue.json.requests.map((r: { id: string }) => r.id)).not.toContain(asked.json.id);
    const mine = await call('alice', 'GET', '/v1/access-requests');
    expect(mine.json.requests.map((r: { id: string }) => r.id)).toEqual([asked.json.id]);
  });

  it('refuses approvers the grant does not name, admins included', async () => {
    const asked = await call('alice', 'GET', '/v1/access-requests?state=pending');
    const requestId = asked.json.requests[0].id as string;
    const byDave = await call('dave', 'POST', `/v1/access-requests/${requestId}/approve`, {});
    // dave is no approver and not the requester: he may not even see it.
    expect(byDave.status).toBe(404);
    const byAdmin = await call('root', 'POST', `/v1/access-requests/${requestId}/approve`, {});
    expect([byAdmin.status, byAdmin.json.code]).toEqual([403, 'forbidden']);
    expect(byAdmin.json.message).toMatch(/not an approver.*group leads/);
    // A deny by an approver ends it.
    const denied = await call('bob', 'POST', `/v1/access-requests/${requestId}/deny`, {
      comment: 'use the runbook instead',
    });
    expect(denied.json.state).toBe('denied');
    const refused = await call('alice', 'POST', '/v1/sessions', { resourceId });
    expect(refused.status).toBe(403);
  });

  it('refuses sessions and requests outside a grant’s window', async () => {
    const later = new Date(gw.clock.now() + 3600_000).toISOString();
    const resource = await call('root', 'POST', '/v1/resources', {
      name: 'prod-db',
      target: { kind: 'ssh', host: '127.0.0.1', port: 22, username: 'deploy' },
    });
    const standing = await call('root', 'POST', '/v1/grants', {
      subject: { kind: 'user', userId: id.bob },
      target: { kind: 'resource', resourceId: resource.json.id },
      validFrom: later,
    });
    expect(standing.status).toBe(201);
    const early = await call('bob', 'POST', '/v1/sessions', { resourceId: resource.json.id });
    expect([early.status, early.json.code]).toEqual([403, 'no_active_grant']);
    expect(early.json.message).toMatch(/starts at/);

    const approval = await call('root', 'POST', '/v1/grants', {
      subject: { kind: 'user', userId: id.carol },
      target: { kind: 'resource', resourceId: resource.json.id },
      mode: 'approval',
      validFrom: later,
    });
    expect(approval.status).toBe(201);
    const asked = await ask('carol', 600, 'prod-db');
    expect([asked.status, asked.json.code]).toEqual([403, 'no_active_grant']);
    expect(asked.json.message).toMatch(/opens at/);

    // Inside the window both work; past its end, the session is refused again.
    await advance(3600_000 + 1);
    const inside = await call('bob', 'POST', '/v1/sessions', { resourceId: resource.json.id });
    expect(inside.status).toBe(201);
    await call('root', 'PATCH', `/v1/grants/${standing.json.id}`, {
      validUntil: new Date(gw.clock.now() + 60_000).toISOString(),
    });
    await advance(60_001);
    const after = await call('bob', 'POST', '/v1/sessions', { resourceId: resource.json.id });
    expect([after.status, after.json.code]).toEqual([403, 'no_active_grant']);
    expect(after.json.message).toMatch(/expired at/);
  });

  it('lists the grants that expire soon, soonest first', async () => {
    const now = gw.clock.now();
    const make = async (inMs: number) => {
      const made = await call('root', 'POST', '/v1/grants', {
        subject: { kind: 'user', userId: id.carol },
        target: { kind: 'resource', resourceId },
        validUntil: new Date(now + inMs).toISOString(),
      });
      return made.json.id as string;
    };
    const inTwoDays = await make(2 * 86_400_000);
    const inOneHour = await make(3600_000);
    await make(30 * 86_400_000);
    const soon = await call('root', 'GET', '/v1/grants?expiringWithin=7d');
    expect(soon.status).toBe(200);
    expect(soon.json.grants.map((g: { id: string }) => g.id)).toEqual([inOneHour, inTwoDays]);
    const bad = await call('root', 'GET', '/v1/grants?expiringWithin=soon');
    expect(bad.status).toBe(400);
    // The approval-required grant (no end) is never in the list.
    expect(soon.json.grants.map((g: { id: string }) => g.id)).not.toContain(approvalGrantId);
  });
}
