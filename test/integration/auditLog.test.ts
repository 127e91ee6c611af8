/**
 * The audit log through the API (issue #14), on a real gateway with both stores: admin actions,
 * access decisions, a request, its approval and the grant it issued each leave one entry;
 * admins and auditors search and page it, engineers are refused; the export verifies offline
 * with the gateway's public key from /keys, and carries no secret an admin typed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeAuditVerification,
  verifyAuditExport,
} from '../../shared/recording/verifyAuditLog.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';
import { describeWithPostgres, freshPostgresDatabase } from '../harness/postgresForTests.ts';

const PASSWORD = 'a-long-password-1';
const TARGET_PASSWORD = 'target-secret-do-not-log';

describe('audit log (sqlite store)', () => describeAuditLog(async () => undefined));
describeWithPostgres('audit log (postgres store)', () => describeAuditLog(freshPostgresDatabase));

interface Entry {
  seq: number;
  actor: { id: string; name: string } | null;
  action: string;
  target: string;
  outcome: string;
  details: Record<string, unknown>;
}

function describeAuditLog(databaseUrl: () => Promise<string | undefined>): void {
  let gw: TestGateway;
  const token: Record<string, string> = {};
  const id: Record<string, string> = {};
  let resourceId = '';
  let grantId = '';
  let requestId = '';

  const call = (who: string, method: string, path: string, body?: unknown) =>
    gw.request(method, path, { token: token[who], ...(body === undefined ? {} : { body }) });
  const list = async (who: string, query = ''): Promise<Entry[]> => {
    const answer = await call(who, 'GET', `/v1/audit${query}`);
    expect(answer.status, answer.text).toBe(200);
    return answer.json.entries;
  };

  beforeAll(async () => {
    gw = await startTestGateway({ databaseUrl: await databaseUrl() });
    const people: [string, 'admin' | 'engineer' | 'auditor', string[]][] = [
      ['root', 'admin', []],
      ['audra', 'auditor', []],
      ['eve', 'engineer', ['ops']],
      ['carl', 'engineer', ['leads']],
    ];
    for (const [name, role, groups] of people) {
      id[name] = await gw.createUser(name, role, PASSWORD, groups);
      token[name] = await gw.login(name, PASSWORD);
    }
    const resource = await call('root', 'POST', '/v1/resources', {
      name: 'prod-db',
      target: { kind: 'postgres', host: '127.0.0.1', port: 5432, database: 'app', username: 'app' },
      secret: { password: TARGET_PASSWORD },
    });
    expect(resource.status, resource.text).toBe(201);
    resourceId = resource.json.id;
    const grant = await call('root', 'POST', '/v1/grants', {
      subject: { kind: 'group', group: 'ops' },
      target: { kind: 'resource', resourceId },
      mode: 'approval',
      maxSessionSeconds: 3600,
      approvers: { users: [id.carl], groups: [] },
      approvalsRequired: 1,
    });
    expect(grant.status, grant.text).toBe(201);
    grantId = grant.json.id;
    const refused = await call('eve', 'POST', '/v1/sessions', { resourceId });
    expect(refused.status).toBe(403);
    const asked = await call('eve', 'POST', '/v1/access-requests', {
      resource: 'prod-db',
      reason: 'incident 42',
      durationSeconds: 1800,
    });
    expect(asked.status, asked.text).toBe(201);
    requestId = asked.json.id;
    const approved = await call('carl', 'POST', `/v1/access-requests/${requestId}/approve`, {
      comment: 'go',
    });
    expect(approved.json.state).toBe('approved');
    const session = await call('eve', 'POST', '/v1/sessions', { resourceId });
    expect(session.status, session.text).toBe(201);
    // An engineer trying an admin action is logged too.
    expect((await call('eve', 'DELETE', `/v1/grants/${grantId}`)).status).toBe(403);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('logs each step, newest first, with who, what, on what and the outcome', async () => {
    const entries = await list('audra', '?limit=100');
    const steps = entries
      .filter((e) => e.actor !== null && ['root', 'eve', 'carl'].includes(e.actor.name))
      .map((e) => `${e.actor?.name} ${e.action} ${e.outcome}`)
      .reverse();
    expect(steps).toEqual([
      'root admin.createResource succeeded',
      'root admin.createGrant succeeded',
      'eve session.refused refused',
      'eve request.create succeeded',
      'carl grant.issued succeeded',
      'carl request.approve succeeded',
      'eve session.allowed allowed',
      'eve admin.deleteGrant refused',
    ]);
    expect(entries.map((e) => e.seq)).toEqual([...entries.map((e) => e.seq)].sort((a, b) => b - a));
    const byAction = (action: string) => entries.find((e) => e.action === action) as Entry;
    expect(byAction('admin.createResource').target).toBe(`/resources/${resourceId}`);
    expect(byAction('admin.createGrant').target).toBe(`/grants/${grantId}`);
    expect(byAction('session.refused').details).toMatchObject({
      code: 'access_request_required',
    });
    const issued = byAction('grant.issued');
    expect(issued.details).toMatchObject({ requestId, subject: id.eve, resourceId });
    expect(byAction('session.allowed').details).toMatchObject({
      grantId: issued.target.replace('/grants/', ''),
      requestId,
    });
    expect(byAction('admin.deleteGrant').details).toMatchObject({
      error: { code: 'forbidden' },
    });
  });

  it('keeps secrets an admin typed out of the log', async () => {
    const created = (await list('root', '?action=admin.createResource'))[0] as Entry;
    expect(created.details.body).toMatchObject({ secret: '[redacted]', name: 'prod-db' });
    const exported = await call('root', 'GET', '/v1/audit/export');
    expect(exported.text).not.toContain(TARGET_PASSWORD);
    expect(exported.text).not.toContain(PASSWORD);
  });

  it('filters by actor, action prefix, words and time, and pages with a cursor', async () => {
    const actions = (entries: Entry[]) => entries.map((e) => e.action);
    expect(actions(await list('root', `?actor=eve`))).toEqual([
      'admin.deleteGrant',
      'session.allowed',
      'request.create',
      'session.refused',
    ]);
    expect(actions(await list('root', `?actor=${id.carl}`))).toEqual([
      'request.approve',
      'grant.issued',
    ]);
    expect(actions(await list('root', '?action=session'))).toEqual([
      'session.allowed',
      'session.refused',
    ]);
    expect(actions(await list('root', '?q=incident%2042'))).toContain('request.create');
    const future = new Date(gw.clock.now() + 60_000).toISOString();
    expect(await list('root', `?since=${encodeURIComponent(future)}`)).toEqual([]);
    expect((await list('root', '?since=1h')).length).toBeGreaterThan(5);

    const first = await call('root', 'GET', '/v1/audit?actor=eve&limit=3');
    expect(first.json.entries).toHaveLength(3);
    expect(first.json.nextCursor).toBe(String(first.json.entries[2].seq));
    const second = await call(
      'root',
      'GET',
      `/v1/audit?actor=eve&limit=3&cursor=${first.json.nextCursor}`,
    );
    expect(actions(second.json.entries)).toEqual(['session.refused']);
    expect(second.json.nextCursor).toBeNull();
    const bad = await call('root', 'GET', '/v1/audit?since=yesterday');
    expect(bad.status).toBe(400);
  });

  it('lets admins and auditors read it, and refuses engineers', async () => {
    expect((await call('audra', 'GET', '/v1/audit/export')).status).toBe(200);
    const engineer = await call('eve', 'GET', '/v1/audit');
    expect([engineer.status, engineer.json.code]).toEqual([403, 'forbidden']);
    expect((await call('eve', 'GET', '/v1/audit/export')).status).toBe(403);
  });

  it('exports JSON lines that verify offline with the key from /keys, signed to the last entry', async () => {
    const keys = await gw.request('GET', '/v1/keys');
    const exported = await call('audra', 'GET', '/v1/audit/export');
    const lines = exported.text
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines[0]).toMatchObject({ type: 'audit-log', formatVersion: 1 });
    const entries = lines.filter((line) => line.type === 'entry');
    expect(lines.at(-1)).toMatchObject({ type: 'checkpoint', seq: entries.at(-1).seq });
    const result = await verifyAuditExport(exported.text, keys.json.recordingKey.publicKeyPem);
    expect(result).toEqual({
      ok: true,
      entries: entries.length,
      lastSeq: entries.length,
      lastCheckpointSeq: entries.length,
    });
    expect(describeAuditVerification(result)).toBe(
      `verified ${entries.length} entries up to seq ${entries.length} (last signed checkpoint at seq ${entries.length})`,
    );
  });

  it('signs new entries within seconds even when nobody exports', async () => {
    await call('root', 'POST', `/v1/users/${id.carl}/role`, { role: 'auditor' });
    const head = await gw.gateway.services.store.auditHead();
    const deadline = Date.now() + 5000;
    let covered = 0;
    while (Date.now() < deadline) {
      covered = (await gw.gateway.services.store.latestAuditCheckpoint())?.seq ?? 0;
      if (covered >= head.seq) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(covered).toBeGreaterThanOrEqual(head.seq);
  });
}
