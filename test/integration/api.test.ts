/**
 * The gateway API over real HTTPS on loopback, against both store backends: every endpoint,
 * the permission model, and bad input — each bad request gets a clear 4xx and the gateway
 * keeps serving.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode, totpStep } from '../../gateway/auth/totp.ts';
import { SQLITE_FILE_NAME } from '../../gateway/index.ts';
import { generateEd25519KeyPair } from '../../shared/ssh/sshKeyPair.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';
import { describeWithPostgres, freshPostgresDatabase } from '../harness/postgresForTests.ts';

const ADMIN_PASSWORD = 'admin-password-1';
const ENGINEER_PASSWORD = 'engineer-password-1';
// Target credentials: these strings must never come back out of the gateway.
const TARGET_PASSWORD = 'S3cret-target-password-9f1c';
// A real key: the gateway parses an uploaded key and refuses one it cannot read (issue #14).
const TARGET_KEY = generateEd25519KeyPair().private;
const DB_PASSWORD = 'pg-target-password-77aa';

describe('gateway API (sqlite store)', () => describeApi('sqlite', async () => undefined));
describeWithPostgres('gateway API (postgres store)', () =>
  describeApi('postgres', freshPostgresDatabase),
);

function describeApi(
  _name: 'sqlite' | 'postgres',
  databaseUrl: () => Promise<string | undefined>,
): void {
  let gw: TestGateway;
  let adminToken: string;
  let engineerToken: string;
  let engineerId: string;
  let sshResourceId: string;
  let dbResourceId: string;

  beforeAll(async () => {
    gw = await startTestGateway({ databaseUrl: await databaseUrl() });
    await gw.createUser('root', 'admin', ADMIN_PASSWORD);
    engineerId = await gw.createUser('alice', 'engineer', ENGINEER_PASSWORD, ['ops']);
    await gw.createUser('audrey', 'auditor', 'auditor-password-1');
    adminToken = await gw.login('root', ADMIN_PASSWORD);
    engineerToken = await gw.login('alice', ENGINEER_PASSWORD);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('serves health and keys without sign-in', async () => {
    const health = await gw.request('GET', '/v1/health');
    expect(health.status).toBe(200);
    expect(health.json.status).toBe('ok');
    expect(health.json.store).toBe(_name);
    const keys = await gw.request('GET', '/v1/keys');
    expect(keys.status).toBe(200);
    expect(keys.json.caFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(keys.json.caPem).toContain('BEGIN CERTIFICATE');
    expect(keys.json.recordingKey.keyId).toMatch(/^ed25519:[0-9a-f]{16}$/);
    expect(keys.json.recordingKey.publicKeyPem).toContain('PUBLIC KEY');
  });

  it('creates, reads, updates and deletes resources (admin) with write-only secrets', async () => {
    const created = await gw.request('POST', '/v1/resources', {
      token: adminToken,
      body: {
        name: 'web-1',
        labels: { env: 'prod', team: 'ops' },
        target: { kind: 'ssh', host: '127.0.0.1', port: 2222, username: 'deploy' },
        secret: { privateKey: TARGET_KEY, password: TARGET_PASSWORD },
      },
    });
    expect(created.status).toBe(201);
    expect(created.json.secretSet).toEqual({ privateKey: true, password: true });
    expect(created.json.target).toEqual({
      kind: 'ssh',
      host: '127.0.0.1',
      port: 2222,
      username: 'deploy',
      hostKey: null,
    });
    sshResourceId = created.json.id;

    const db = await gw.request('POST', '/v1/resources', {
      token: adminToken,
      body: {
        name: 'orders-db',
        labels: { env: 'prod' },
        target: { kind: 'postgres', host: '127.0.0.1', database: 'orders', username: 'app' },
        secret: { password: DB_PASSWORD },
        policy: {
          masking: [{ name: 'emails', match: { kind: 'preset', preset: 'email' } }],
          guardrails: [{ kind: 'statement', name: 'no-drops', classes: ['drop', 'truncate'] }],
        },
      },
    });
    expect(db.status).toBe(201);
    expect(db.json.policy).toEqual({
      masking: [{ name: 'emails', match: { kind: 'preset', preset: 'email' }, style: 'full' }],
      guardrails: [{ kind: 'statement', name: 'no-drops', classes: ['drop', 'truncate'] }],
      // A policy written without a mode is strict (issue #13).
      maskingMode: 'strict',
    });
    const badPolicy = await gw.request('POST', '/v1/resources', {
      token: adminToken,
      body: {
        name: 'bad-policy',
        target: { kind: 'postgres', host: 'h', database: 'd', username: 'u' },
        policy: { guardrails: [{ kind: 'regex', name: 'x', pattern: '(' }] },
      },
    });
    expect(badPolicy.status).toBe(400);
    expect(badPolicy.json.message).toMatch(/regular expression/);
    expect(db.json.target.port).toBe(5432);
    dbResourceId = db.json.id;

    const duplicate = await gw.request('POST', '/v1/resources', {
      token: adminToken,
      body: { name: 'web-1', target: { kind: 'ssh', host: 'h', username: 'u' } },
    });
    expect(duplicate.status).toBe(409);
    expect(duplicate.json.code).toBe('conflict');

    const keyForPostgres = await gw.request('POST', '/v1/resources', {
      token: adminToken,
      body: {
        name: 'x-db',
        target: { kind: 'postgres', host: 'h', database: 'd', username: 'u' },
        secret: { privateKey: 'k' },
      },
    });
    expect(keyForPostgres.status).toBe(400);
    expect(keyForPostgres.json.message).toMatch(/password only/);

    const patched = await gw.request('PATCH', `/v1/resources/${sshResourceId}`, {
      token: adminToken,
      body: {
        description: 'front web server',
        target: {
          kind: 'ssh',
          host: '127.0.0.1',
          port: 2222,
          username: 'deploy',
          hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExample',
        },
      },
    });
    expect(patched.status).toBe(200);
    expect(patched.json.description).toBe('front web server');
    expect(patched.json.target.hostKey).toMatch(/^ssh-ed25519 /);
    expect(patched.json.secretSet.privateKey).toBe(true);

    const byName = await gw.request('GET', '/v1/resources/web-1', { token: adminToken });
    expect(byName.status).toBe(200);
    expect(byName.json.id).toBe(sshResourceId);

    const temp = await gw.request('POST', '/v1/resources', {
      token: adminToken,
      body: { name: 'temp', target: { kind: 'ssh', host: 'h', username: 'u' } },
    });
    expect(
      (await gw.request('DELETE', `/v1/resources/${temp.json.id}`, { token: adminToken })).status,
    ).toBe(204);
    const gone = await gw.request('GET', `/v1/resources/${temp.json.id}`, { token: adminToken });
    expect(gone.status).toBe(404);
    expect(gone.json.code).toBe('not_found');

    // The credential can be opened by the gateway itself (for the proxies) and is bound to its row.
    const record = await gw.gateway.services.store.getResource(sshResourceId);
    expect(record?.secretCiphertext).not.toContain(TARGET_PASSWORD);
    const credential = await gw.gateway.services.resources.credentialFor(record!);
    expect(credential?.password).toBe(TARGET_PASSWORD);
  });

  it('hides resources from engineers until a grant names them', async () => {
    const before = await gw.request('GET', '/v1/resources', { token: engineerToken });
    expect(before.status).toBe(200);
    expect(before.json.resources).toEqual([]);
    const hidden = await gw.request('GET', `/v1/resources/${sshResourceId}`, {
      token: engineerToken,
    });
    expect(hidden.status).toBe(404);
  });

  it('manages grants and turns them into sessions with single-use tickets', async () => {
    const noGrant = await gw.request('POST', '/v1/sessions', {
      token: engineerToken,
      body: { resourceId: sshResourceId },
    });
    expect(noGrant.status).toBe(403);
    expect(noGrant.json.code).toBe('no_active_grant');
    expect(noGrant.json.message).toContain('web-1');

    const grant = await gw.request('POST', '/v1/grants', {
      token: adminToken,
      body: {
        subject: { kind: 'group', group: 'ops' },
        target: { kind: 'labels', selector: { team: 'ops' } },
        maxSessionSeconds: 600,
      },
    });
    expect(grant.status).toBe(201);
    expect(grant.json.mode).toBe('standing');

    const approval = await gw.request('POST', '/v1/grants', {
      token: adminToken,
      body: {
        subject: { kind: 'user', userId: engineerId },
        target: { kind: 'resource', resourceId: dbResourceId },
        mode: 'approval',
      },
    });
    expect(approval.status).toBe(201);

    const listed = await gw.request('GET', '/v1/resources', { token: engineerToken });
    const access = Object.fromEntries(
      listed.json.resources.map((r: { name: string; access: string }) => [r.name, r.access]),
    );
    expect(access).toEqual({ 'web-1': 'granted', 'orders-db': 'requestable' });

    const mine = await gw.request('GET', '/v1/grants', { token: engineerToken });
    expect(mine.json.grants.map((g: { id: string }) => g.id).sort()).toEqual(
      [grant.json.id, approval.json.id].sort(),
    );
    const one = await gw.request('GET', `/v1/grants/${grant.json.id}`, { token: engineerToken });
    expect(one.status).toBe(200);

    const needsApproval = await gw.request('POST', '/v1/sessions', {
      token: engineerToken,
      body: { resourceId: dbResourceId },
    });
    expect(needsApproval.status).toBe(403);
    expect(needsApproval.json.code).toBe('access_request_required');

    const session = await gw.request('POST', '/v1/sessions', {
      token: engineerToken,
      body: { resourceId: sshResourceId },
    });
    expect(session.status).toBe(201);
    expect(session.json.ticket).toMatch(/^wtk_[A-Za-z0-9_-]{43}$/);
    const expiresIn = Date.parse(session.json.expiresAt) - gw.clock.now();
    expect(expiresIn).toBe(600_000);
    expect(Date.parse(session.json.ticketExpiresAt) - gw.clock.now()).toBe(60_000);

    // Redeeming: once only, then refused as replayed.
    const redeemed = await gw.gateway.services.sessions.redeemTicket(
      session.json.sessionId,
      session.json.ticket,
    );
    expect(redeemed.session.state).toBe('live');
    await expect(
      gw.gateway.services.sessions.redeemTicket(session.json.sessionId, session.json.ticket),
    ).rejects.toThrow(/already used/);
    // A wrong ticket and an expired one are refused with their own messages.
    const second = await gw.request('POST', '/v1/sessions', {
      token: engineerToken,
      body: { resourceId: 'web-1' },
    });
    await expect(
      gw.gateway.services.sessions.redeemTicket(second.json.sessionId, `wtk_${'A'.repeat(43)}`),
    ).rejects.toThrow(/not valid/);
    gw.clock.advance(61_000);
    await expect(
      gw.gateway.services.sessions.redeemTicket(second.json.sessionId, second.json.ticket),
    ).rejects.toThrow(/expired/);

    const got = await gw.request('GET', `/v1/sessions/${session.json.sessionId}`, {
      token: engineerToken,
    });
    expect(got.json).toMatchObject({ state: 'live', username: 'alice', resourceName: 'web-1' });
    const list = await gw.request('GET', '/v1/sessions?state=live', { token: engineerToken });
    expect(list.json.sessions.map((s: { id: string }) => s.id)).toEqual([session.json.sessionId]);

    const auditorToken = await gw.login('audrey', 'auditor-password-1');
    const auditorView = await gw.request('GET', '/v1/sessions', { token: auditorToken });
    expect(auditorView.json.sessions.length).toBe(2);
    const auditorKill = await gw.request(
      'POST',
      `/v1/sessions/${session.json.sessionId}/terminate`,
      { token: auditorToken },
    );
    expect(auditorKill.status).toBe(403);

    const ended = await gw.request('POST', `/v1/sessions/${session.json.sessionId}/terminate`, {
      token: adminToken,
    });
    expect(ended.status).toBe(200);
    expect(ended.json).toMatchObject({ state: 'ended', endReason: 'terminated by root' });

    // Narrowing the window revokes access: sessions under the grant end at once.
    const doomed = await gw.request('POST', '/v1/sessions', {
      token: engineerToken,
      body: { resourceId: sshResourceId },
    });
    expect(doomed.status).toBe(201);

    // Grant windows: an expired grant gives a message with the time it expired.
    const patch = await gw.request('PATCH', `/v1/grants/${grant.json.id}`, {
      token: adminToken,
      body: { validUntil: new Date(gw.clock.now() - 1000).toISOString() },
    });
    expect(patch.status).toBe(200);
    const expired = await gw.request('POST', '/v1/sessions', {
      token: engineerToken,
      body: { resourceId: sshResourceId },
    });
    expect(expired.status).toBe(403);
    expect(expired.json.message).toMatch(/expired at/);
    const revoked = await gw.request('GET', `/v1/sessions/${doomed.json.sessionId}`, {
      token: adminToken,
    });
    expect(revoked.json).toMatchObject({
      state: 'ended',
      endReason: expect.stringMatching(/access revoked/),
    });
    expect(
      (await gw.request('DELETE', `/v1/grants/${grant.json.id}`, { token: adminToken })).status,
    ).toBe(204);
    expect(
      (await gw.request('GET', `/v1/grants/${grant.json.id}`, { token: adminToken })).status,
    ).toBe(404);
  });

  it('tells each caller when their usable grants for a resource end (grantExpiresAt)', async () => {
    const erinId = await gw.createUser('erin', 'engineer', 'erin-password-1');
    const erinToken = await gw.login('erin', 'erin-password-1');
    const resource = await gw.request('POST', '/v1/resources', {
      token: adminToken,
      body: { name: 'expiry-1', target: { kind: 'ssh', host: '127.0.0.1', username: 'deploy' } },
    });
    expect(resource.status).toBe(201);
    const resourceId: string = resource.json.id;
    const at = (offsetMs: number) => new Date(gw.clock.now() + offsetMs).toISOString();
    const grantFor = async (body: Record<string, unknown>) => {
      const created = await gw.request('POST', '/v1/grants', {
        token: adminToken,
        body: {
          subject: { kind: 'user', userId: erinId },
          target: { kind: 'resource', resourceId },
          ...body,
        },
      });
      expect(created.status, created.text).toBe(201);
      return created.json.id as string;
    };
    const erinsView = async () => {
      const listed = await gw.request('GET', '/v1/resources', { token: erinToken });
      const one = await gw.request('GET', `/v1/resources/${resourceId}`, { token: erinToken });
      const fromList = listed.json.resources.find((r: { id: string }) => r.id === resourceId);
      // The list and the single-resource route agree.
      expect(one.json.grantExpiresAt).toEqual(fromList?.grantExpiresAt);
      return fromList as { access: string; grantExpiresAt: string | null } | undefined;
    };

    // An approval grant makes it requestable, with nothing counting down; an expired standing
    // grant and one that has not started yet count for nothing.
    await grantFor({ mode: 'approval' });
    await grantFor({ validFrom: at(-7_200_000), validUntil: at(-3_600_000) });
    await grantFor({ validFrom: at(3_600_000), validUntil: at(10 * 3_600_000) });
    expect(await erinsView()).toMatchObject({ access: 'requestable', grantExpiresAt: null });

    // Two usable standing grants: the later end wins.
    const oneHour = at(3_600_000);
    const twoHours = at(7_200_000);
    await grantFor({ validUntil: oneHour });
    const longer = await grantFor({ validUntil: twoHours });
    expect(await erinsView()).toEqual(
      expect.objectContaining({ access: 'granted', grantExpiresAt: twoHours }),
    );
    // Once the later one lapses, the earlier one is what is left.
    expect((await gw.request('DELETE', `/v1/grants/${longer}`, { token: adminToken })).status).toBe(
      204,
    );
    expect((await erinsView())?.grantExpiresAt).toBe(oneHour);

    // A usable grant without an end means no end at all.
    await grantFor({});
    expect(await erinsView()).toMatchObject({ access: 'granted', grantExpiresAt: null });

    // The admin sees it through their role, holding no grant of their own.
    const adminView = await gw.request('GET', `/v1/resources/${resourceId}`, { token: adminToken });
    expect(adminView.json).toMatchObject({ access: 'admin', grantExpiresAt: null });
  });

  it('refuses admin endpoints to non-admins with 403', async () => {
    const calls: [string, string, unknown][] = [
      [
        'POST',
        '/v1/resources',
        { name: 'nope', target: { kind: 'ssh', host: 'h', username: 'u' } },
      ],
      ['PATCH', `/v1/resources/${sshResourceId}`, { description: 'x' }],
      ['DELETE', `/v1/resources/${sshResourceId}`, undefined],
      [
        'POST',
        '/v1/grants',
        {
          subject: { kind: 'user', userId: engineerId },
          target: { kind: 'resource', resourceId: sshResourceId },
        },
      ],
      ['PATCH', '/v1/grants/grt_x', { description: 'x' }],
      ['DELETE', '/v1/grants/grt_x', undefined],
    ];
    for (const [method, url, body] of calls) {
      const response = await gw.request(method, url, { token: engineerToken, body });
      expect(response.status, `${method} ${url}`).toBe(403);
      expect(response.json.code).toBe('forbidden');
      expect(response.json.message).toMatch(/admin role/);
    }
  });

  it('rotates refresh tokens and ends the family when one is replayed', async () => {
    const login = await gw.request('POST', '/v1/auth/login', {
      body: { username: 'alice', password: ENGINEER_PASSWORD },
    });
    const first = await gw.request('POST', '/v1/auth/refresh', {
      body: { refreshToken: login.json.refreshToken },
    });
    expect(first.status).toBe(200);
    expect(first.json.refreshToken).not.toBe(login.json.refreshToken);
    const replay = await gw.request('POST', '/v1/auth/refresh', {
      body: { refreshToken: login.json.refreshToken },
    });
    expect(replay.status).toBe(401);
    expect(replay.json.message).toMatch(/already refreshed/);
    // The thief's replay also ended the legitimate successor.
    const successor = await gw.request('POST', '/v1/auth/refresh', {
      body: { refreshToken: first.json.refreshToken },
    });
    expect(successor.status).toBe(401);
    expect((await gw.request('GET', '/v1/me', { token: first.json.accessToken })).status).toBe(401);
  });

  it('expires access tokens and logs out', async () => {
    const login = await gw.request('POST', '/v1/auth/login', {
      body: { username: 'alice', password: ENGINEER_PASSWORD },
    });
    const me = await gw.request('GET', '/v1/me', { token: login.json.accessToken });
    expect(me.json).toMatchObject({
      username: 'alice',
      role: 'engineer',
      groups: ['ops'],
      totpEnabled: false,
    });
    gw.clock.advance(16 * 60_000);
    const expired = await gw.request('GET', '/v1/me', { token: login.json.accessToken });
    expect(expired.status).toBe(401);
    expect(expired.json.code).toBe('token_expired');
    const refreshed = await gw.request('POST', '/v1/auth/refresh', {
      body: { refreshToken: login.json.refreshToken },
    });
    expect(refreshed.status).toBe(200);
    expect(
      (await gw.request('POST', '/v1/auth/logout', { token: refreshed.json.accessToken, body: {} }))
        .status,
    ).toBe(204);
    expect((await gw.request('GET', '/v1/me', { token: refreshed.json.accessToken })).status).toBe(
      401,
    );
    expect(
      (
        await gw.request('POST', '/v1/auth/refresh', {
          body: { refreshToken: refreshed.json.refreshToken },
        })
      ).status,
    ).toBe(401);
    adminToken = await gw.login('root', ADMIN_PASSWORD);
    engineerToken = await gw.login('alice', ENGINEER_PASSWORD);
  });

  it('enrolls a user once with an enrollment token', async () => {
    const store = gw.gateway.services.store;
    const user = await store.createUser({
      id: 'usr_enrolltest',
      username: 'bob',
      role: 'engineer',
      groups: [],
      passwordHash: null,
      createdAt: gw.clock.now(),
    });
    const { token } = await gw.gateway.services.auth.createEnrollment(user.id);
    const beforeEnroll = await gw.request('POST', '/v1/auth/login', {
      body: { username: 'bob', password: 'whatever-password' },
    });
    expect(beforeEnroll.status).toBe(401);
    const enrolled = await gw.request('POST', '/v1/auth/enroll', {
      body: { token, password: 'bob-password-1' },
    });
    expect(enrolled.status).toBe(200);
    expect(enrolled.json.username).toBe('bob');
    const again = await gw.request('POST', '/v1/auth/enroll', {
      body: { token, password: 'bob-password-2' },
    });
    expect(again.status).toBe(401);
    expect(again.json.message).toMatch(/already used/);
    const short = await gw.request('POST', '/v1/auth/enroll', {
      body: { token, password: 'short' },
    });
    expect(short.status).toBe(400);
    expect(await gw.login('bob', 'bob-password-1')).toMatch(/^wat_/);
  });

  it('requires TOTP once enrolled and refuses a replayed code', async () => {
    await gw.createUser('carol', 'engineer', 'carol-password-1');
    const token = await gw.login('carol', 'carol-password-1');
    const enrollment = await gw.request('POST', '/v1/me/totp', { token });
    expect(enrollment.status).toBe(200);
    expect(enrollment.json.otpauthUri).toMatch(/^otpauth:\/\/totp\/Witness(:|%3A)carol\?secret=/);
    const wrong = await gw.request('POST', '/v1/me/totp/confirm', {
      token,
      body: { code: '000000' },
    });
    expect(wrong.status).toBe(400);
    const code = totpCode(enrollment.json.secret, totpStep(gw.clock.now()));
    const confirmed = await gw.request('POST', '/v1/me/totp/confirm', { token, body: { code } });
    expect(confirmed.json.totpEnabled).toBe(true);

    const withoutCode = await gw.request('POST', '/v1/auth/login', {
      body: { username: 'carol', password: 'carol-password-1' },
    });
    expect(withoutCode.status).toBe(401);
    expect(withoutCode.json.code).toBe('totp_required');
    const replayed = await gw.request('POST', '/v1/auth/login', {
      body: { username: 'carol', password: 'carol-password-1', totp: code },
    });
    expect(replayed.status).toBe(401);
    gw.clock.advance(30_000);
    const next = totpCode(enrollment.json.secret, totpStep(gw.clock.now()));
    const ok = await gw.request('POST', '/v1/auth/login', {
      body: { username: 'carol', password: 'carol-password-1', totp: next },
    });
    expect(ok.status).toBe(200);
  });

  it('locks an account after repeated failures, with a time to retry', async () => {
    await gw.createUser('dave', 'engineer', 'dave-password-1');
    const attempt = (password: string) =>
      gw.request('POST', '/v1/auth/login', { body: { username: 'dave', password } });
    for (let i = 0; i < 4; i++)
      expect((await attempt('wrong-password')).json.code).toBe('invalid_credentials');
    const locked = await attempt('wrong-password');
    expect(locked.status).toBe(429);
    expect(locked.json.code).toBe('account_locked');
    expect(Date.parse(locked.json.retryAfter)).toBeGreaterThan(gw.clock.now());
    // Even the right password is refused while locked, and works after the lock ends.
    expect((await attempt('dave-password-1')).json.code).toBe('account_locked');
    gw.clock.advance(16 * 60_000);
    expect((await attempt('dave-password-1')).status).toBe(200);
    const unknown = await gw.request('POST', '/v1/auth/login', {
      body: { username: 'nobody', password: 'x' },
    });
    expect(unknown.status).toBe(401);
    expect(unknown.json.message).toBe('Wrong username or password.');
  });

  it('answers bad input with a clear 4xx and keeps serving', async () => {
    // Earlier tests moved the clock past the access-token lifetime.
    adminToken = await gw.login('root', ADMIN_PASSWORD);
    engineerToken = await gw.login('alice', ENGINEER_PASSWORD);
    const malformed = await gw.request('POST', '/v1/auth/login', { raw: '{"username": "alice", ' });
    expect(malformed.status).toBe(400);
    expect(malformed.json).toMatchObject({
      code: 'bad_request',
      message: 'The request body is not valid JSON.',
    });

    const wrongTypes = await gw.request('POST', '/v1/resources', {
      token: adminToken,
      body: {
        name: 'typed',
        target: { kind: 'ssh', host: 'h', port: 'twenty-two', username: 'u' },
      },
    });
    expect(wrongTypes.status).toBe(400);
    expect(wrongTypes.json.issues[0].path).toBe('target.port');

    const unknownField = await gw.request('POST', '/v1/auth/login', {
      body: { username: 'alice', password: 'x', pasword: 'typo' },
    });
    expect(unknownField.status).toBe(400);
    expect(unknownField.json.message).toMatch(/pasword/);

    const oversized = await gw.request('POST', '/v1/auth/login', {
      raw: JSON.stringify({ username: 'a', password: 'x'.repeat(200_000) }),
    });
    expect(oversized.status).toBe(413);
    expect(oversized.json.code).toBe('payload_too_large');

    const wrongType = await gw.request('POST', '/v1/auth/login', {
      raw: 'username=alice',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(wrongType.status).toBe(415);

    const empty = await gw.request('POST', '/v1/sessions', { token: engineerToken, raw: '' });
    expect(empty.status).toBe(400);

    const forged = await gw.request('GET', '/v1/me', { token: `wat_${'x'.repeat(43)}` });
    expect(forged.status).toBe(401);
    expect(forged.json.code).toBe('unauthenticated');
    const badHeader = await gw.request('GET', '/v1/me', {
      headers: { authorization: 'Basic abc' },
    });
    expect(badHeader.status).toBe(401);
    const none = await gw.request('GET', '/v1/resources');
    expect(none.status).toBe(401);

    const badQuery = await gw.request('GET', '/v1/sessions?limit=100000', { token: adminToken });
    expect(badQuery.status).toBe(400);
    const unknownRoute = await gw.request('GET', '/v1/nothing-here', { token: adminToken });
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.json.code).toBe('not_found');

    const unknownResource = await gw.request('POST', '/v1/sessions', {
      token: engineerToken,
      body: { resourceId: 'no-such-thing' },
    });
    expect(unknownResource.status).toBe(404);
    expect(unknownResource.json.message).toMatch(/witness resources/);

    expect((await gw.request('GET', '/v1/health')).status).toBe(200);
    expect((await gw.request('GET', '/v1/me', { token: engineerToken })).status).toBe(200);
  });

  it('never lets a secret out in a response, a log line, or the database in clear', async () => {
    const secrets = [
      TARGET_PASSWORD,
      'exampleKEYmaterial42',
      DB_PASSWORD,
      ADMIN_PASSWORD,
      ENGINEER_PASSWORD,
    ];
    const haystacks = [...gw.responses, ...gw.logLines];
    expect(haystacks.length).toBeGreaterThan(50);
    for (const secret of secrets) {
      const leaks = haystacks.filter((text) => text.toLowerCase().includes(secret.toLowerCase()));
      expect(leaks, `secret ${secret.slice(0, 6)}… leaked`).toEqual([]);
    }
    if (_name === 'sqlite') {
      const dir = gw.dataDir;
      const files = [SQLITE_FILE_NAME, `${SQLITE_FILE_NAME}-wal`].map((f) => path.join(dir, f));
      const bytes = files
        .map((f) => {
          try {
            return readFileSync(f).toString('latin1');
          } catch {
            return '';
          }
        })
        .join('');
      expect(bytes.length).toBeGreaterThan(0);
      for (const secret of secrets) expect(bytes.includes(secret)).toBe(false);
    }
  });
}
