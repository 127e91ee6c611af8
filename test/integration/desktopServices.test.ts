/**
 * The desktop's main-process services (issue #5) against a real in-process gateway over HTTPS
 * on loopback, driven through the same dispatcher the Electron and web-host transports use:
 * pinning on first use and refusing a changed CA, enroll, login with and without TOTP, refresh
 * on expiry, logout revoking at the gateway, resuming after a restart, grant expiry, local
 * recording verification against the pinned key — and that no result or event ever carries a
 * token.
 */
import { promises as fs, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totpCode, totpStep } from '../../gateway/auth/totp.ts';
import { newId } from '../../gateway/newId.ts';
import { formatEnrollLink } from '../../gateway-client/enrollLink.ts';
import type { DesktopApp } from '../../main/services/desktopApp.ts';
import { DESKTOP_PROFILE_FILE } from '../../main/services/desktopProfile.ts';
import { generateRecordingKey } from '../../shared/recording/fixtures/recordingFixture.ts';
import { eventKinds } from '../../shared/recording/recordingFormat.ts';
import { desktopRejection, openDesktopForTest } from '../harness/desktopForTests.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';
import { testEncryptor } from '../harness/testEncryptor.ts';

const ADMIN_PASSWORD = 'admin-password-1';
const ALICE_PASSWORD = 'alice-password-1';
const CAROL_PASSWORD = 'carol-password-1';
const TARGET_PASSWORD = 'target-password-never-leaves-9a7b';

