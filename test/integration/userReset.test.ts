/**
 * An admin resets a user's password and TOTP (issue #14), on a real gateway over HTTPS with
 * both stores: the old password and every sign-in stop working at once, the one-time token
 * the answer carries sets a new password through the ordinary enroll flow (and an earlier
 * link dies), a TOTP reset makes the user enrol TOTP again, open sessions are left alone, the
 * audit log has the action without the token, and nobody resets themselves here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode, totpStep } from '../../gateway/auth/totp.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';
import { describeWithPostgres, freshPostgresDatabase } from '../harness/postgresForTests.ts';

const PASSWORD = 'a-long-password-1';
const NEW_PASSWORD = 'a-brand-new-password-2';

describe('user reset (sqlite store)', () => describeReset(async () => undefined));
describeWithPostgres('user reset (postgres store)', () => describeReset(freshPostgresDatabase));

function describeReset(databaseUrl: () => Promise<string | undefined>): void {
  let gw: TestGateway;
  let rootToken: string;
  const id: Record<string, string> = {};

  const signIn = (username: string, password: string, totp?: string) =>
    gw.request('POST', '/v1/auth/login', {
      body: { username, password, ...(totp ? { totp } : {}) },
    });
  const reset = (userId: string, body: unknown, token = rootToken) =>
    gw.request('POST', `/v1/users/${userId}/reset`, { token, body });

  beforeAll(async () => {
    gw = await startTestGateway({ databaseUrl: await databaseUrl() });
    id.root = await gw.createUser('root', 'admin', PASSWORD);
    for (const name of ['alice', 'bob', 'erin'] as const) {
      id[name] = await gw.createUser(name, 'engineer', PASSWORD);
    }
    id.audrey = await gw.createUser('audrey', 'auditor', PASSWORD);
    rootToken = await gw.login('root', PASSWORD);
  });
  afterAll(async () => gw?.close());

  it('resets the password: old password and sign-ins refused at once, the new link enrolls', async () => {
    const before = await signIn('alice', PASSWORD);
    expect(before.status).toBe(200);
    // An open session (pending) of alice's, to see that a reset leaves it running.
    const resource = await gw.request('POST', '/v1/resources', {
      token: rootToken,
      body: {
        name: 'web-1',
        target: { kind: 'ssh', host: '127.0.0.1', port: 22, username: 'deploy' },
      },
    });
    expect(resource.status).toBe(201);
    const grant = await gw.request('POST', '/v1/grants', {
      token: rootToken,
      body: {
        subject: { kind: 'user', userId: id.alice },
        target: { kind: 'resource', resourceId: resource.json.id },
        mode: 'standing',
        maxSessionSeconds: 3600,
      },
    });
    expect(grant.status).toBe(201);
    const session = await gw.request('POST', '/v1/sessions', {
      token: before.json.accessToken,
      body: { resourceId: resource.json.id },
    });
    expect(session.status).toBe(201);

    const answer = await reset(id.alice as string, { password: true });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      user: { id: id.alice, username: 'alice', disabled: false },
      reset: { password: true, totp: false },
      signInsRevoked: true,
      enrollment: { token: expect.stringMatching(/^wen_/) },
    });

    // The access token is refused from the next call, the refresh token too.
    const me = await gw.request('GET', '/v1/me', { token: before.json.accessToken });
    expect([me.status, me.json.code]).toEqual([401, 'unauthenticated']);
    const renewed = await gw.request('POST', '/v1/auth/refresh', {
      body: { refreshToken: before.json.refreshToken },
    });
    expect(renewed.status).toBe(401);
    const old = await signIn('alice', PASSWORD);
    expect([old.status, old.json.code]).toEqual([401, 'invalid_credentials']);

    // The open session was not ended: the person is still allowed.
    const stillOpen = await gw.request('GET', `/v1/sessions/${session.json.sessionId}`, {
      token: rootToken,
    });
    expect(stillOpen.status).toBe(200);
    expect(stillOpen.json.state).not.toBe('ended');

    const enrolled = await gw.request('POST', '/v1/auth/enroll', {
      body: { token: answer.json.enrollment.token, password: NEW_PASSWORD },
    });
    expect([enrolled.status, enrolled.json]).toEqual([200, { username: 'alice' }]);
    expect((await signIn('alice', NEW_PASSWORD)).status).toBe(200);
    expect((await signIn('alice', PASSWORD)).status).toBe(401);
  });

  it('spends an earlier unused link when a new one is issued', async () => {
    const first = await reset(id.bob as string, { password: true });
    const second = await reset(id.bob as string, { password: true });
    expect(first.json.enrollment.token).not.toBe(second.json.enrollment.token);
    const withFirst = await gw.request('POST', '/v1/auth/enroll', {
      body: { token: first.json.enrollment.token, password: NEW_PASSWORD },
    });
    expect([withFirst.status, withFirst.json.code]).toEqual([401, 'invalid_credentials']);
    const withSecond = await gw.request('POST', '/v1/auth/enroll', {
      body: { token: second.json.enrollment.token, password: NEW_PASSWORD },
    });
    expect(withSecond.status).toBe(200);
  });

  it('resets TOTP: the old code no longer signs in, the user enrols TOTP again', async () => {
    const token = await gw.login('erin', PASSWORD);
    const first = await gw.request('POST', '/v1/me/totp', { token });
    const firstCode = totpCode(first.json.secret, totpStep(gw.clock.now()));
    const confirmed = await gw.request('POST', '/v1/me/totp/confirm', {
      token,
      body: { code: firstCode },
    });
    expect(confirmed.json.totpEnabled).toBe(true);
    gw.clock.advance(30_000);
    const withCode = await signIn(
      'erin',
      PASSWORD,
      totpCode(first.json.secret, totpStep(gw.clock.now())),
    );
    expect(withCode.status).toBe(200);

    const answer = await reset(id.erin as string, { totp: true });
    expect(answer.status).toBe(200);
    expect(answer.json).toMatchObject({
      user: { totpEnabled: false },
      reset: { password: false, totp: true },
      signInsRevoked: true,
      enrollment: null,
    });
    const refused = await gw.request('POST', '/v1/auth/refresh', {
      body: { refreshToken: withCode.json.refreshToken },
    });
    expect(refused.status).toBe(401);

    // The password still works and no code is asked; TOTP is set up again from scratch.
    const again = await signIn('erin', PASSWORD);
    expect(again.status).toBe(200);
    expect(again.json.user.totpEnabled).toBe(false);
    const second = await gw.request('POST', '/v1/me/totp', { token: again.json.accessToken });
    expect(second.json.secret).not.toBe(first.json.secret);
    gw.clock.advance(30_000);
    const step = totpStep(gw.clock.now());
    await gw.request('POST', '/v1/me/totp/confirm', {
      token: again.json.accessToken,
      body: { code: totpCode(second.json.secret, step) },
    });
    gw.clock.advance(30_000);
    const next = totpStep(gw.clock.now());
    const oldDevice = await signIn('erin', PASSWORD, totpCode(first.json.secret, next));
    expect(oldDevice.status).toBe(401);
    const newDevice = await signIn('erin', PASSWORD, totpCode(second.json.secret, next));
    expect(newDevice.status).toBe(200);
  });

  it('resets both when neither is named, and refuses resetting nothing', async () => {
    const both = await reset(id.bob as string, {});
    expect(both.json.reset).toEqual({ password: true, totp: true });
    expect(both.json.enrollment.token).toMatch(/^wen_/);
    const nothing = await reset(id.bob as string, { password: false, totp: false });
    expect([nothing.status, nothing.json.message]).toEqual([
      400,
      expect.stringMatching(/what to reset/),
    ]);
  });

  it('refuses admins resetting themselves, other roles, and unknown users', async () => {
    const self = await reset(id.root as string, { password: true });
    expect(self.status).toBe(400);
    expect(self.json.message).toMatch(/your own/);
    expect((await signIn('root', PASSWORD)).status).toBe(200);
    for (const name of ['alice', 'audrey'] as const) {
      const password = name === 'alice' ? NEW_PASSWORD : PASSWORD;
      const token = await gw.login(name, password);
      const refused = await reset(id.bob as string, { totp: true }, token);
      expect([refused.status, refused.json.code]).toEqual([403, 'forbidden']);
    }
    expect((await reset('usr_nobody', { totp: true })).status).toBe(404);
  });

  it('audits every reset without the enrollment token', async () => {
    const entries = await gw.gateway.services.store.listAuditEntries({ limit: 1000 });
    const resets = entries.filter((e) => e.action === 'admin.resetUser');
    const done = resets.filter((e) => e.outcome === 'succeeded');
    expect(done.length).toBeGreaterThanOrEqual(5);
    expect(resets.some((e) => e.outcome === 'refused')).toBe(true);
    const aliceEntry = done.find((e) => e.target === `/users/${id.alice}/reset`);
    expect(JSON.parse(aliceEntry?.details ?? '{}')).toMatchObject({
      result: { id: id.alice, reset: { password: true, totp: false }, signInsRevoked: true },
    });
    const logged = JSON.stringify(resets) + gw.logLines.join('\n');
    expect(logged).not.toMatch(/wen_/);
  });
}
