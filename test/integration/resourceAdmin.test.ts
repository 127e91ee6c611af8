/**
 * Resources administration against real targets (issue #14): scan an SSH server's host key and
 * pin it only on a confirmed fingerprint, let the gateway generate the login key, and "test
 * connection" naming the step that fails — against a real sshd and the run's PostgreSQL 15 —
 * with no secret in any answer or log line. Resource writes run on both stores.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprintOfKeyBlob, parsePublicKeyLine } from '../../gateway/proxy/ssh/sshHostKey.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';
import {
  describeWithPostgres,
  freshPostgresDatabase,
  postgresUnavailableReason,
} from '../harness/postgresForTests.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';

const ADMIN_PASSWORD = 'admin-password-12';

function fingerprintOf(line: string): string {
  const parsed = parsePublicKeyLine(line);
  if (!parsed) throw new Error(`not a key line: ${line}`);
  return fingerprintOfKeyBlob(parsed.blob);
}

/** A loopback port nothing listens on (bound, read, released). */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

async function adminOf(gw: TestGateway): Promise<string> {
  await gw.createUser('root', 'admin', ADMIN_PASSWORD);
  return gw.login('root', ADMIN_PASSWORD);
}

describeWithSshd('SSH resources: scan, pin on confirmation, generated key, test connection', () => {
  let sshd: RunningSshd;
  let gw: TestGateway;
  let token: string;
  const post = (path: string, body: unknown = {}) => gw.request('POST', path, { token, body });

  beforeAll(async () => {
    sshd = await startSshd();
    gw = await startTestGateway();
    token = await adminOf(gw);
  });
  afterAll(async () => {
    await gw?.close();
    await sshd?.stop();
  });

  it('scans the host key (type and SHA256 fingerprint) and stores nothing', async () => {
    const scanned = await post('/v1/resources/ssh/host-key-scan', {
      host: sshd.host,
      port: sshd.port,
    });
    expect(scanned.status, scanned.text).toBe(200);
    expect(scanned.json).toEqual({
      host: sshd.host,
      port: sshd.port,
      keyType: 'ssh-ed25519',
      fingerprint: fingerprintOf(sshd.hostKeyLine),
      publicKey: sshd.hostKeyLine,
    });
    const list = await gw.request('GET', '/v1/resources', { token });
    expect(list.json.resources).toEqual([]);

    const closed = await post('/v1/resources/ssh/host-key-scan', {
      host: '127.0.0.1',
      port: await closedPort(),
    });
    expect(closed.status).toBe(400);
    expect(closed.json.message).toMatch(
      /Could not read the SSH host key of 127\.0\.0\.1:\d+: .*ECONNREFUSED/,
    );
    expect(closed.json.issues).toEqual([{ path: 'host', message: expect.any(String) }]);
  });

  it('generates the login key, pins the confirmed host key, and the test connection passes', async () => {
    const fingerprint = fingerprintOf(sshd.hostKeyLine);
    const created = await post('/v1/resources', {
      name: 'web-gen',
      labels: { env: 'test' },
      target: { kind: 'ssh', host: sshd.host, port: sshd.port, username: sshd.user },
      generateKey: true,
      hostKeyFingerprint: fingerprint,
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json.target.hostKey).toBe(sshd.hostKeyLine);
    expect(created.json.secretSet).toEqual({ privateKey: true, password: false });
    expect(created.json.labels).toEqual({ env: 'test' });
    const publicKey: string = created.json.publicKeyToInstall;
    expect(publicKey).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+ witness-gateway:web-gen$/);
    expect(created.text).not.toMatch(/PRIVATE KEY/);

    // Not installed yet: the target refuses the key — the auth step fails.
    const refused = await post(`/v1/resources/${created.json.id}/test`);
    expect(refused.status, refused.text).toBe(200);
    expect(refused.json.ok).toBe(false);
    expect(refused.json.failedStep).toBe('auth');
    expect(
      refused.json.steps.map((s: { step: string; ok: boolean }) => `${s.step}:${s.ok}`),
    ).toEqual(['dns:true', 'tcp:true', 'host_key:true', 'auth:false']);
    expect(refused.json.message).toMatch(/refused the stored credential/);

    sshd.authorizeKey(publicKey);
    const passed = await post(`/v1/resources/${created.json.id}/test`);
    expect(passed.json.ok, passed.text).toBe(true);
    expect(passed.json.failedStep).toBeNull();
    expect(passed.json.steps.map((s: { step: string }) => s.step)).toEqual([
      'dns',
      'tcp',
      'host_key',
      'auth',
    ]);
    expect(passed.json.totalMs).toBeGreaterThan(0);
    console.log(
      `[resources] SSH test connection ok in ${passed.json.totalMs} ms:`,
      passed.json.steps.map((s: { step: string; ms: number }) => `${s.step} ${s.ms} ms`).join(', '),
    );

    // Re-generating on edit replaces the key: the new one is not installed, auth fails again.
    const edited = await gw.request('PATCH', `/v1/resources/${created.json.id}`, {
      token,
      body: { generateKey: true },
    });
    expect(edited.status, edited.text).toBe(200);
    expect(edited.json.publicKeyToInstall).not.toBe(publicKey);
    expect((await post(`/v1/resources/${created.json.id}/test`)).json.failedStep).toBe('auth');
    // An edit that leaves the credential alone answers no key to install.
    const renamed = await gw.request('PATCH', `/v1/resources/${created.json.id}`, {
      token,
      body: { description: 'generated' },
    });
    expect(renamed.json.publicKeyToInstall).toBeNull();
  });

  it('refuses to pin a fingerprint the target does not present', async () => {
    const other = fingerprintOf(
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
    );
    const refused = await post('/v1/resources', {
      name: 'web-wrong-pin',
      target: { kind: 'ssh', host: sshd.host, port: sshd.port, username: sshd.user },
      secret: { privateKey: sshd.clientPrivateKey },
      hostKeyFingerprint: other,
    });
    expect(refused.status).toBe(409);
    expect(refused.json.message).toContain(
      `presents the host key ${fingerprintOf(sshd.hostKeyLine)}`,
    );
    expect(refused.json.issues).toEqual([
      { path: 'hostKeyFingerprint', message: expect.stringContaining('the target presents') },
    ]);
    const list = await gw.request('GET', '/v1/resources', { token });
    expect(list.json.resources.map((r: { name: string }) => r.name)).not.toContain('web-wrong-pin');
  });

  it('refuses an uploaded private key it cannot read, at the field', async () => {
    const refused = await post('/v1/resources', {
      name: 'web-bad-key',
      target: { kind: 'ssh', host: sshd.host, port: sshd.port, username: sshd.user },
      secret: {
        privateKey:
          '-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n-----END OPENSSH PRIVATE KEY-----\n',
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.json.issues[0].path).toBe('secret.privateKey');
  });

  it('names the failing step: dns, tcp, host_key (with both fingerprints)', async () => {
    const make = async (name: string, target: Record<string, unknown>) => {
      const created = await post('/v1/resources', {
        name,
        target: { kind: 'ssh', username: sshd.user, hostKey: sshd.hostKeyLine, ...target },
        secret: { privateKey: sshd.clientPrivateKey },
      });
      expect(created.status, created.text).toBe(201);
      // An uploaded key's public half is answered too, to check it is the one installed.
      expect(created.json.publicKeyToInstall).toMatch(/^ssh-ed25519 /);
      return (await post(`/v1/resources/${created.json.id}/test`)).json;
    };

    const ok = await make('web-ok', { host: sshd.host, port: sshd.port });
    expect(ok.ok, ok.message).toBe(true);

    const dns = await make('web-dns', { host: 'no-such-host.invalid', port: sshd.port });
    expect([dns.ok, dns.failedStep]).toEqual([false, 'dns']);
    expect(dns.message).toMatch(/no-such-host\.invalid does not resolve/);

    const tcp = await make('web-tcp', { host: '127.0.0.1', port: await closedPort() });
    expect([tcp.failedStep, tcp.steps.map((s: { step: string }) => s.step)]).toEqual([
      'tcp',
      ['dns', 'tcp'],
    ]);
    expect(tcp.message).toMatch(/ECONNREFUSED/);

    const wrongPin =
      'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl';
    const hostKey = await make('web-pin', { host: sshd.host, port: sshd.port, hostKey: wrongPin });
    expect(hostKey.failedStep).toBe('host_key');
    expect(hostKey.hostKey).toEqual({
      presented: fingerprintOf(sshd.hostKeyLine),
      pinned: fingerprintOf(wrongPin),
    });
    expect(hostKey.message).toMatch(/host key of web-pin changed/);
  });

  it('never puts a secret in an answer or a log line', () => {
    const keyBody = sshd.clientPrivateKey.split('\n')[1] ?? 'unreachable';
    for (const text of [...gw.responses, ...gw.logLines]) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(keyBody);
    }
  });
});

describeWithPostgres('PostgreSQL resources: test connection names the failing step', () => {
  let gw: TestGateway;
  let token: string;
  let target: URL;
  const post = (path: string, body: unknown = {}) => gw.request('POST', path, { token, body });

  beforeAll(async () => {
    if (postgresUnavailableReason() !== undefined) return;
    target = new URL(await freshPostgresDatabase());
    gw = await startTestGateway();
    token = await adminOf(gw);
  });
  afterAll(async () => {
    await gw?.close();
  });

  const make = async (
    name: string,
    overrides: { tlsMode?: string; password?: string; port?: number } = {},
  ) => {
    const created = await post('/v1/resources', {
      name,
      labels: { tier: 'db' },
      target: {
        kind: 'postgres',
        host: target.hostname,
        port: overrides.port ?? Number(target.port),
        database: target.pathname.slice(1),
        username: decodeURIComponent(target.username),
        tlsMode: overrides.tlsMode ?? 'disable',
      },
      secret: { password: overrides.password ?? decodeURIComponent(target.password) },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json.publicKeyToInstall).toBeNull();
    return (await post(`/v1/resources/${created.json.id}/test`)).json;
  };

  it('passes with the stored password', async () => {
    const ok = await make('orders-ok');
    expect(ok.ok, ok.message).toBe(true);
    expect(ok.steps.map((s: { step: string }) => s.step)).toEqual(['dns', 'tcp', 'auth']);
    console.log(
      `[resources] PostgreSQL test connection ok in ${ok.totalMs} ms:`,
      ok.steps.map((s: { step: string; ms: number }) => `${s.step} ${s.ms} ms`).join(', '),
    );
    // prefer on a server without TLS: logged in, and the step says it was not encrypted.
    const prefer = await make('orders-prefer', { tlsMode: 'prefer' });
    expect(prefer.ok).toBe(true);
    expect(prefer.steps.find((s: { step: string }) => s.step === 'tls')?.detail).toMatch(
      /not encrypted/,
    );
  });

  it('says auth for a wrong password, tls when TLS is required but absent, tcp for a closed port', async () => {
    const auth = await make('orders-auth', { password: 'wrong-password' });
    expect([auth.ok, auth.failedStep]).toEqual([false, 'auth']);
    expect(auth.message).toMatch(/password authentication failed/);

    const tls = await make('orders-tls', { tlsMode: 'require' });
    expect(tls.failedStep).toBe('tls');
    expect(tls.steps.map((s: { step: string }) => s.step)).toEqual(['dns', 'tcp', 'tls']);
    expect(tls.message).toMatch(/does not accept TLS/);

    const tcp = await make('orders-tcp', { port: await closedPort() });
    expect(tcp.failedStep).toBe('tcp');
  });

  it('never puts the password in an answer or a log line', () => {
    const password = decodeURIComponent(target.password);
    for (const text of [...gw.responses, ...gw.logLines]) expect(text).not.toContain(password);
  });
});

describeWithPostgres('resource writes with keys, on the PostgreSQL store', () => {
  let gw: TestGateway;
  let token: string;

  beforeAll(async () => {
    if (postgresUnavailableReason() !== undefined) return;
    gw = await startTestGateway({ databaseUrl: await freshPostgresDatabase() });
    token = await adminOf(gw);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('stores a generated key sealed, answers its public half once, and keeps labels', async () => {
    const created = await gw.request('POST', '/v1/resources', {
      token,
      body: {
        name: 'web-pg',
        labels: { env: 'prod' },
        target: { kind: 'ssh', host: '127.0.0.1', port: 22, username: 'ops' },
        generateKey: true,
      },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json.publicKeyToInstall).toMatch(/^ssh-ed25519 /);
    const record = await gw.gateway.services.store.getResource(created.json.id);
    expect(record?.secretFields).toEqual(['privateKey']);
    expect(record?.secretCiphertext).not.toContain('PRIVATE KEY');
    const credential = record && (await gw.gateway.services.resources.credentialFor(record));
    expect(credential?.privateKey).toMatch(/BEGIN OPENSSH PRIVATE KEY/);
    const read = await gw.request('GET', `/v1/resources/${created.json.id}`, { token });
    expect(read.json.labels).toEqual({ env: 'prod' });
    expect(read.json).not.toHaveProperty('publicKeyToInstall');
    // generateKey is for SSH resources only, said at the field.
    const refused = await gw.request('POST', '/v1/resources', {
      token,
      body: {
        name: 'db-pg',
        target: { kind: 'postgres', host: '127.0.0.1', database: 'x', username: 'x' },
        generateKey: true,
      },
    });
    expect([refused.status, refused.json.issues?.[0]?.path]).toEqual([400, 'generateKey']);
  });
});

describe('POST /v1/policies/try', () => {
  let gw: TestGateway;
  let token: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    token = await adminOf(gw);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('answers the verdict and the masked sample with the schema grants use', async () => {
    const policy = {
      guardrails: [{ kind: 'statement', name: 'no-drop', classes: ['drop'] }],
      masking: [{ name: 'emails', match: { kind: 'preset', preset: 'email' } }],
    };
    const refused = await gw.request('POST', '/v1/policies/try', {
      token,
      body: { policy, sampleQuery: 'drop table users' },
    });
    expect(refused.status, refused.text).toBe(200);
    expect(refused.json.verdict).toBe('refused');
    expect(refused.json.refusal).toMatchObject({ rule: 'no-drop', kind: 'guardrail' });

    const allowed = await gw.request('POST', '/v1/policies/try', {
      token,
      body: {
        policy,
        sampleQuery: 'select contact from users',
        sampleResult: { columns: [{ name: 'contact' }], rows: [['mail ann@example.com']] },
      },
    });
    expect(allowed.json).toMatchObject({
      verdict: 'allowed',
      result: { rows: [['mail ****']] },
    });

    // The same validation as a grant's policy: the error names the field.
    const invalid = await gw.request('POST', '/v1/policies/try', {
      token,
      body: {
        policy: { masking: [{ name: 'x', match: { kind: 'column', pattern: '(' } }] },
        sampleQuery: 'select 1',
      },
    });
    expect(invalid.status).toBe(400);
    expect(invalid.json.issues[0].path).toBe('policy.masking.0.match.pattern');
  });
});