describe('desktop services against a real gateway', () => {
  let gw: TestGateway;
  let aliceId: string;
  let webId: string;
  const encryptor = testEncryptor();
  const dirs: string[] = [];
  const apps: DesktopApp[] = [];
  /** Every outcome and event that crossed to a "renderer", serialized. */
  const wire: string[] = [];
  /** Every token the gateway issued that the test got to see. */
  const tokensSeen = new Set<string>();

  async function openApp(dir = mkdtempSync(path.join(os.tmpdir(), 'witness-desktop-'))) {
    if (!dirs.includes(dir)) dirs.push(dir);
    const harness = await openDesktopForTest({ dir, encryptor, wire });
    apps.push(harness.app);
    const storedSession = harness.storedSession;
    // Every refresh token the test reads back joins the ones the wire must never carry.
    harness.storedSession = async () => {
      const session = await storedSession();
      if (session) tokensSeen.add(session.refreshToken);
      return session;
    };
    return harness;
  }

  const rejection = desktopRejection;

  const caFingerprint = () => gw.gateway.services.keys.caFingerprint;

  async function pinnedApp() {
    const h = await openApp();
    await h.call('gateway.pin', { url: gw.gateway.apiUrl, caFingerprint: caFingerprint() });
    return h;
  }

  beforeAll(async () => {
    gw = await startTestGateway();
    await gw.createUser('root', 'admin', ADMIN_PASSWORD);
    aliceId = await gw.createUser('alice', 'engineer', ALICE_PASSWORD);
    const admin = await gw.login('root', ADMIN_PASSWORD);
    tokensSeen.add(admin);
    const web = await gw.request('POST', '/v1/resources', {
      token: admin,
      body: {
        name: 'web-1',
        labels: { env: 'prod' },
        target: { kind: 'ssh', host: '127.0.0.1', port: 22, username: 'deploy' },
        secret: { password: TARGET_PASSWORD },
      },
    });
    webId = web.json.id;
    const grant = await gw.request('POST', '/v1/grants', {
      token: admin,
      body: {
        subject: { kind: 'user', userId: aliceId },
        target: { kind: 'resource', resourceId: webId },
        validUntil: new Date(gw.clock.now() + 8 * 3_600_000).toISOString(),
      },
    });
    expect(grant.status, grant.text).toBe(201);
  });

  afterAll(async () => {
    for (const app of apps) await app.dispose();
    await gw?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('starts with nothing pinned and says where secrets go', async () => {
    const h = await openApp();
    const state = await h.call('app.getState', {});
    expect(state).toMatchObject({ gateway: null, account: null });
    expect(state.localGateway.state).toBe('not-used');
    expect(state.secretStore).toEqual({
      kind: 'encrypted-file',
      durable: true,
      notice: expect.stringMatching(/^The OS keychain is unavailable \(no Secret Service/),
    });
    expect(await rejection(h.call('account.login', { username: 'alice', password: 'x' }))).toEqual({
      code: 'no_gateway',
      message: expect.stringMatching(/No gateway is set up/),
    });
  });

  it('inspects without trusting, pins only the fingerprint the person saw', async () => {
    const h = await openApp();
    const inspected = await h.call('gateway.inspect', { url: gw.gateway.apiUrl });
    const keys = gw.gateway.services.keys;
    expect(inspected).toEqual({
      url: gw.gateway.apiUrl.replace(/\/$/, ''),
      caFingerprint: keys.caFingerprint,
      recordingKeyId: keys.recordingKey.keyId,
      recordingKeyFingerprint: expect.stringMatching(/^SHA256:[A-Za-z0-9+/]{43}$/),
    });

    // A different fingerprint than the one the gateway presents: refused, nothing pinned.
    const wrong = caFingerprint().replace(/^../, caFingerprint().startsWith('AA') ? 'BB' : 'AA');
    const refused = await rejection(
      h.call('gateway.pin', { url: gw.gateway.apiUrl, caFingerprint: wrong }),
    );
    expect(refused.code).toBe('gateway_certificate_mismatch');
    expect(refused.message).toContain(caFingerprint());
    expect(refused.message).toMatch(/nothing was pinned/);
    expect((await h.call('app.getState', {})).gateway).toBeNull();

    // Lower case without colons is the same fingerprint.
    const loose = caFingerprint().replaceAll(':', '').toLowerCase();
    const state = await h.call('gateway.pin', { url: gw.gateway.apiUrl, caFingerprint: loose });
    expect(state.gateway).toEqual({
      url: inspected.url,
      caFingerprint: keys.caFingerprint,
      recordingKeyId: keys.recordingKey.keyId,
      recordingKeyFingerprint: inspected.recordingKeyFingerprint,
      isLocal: false,
    });
    const profile = JSON.parse(await fs.readFile(path.join(h.dir, DESKTOP_PROFILE_FILE), 'utf8'));
    expect(profile.gateway.caPem).toBe(keys.caPem);
    expect(profile.gateway.recordingPublicKeyPem).toBe(keys.recordingKey.publicKeyPem);
    expect(JSON.stringify(profile)).not.toMatch(/w(at|rt)_/);
  });

  it('signs in, says why when it cannot, and lists resources with grant expiry', async () => {
    const h = await pinnedApp();
    const wrong = await rejection(
      h.call('account.login', { username: 'alice', password: 'not-her-password' }),
    );
    expect(wrong).toEqual({ code: 'wrong_credentials', message: 'Wrong username or password.' });
    expect(await rejection(h.call('resources.list', {}))).toMatchObject({ code: 'not_signed_in' });

    const state = await h.call('account.login', { username: 'alice', password: ALICE_PASSWORD });
    expect(state.account).toEqual({ username: 'alice', role: 'engineer' });
    expect(h.events.at(-1)).toMatchObject({
      name: 'app.stateChanged',
      payload: { account: { username: 'alice' } },
    });
    const { resources } = await h.call('resources.list', {});
    expect(resources).toEqual([
      {
        id: webId,
        name: 'web-1',
        description: '',
        kind: 'ssh',
        labels: { env: 'prod' },
        access: 'granted',
        grantExpiresAt: new Date(
          (await gw.gateway.services.store.listGrants())[0]!.validUntil!,
        ).toISOString(),
      },
    ]);
    expect((await h.storedSession())?.username).toBe('alice');
  });

  it('asks for a TOTP code when the account has one, and takes it', async () => {
    await gw.createUser('carol', 'engineer', CAROL_PASSWORD);
    const token = await gw.login('carol', CAROL_PASSWORD);
    tokensSeen.add(token);
    const enrollment = await gw.request('POST', '/v1/me/totp', { token });
    const confirm = await gw.request('POST', '/v1/me/totp/confirm', {
      token,
      body: { code: totpCode(enrollment.json.secret, totpStep(gw.clock.now())) },
    });
    expect(confirm.json.totpEnabled).toBe(true);
    gw.clock.advance(30_000);

    const h = await pinnedApp();
    const needsCode = await rejection(
      h.call('account.login', { username: 'carol', password: CAROL_PASSWORD }),
    );
    expect(needsCode).toEqual({
      code: 'totp_required',
      message: 'Enter the six-digit code from your authenticator app.',
    });
    const badCode = await rejection(
      h.call('account.login', { username: 'carol', password: CAROL_PASSWORD, totpCode: '000000' }),
    );
    expect(badCode.code).toBe('wrong_credentials');
    expect(badCode.message).toMatch(/authenticator code is wrong/);
    const state = await h.call('account.login', {
      username: 'carol',
      password: CAROL_PASSWORD,
      totpCode: totpCode(enrollment.json.secret, totpStep(gw.clock.now())),
    });
    expect(state.account).toEqual({ username: 'carol', role: 'engineer' });
  });

  it('enrolls from a link: pins the fingerprint it carries, refuses one that differs', async () => {
    const store = gw.gateway.services.store;
    const dave = await store.createUser({
      id: newId('usr'),
      username: 'dave',
      role: 'engineer',
      groups: [],
      passwordHash: null,
      createdAt: gw.clock.now(),
    });
    const { token } = await gw.gateway.services.auth.createEnrollment(dave.id);
    tokensSeen.add(token);
    const url = gw.gateway.apiUrl;

    const h = await openApp();
    const forged = formatEnrollLink({ gateway: url, token, fingerprint: 'AB'.repeat(32) });
    const refused = await rejection(
      h.call('account.enroll', { link: forged, password: 'dave-password-1' }),
    );
    expect(refused.code).toBe('gateway_certificate_mismatch');
    expect((await h.call('app.getState', {})).gateway).toBeNull();
    expect(
      await rejection(h.call('account.enroll', { link: 'https://not-a-link', password: 'x' })),
    ).toMatchObject({ code: 'invalid_request' });

    const link = formatEnrollLink({ gateway: url, token, fingerprint: caFingerprint() });
    const short = await rejection(h.call('account.enroll', { link, password: 'short' }));
    expect(short).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/10/) });
    expect((await h.call('app.getState', {})).gateway).toBeNull();

    const state = await h.call('account.enroll', { link, password: 'dave-password-1' });
    expect(state.gateway?.caFingerprint).toBe(caFingerprint());
    expect(state.account).toEqual({ username: 'dave', role: 'engineer' });
    // The link is spent.
    const again = await rejection(h.call('account.enroll', { link, password: 'dave-password-2' }));
    expect(again).toMatchObject({
      code: 'wrong_credentials',
      message: expect.stringMatching(/already used/),
    });
  });

  it('refreshes an expired access token, and signs out when the refresh token is gone too', async () => {
    const h = await pinnedApp();
    await h.call('account.login', { username: 'alice', password: ALICE_PASSWORD });
    const first = await h.storedSession();

    gw.clock.advance(16 * 60 * 1000); // past the 15-minute access token
    expect((await h.call('resources.list', {})).resources).toHaveLength(1);
    const second = await h.storedSession();
    expect(second?.refreshToken).toBeDefined();
    expect(second?.refreshToken).not.toBe(first?.refreshToken);

    // Revoke the family behind the desktop's back (an admin disabling sessions would): the
    // next refresh fails, and the person is signed out with a broadcast.
    const replay = await gw.request('POST', '/v1/auth/refresh', {
      body: { refreshToken: first?.refreshToken },
    });
    expect(replay.status).toBe(401);
    gw.clock.advance(16 * 60 * 1000);
    const before = h.events.length;
    expect(await rejection(h.call('resources.list', {}))).toEqual({
      code: 'session_expired',
      message: expect.stringMatching(/sign in again/),
    });
    const broadcasts = h.events.slice(before).filter((e) => e.name === 'app.stateChanged');
    expect(broadcasts.at(-1)?.payload).toMatchObject({ account: null });
    expect((await h.call('app.getState', {})).account).toBeNull();
    expect(await h.storedSession()).toBeNull();
  });

  it('resumes the stored session after a restart, and logs out by revoking it', async () => {
    const first = await pinnedApp();
    await first.call('account.login', { username: 'alice', password: ALICE_PASSWORD });
    await first.app.dispose();

    const restarted = await openApp(first.dir);
    expect((await restarted.call('app.getState', {})).account).toEqual({
      username: 'alice',
      role: 'engineer',
    });
    expect((await restarted.call('resources.list', {})).resources).toHaveLength(1);
    const stored = await restarted.storedSession();
    expect(stored).not.toBeNull();

    const state = await restarted.call('account.logout', {});
    expect(state.account).toBeNull();
    expect(await restarted.storedSession()).toBeNull();
    const revoked = await gw.request('POST', '/v1/auth/refresh', {
      body: { refreshToken: stored?.refreshToken },
    });
    expect(revoked.status).toBe(401);

    // And after a restart there is nothing to resume.
    await restarted.app.dispose();
    const again = await openApp(first.dir);
    expect((await again.call('app.getState', {})).account).toBeNull();
    expect((await again.call('app.getState', {})).gateway?.url).toBeDefined();
    // The sign-in form starts with the last username (issue #15); no password is kept anywhere
    // but the keychain's session, which logout removed.
    expect((await again.call('app.getState', {})).lastUsername).toBe('alice');
    expect(readFileSync(path.join(first.dir, DESKTOP_PROFILE_FILE), 'utf8')).not.toContain(
      ALICE_PASSWORD,
    );
  });

  it('verifies a recording locally against the pinned key, and names the tampered frame', async () => {
    const sessionId = newId('ses');
    const recorder = await gw.gateway.services.recorder.start({
      sessionId,
      userId: aliceId,
      resourceId: webId,
      protocol: 'ssh',
    });
    await recorder.appendJson(0, eventKinds.meta, { type: 'session-start', user: 'alice' });
    await recorder.append(1, eventKinds.input, Buffer.from('echo $((6*7))\r'));
    await recorder.append(1, eventKinds.output, Buffer.from('42\r\n'));
    await recorder.append(1, eventKinds.output, Buffer.from('frame-four-payload\r\n'));
    await recorder.append(1, eventKinds.output, Buffer.from('done\r\n'));
    await recorder.close();

    const h = await pinnedApp();
    await h.call('account.login', { username: 'alice', password: ALICE_PASSWORD });
    const { recordings } = await h.call('recordings.list', {});
    expect(recordings.find((r) => r.sessionId === sessionId)).toMatchObject({
      username: 'alice',
      resourceName: 'web-1',
      protocol: 'ssh',
      status: 'complete',
      frames: 5,
    });
    const pinnedFingerprint = (await h.call('gateway.inspect', { url: gw.gateway.apiUrl }))
      .recordingKeyFingerprint;
    const verdict = await h.call('recordings.verify', { sessionId });
    expect(verdict).toEqual({
      sessionId,
      status: 'verified',
      verifiedThroughSeq: 5,
      firstBadSeq: null,
      message: expect.any(String),
      recordingKeyFingerprint: pinnedFingerprint,
    });

    // Flip one byte inside frame 4's payload, on the gateway's disk.
    const segment = path.join(gw.dataDir, 'recordings', sessionId, '000000.seg');
    const bytes = await fs.readFile(segment);
    const at = bytes.indexOf('frame-four-payload');
    expect(at).toBeGreaterThan(0);
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x20, at);
    await fs.writeFile(segment, bytes);
    const tampered = await h.call('recordings.verify', { sessionId });
    expect(tampered).toMatchObject({ sessionId, status: 'failed', firstBadSeq: 4 });
    expect(tampered.verifiedThroughSeq).toBeLessThan(4);

    // The key that counts is the pinned one: a desktop that pinned another key rejects even
    // an intact recording the gateway vouches for now.
    const other = await openApp();
    await other.call('gateway.pin', { url: gw.gateway.apiUrl, caFingerprint: caFingerprint() });
    await other.app.dispose();
    const profileFile = path.join(other.dir, DESKTOP_PROFILE_FILE);
    const profile = JSON.parse(await fs.readFile(profileFile, 'utf8'));
    profile.gateway.recordingPublicKeyPem = generateRecordingKey().publicKeyPem;
    await fs.writeFile(profileFile, JSON.stringify(profile));
    const reopened = await openApp(other.dir);
    await reopened.call('account.login', { username: 'alice', password: ALICE_PASSWORD });
    const clean = newId('ses');
    const second = await gw.gateway.services.recorder.start({
      sessionId: clean,
      userId: aliceId,
      resourceId: webId,
      protocol: 'ssh',
    });
    await second.append(1, eventKinds.output, Buffer.from('intact\r\n'));
    await second.close();
    expect(await h.call('recordings.verify', { sessionId: clean })).toMatchObject({
      status: 'verified',
    });
    const foreign = await reopened.call('recordings.verify', { sessionId: clean });
    expect(foreign.status).toBe('failed');
  });

  it('refuses a gateway whose CA changed since it was pinned', async () => {
    const other = await startTestGateway();
    try {
      const h = await pinnedApp();
      await h.app.dispose();
      // The pinned address now answers with another CA (a re-installed gateway, or a
      // man in the middle): point the pin's URL at the second gateway.
      const profileFile = path.join(h.dir, DESKTOP_PROFILE_FILE);
      const profile = JSON.parse(await fs.readFile(profileFile, 'utf8'));
      profile.gateway.url = other.gateway.apiUrl.replace(/\/$/, '');
      await fs.writeFile(profileFile, JSON.stringify(profile));

      const reopened = await openApp(h.dir);
      await other.createUser('alice', 'engineer', ALICE_PASSWORD);
      const refused = await rejection(
        reopened.call('account.login', { username: 'alice', password: ALICE_PASSWORD }),
      );
      expect(refused.code).toBe('gateway_certificate_mismatch');
      expect(refused.message).toContain(other.gateway.services.keys.caFingerprint);
      expect(refused.message).toContain(caFingerprint());
      expect(refused.message).toMatch(/Nothing was sent to it/);
      expect(other.logLines.some((line) => line.includes('/v1/auth/login'))).toBe(false);
    } finally {
      await other.close();
    }
  });

  it('pins the gateway SSH host key at first use and refuses a changed one before any ticket', async () => {
    const keys = gw.gateway.services.keys;
    // This in-process gateway runs no SSH listener; give it a host key to announce.
    const firstKey = `ssh-ed25519 ${Buffer.alloc(51, 1).toString('base64')} witness-gateway`;
    const otherKey = `ssh-ed25519 ${Buffer.alloc(51, 2).toString('base64')} witness-gateway`;
    keys.sshHostKey = firstKey;
    try {
      const h = await pinnedApp();
      await h.call('account.login', { username: 'alice', password: ALICE_PASSWORD });
      const size = { cols: 80, rows: 24 };
      // Pinned now; the session itself cannot start without a listener, and says so.
      const noListener = await rejection(h.call('terminals.open', { resourceId: webId, size }));
      expect(noListener).toMatchObject({
        code: 'gateway_error',
        message: expect.stringMatching(/no SSH listener/),
      });
      const profile = JSON.parse(await fs.readFile(path.join(h.dir, DESKTOP_PROFILE_FILE), 'utf8'));
      expect(profile.gateway.sshHostKey).toBe(firstKey);

      const sessionsBefore = (await gw.gateway.services.store.listSessions({ limit: 500 })).length;
      keys.sshHostKey = otherKey;
      const changed = await rejection(h.call('terminals.open', { resourceId: webId, size }));
      expect(changed.code).toBe('gateway_certificate_mismatch');
      expect(changed.message).toMatch(/different SSH host key/);
      // Refused before POST /v1/sessions: no ticket was issued.
      expect((await gw.gateway.services.store.listSessions({ limit: 500 })).length).toBe(
        sessionsBefore,
      );
      expect(
        await rejection(h.call('terminals.write', { terminalId: 'term_nope', data: 'x' })),
      ).toMatchObject({ code: 'terminal_not_found' });
    } finally {
      keys.sshHostKey = null;
    }
  });

  it('says when to try again after too many failures, and when the gateway is down', async () => {
    await gw.createUser('erin', 'engineer', 'erin-password-1');
    const h = await pinnedApp();
    const attempt = () =>
      rejection(h.call('account.login', { username: 'erin', password: 'wrong-password' }));
    for (let i = 0; i < 4; i++) expect((await attempt()).code).toBe('wrong_credentials');
    const locked = await attempt();
    expect(locked.code).toBe('rate_limited');
    expect(locked.message).toMatch(/locked until \d{4}-\d\d-\d\dT[\d:.]+Z/);

    const gone = await startTestGateway();
    const g = await openApp();
    await g.call('gateway.pin', {
      url: gone.gateway.apiUrl,
      caFingerprint: gone.gateway.services.keys.caFingerprint,
    });
    await gone.close();
    const down = await rejection(
      g.call('account.login', { username: 'alice', password: ALICE_PASSWORD }),
    );
    expect(down.code).toBe('gateway_unreachable');
    expect(down.message).toMatch(/ECONNREFUSED — is it running\?/);
  });

  it('signs out when the refresh token itself has expired (runs late: it moves the clock a week)', async () => {
    const h = await pinnedApp();
    await h.call('account.login', { username: 'alice', password: ALICE_PASSWORD });
    gw.clock.advance(7 * 24 * 3_600_000 + 60_000);
    expect(await rejection(h.call('recordings.list', {}))).toEqual({
      code: 'session_expired',
      message: 'Your session with the gateway ended — sign in again.',
    });
    expect(h.events.at(-1)).toMatchObject({ name: 'app.stateChanged', payload: { account: null } });
    expect(await h.storedSession()).toBeNull();
  });

  it('never lets a token, a ticket, a password or a target secret reach the renderer', () => {
    expect(wire.length).toBeGreaterThan(30);
    expect(tokensSeen.size).toBeGreaterThan(3);
    const everything = wire.join('\n');
    for (const token of tokensSeen) expect(everything).not.toContain(token);
    // Every kind of bearer secret the gateway issues has a prefix; none may appear.
    expect(everything).not.toMatch(/\bw(at|rt|tk|en)_[A-Za-z0-9_-]{20,}/);
    for (const secret of [ALICE_PASSWORD, CAROL_PASSWORD, TARGET_PASSWORD, 'PRIVATE KEY']) {
      expect(everything).not.toContain(secret);
    }
  });
});
