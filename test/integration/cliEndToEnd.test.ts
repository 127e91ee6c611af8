/**
 * A new user's first hour, through the real binaries: `witness-gateway serve`, `admin
 * create-user`, then `witness enroll/login/whoami/resources/grants/connect` — and the errors
 * a person meets on the way (wrong password, unknown resource, no grant, expired sign-in,
 * a gateway whose CA changed).
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionTokens } from '../../gateway-client/gatewayClient.ts';
import {
  GATEWAY_BIN,
  type GatewayProcess,
  loginWithCli,
  runNode,
  spawnGateway,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';

const mode = (file: string) => statSync(file).mode & 0o777;

describe('gateway and CLI as a new user meets them', () => {
  let work: string;
  let dataDir: string;
  let gateway: GatewayProcess;
  const cliEnv = (home: string) => ({ WITNESS_HOME: home, WITNESS_CREDENTIAL_STORE: 'file' });
  const witness = (home: string, args: string[], stdin?: string) =>
    runNode(WITNESS_BIN, args, { env: cliEnv(home), ...(stdin !== undefined && { stdin }) });
  const admin = (args: string[], stdin?: string) =>
    runNode(
      GATEWAY_BIN,
      ['admin', ...args, '--data', dataDir],
      stdin === undefined ? {} : { stdin },
    );

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-e2e-'));
    dataDir = path.join(work, 'gw');
    // Short token lifetimes so the test can watch a sign-in expire.
    gateway = await spawnGateway([
      '--data',
      dataDir,
      '--api',
      '127.0.0.1:0',
      '--access-token-ttl',
      '2s',
      '--refresh-token-ttl',
      '12s',
    ]);
  });
  afterAll(async () => {
    await gateway?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('starts, prints a ready line and the CA fingerprint, and keeps its keys private', () => {
    expect(gateway.ready).toMatchObject({ ready: true, store: 'sqlite' });
    expect(gateway.ready.api).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(gateway.stderr()).toContain(`CA fingerprint: ${gateway.ready.caFingerprint}`);
    expect(mode(dataDir)).toBe(0o700);
    for (const file of [
      'tls/ca.key',
      'tls/ca.crt',
      'tls/server.key',
      'tls/server.crt',
      'recording-ed25519.pem',
      'master.key',
      'witness.sqlite',
    ]) {
      expect(mode(path.join(dataDir, file)), file).toBe(0o600);
    }
  });

  it('bootstraps an admin by enrollment link and an engineer by password', async () => {
    const created = await admin(['create-user', '--username', 'root', '--role', 'admin']);
    expect(created.code, created.stderr).toBe(0);
    const link = created.stdout.trim();
    expect(link).toMatch(
      /^witness:\/\/enroll\?gateway=https%3A%2F%2F127\.0\.0\.1%3A\d+&token=wen_/,
    );

    const home = path.join(work, 'root-home');
    const enrolled = await witness(home, ['enroll', link, '--password-stdin'], 'root-password-1\n');
    expect(enrolled.code, enrolled.stderr).toBe(0);
    expect(enrolled.stdout + enrolled.stderr).toMatch(/root \(admin\)/);
    const reused = await witness(
      path.join(work, 'other-home'),
      ['enroll', link, '--password-stdin'],
      'another-password-1\n',
    );
    expect(reused.code).toBe(1);
    expect(reused.stderr).toMatch(/already used|expired/);

    const engineer = await admin(
      ['create-user', '--username', 'alice', '--group', 'ops', '--password-stdin'],
      'alice-password-1\n',
    );
    expect(engineer.code, engineer.stderr).toBe(0);
    const duplicate = await admin(
      ['create-user', '--username', 'alice', '--password-stdin'],
      'alice-password-1\n',
    );
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/already exists/);
  });

  it('signs in, lists resources and connects, with helpful errors', async () => {
    const home = path.join(work, 'alice-home');
    const url = gateway.ready.api;
    const signInAsAlice = (password = 'alice-password-1') =>
      loginWithCli(gateway.ready, 'alice', password, cliEnv(home));
    const wrong = await signInAsAlice('not-her-password');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('Wrong username or password.');

    const login = await signInAsAlice();
    expect(login.code, login.stderr).toBe(0);
    expect(login.stdout + login.stderr).toMatch(/alice \(engineer\)/);
    expect(login.stdout + login.stderr).toMatch(/credentials\.json/);
    const stored = readFileSync(path.join(home, 'credentials.json'), 'utf8');
    expect(stored).toMatch(/wrt_/);
    expect(mode(path.join(home, 'credentials.json'))).toBe(0o600);
    expect(readFileSync(path.join(home, 'profile.json'), 'utf8')).not.toMatch(/wrt_|wat_/);

    const whoami = await witness(home, ['whoami']);
    expect(whoami.stdout).toMatch(/alice/);

    // The admin creates a resource and a grant through the API with their stored sign-in.
    const empty = await witness(home, ['resources', '--json']);
    expect(JSON.parse(empty.stdout).resources).toEqual([]);
    const noResource = await witness(home, ['connect', 'web-1', '--json']);
    expect(noResource.code).toBe(1);
    expect(noResource.stderr).toMatch(/No resource named 'web-1'.*witness resources/);

    const { GatewayClient } = await import('../../gateway-client/gatewayClient.ts');
    let tokens: SessionTokens | null = null;
    const client = new GatewayClient(
      { baseUrl: url, caPem: readFileSync(path.join(dataDir, 'tls', 'ca.crt'), 'utf8') },
      {
        tokens: () => tokens,
        tokensRefreshed: (pair) => {
          tokens = pair;
        },
      },
    );
    tokens = await client.login({ username: 'root', password: 'root-password-1' });
    const resource = await client.createResource({
      name: 'web-1',
      labels: { team: 'ops' },
      target: { kind: 'ssh', host: '127.0.0.1', username: 'deploy' },
      secret: { password: 'target-pw-123' },
    });
    const listed = await witness(home, ['resources', '--json']);
    expect(JSON.parse(listed.stdout).resources).toEqual([]);

    await client.createResource({
      name: 'db-1',
      labels: { team: 'ops' },
      target: { kind: 'postgres', host: '127.0.0.1', database: 'app', username: 'app' },
    });
    await client.createGrant({
      subject: { kind: 'group', group: 'ops' },
      target: { kind: 'resource', resourceId: resource.id },
    });
    const visible = await witness(home, ['resources']);
    expect(visible.stdout).toMatch(/web-1\s+ssh/);
    expect(visible.stdout).not.toMatch(/db-1/);
    const grants = await witness(home, ['grants', '--json']);
    expect(JSON.parse(grants.stdout).grants).toHaveLength(1);

    const connect = await witness(home, ['connect', 'web-1', '--json']);
    expect(connect.code, connect.stderr).toBe(0);
    const session = JSON.parse(connect.stdout);
    expect(session.ticket).toMatch(/^wtk_/);
    expect(session.sessionId).toMatch(/^ses_/);
    client.close();

    // A fresh sign-in starts the clocks here: the CLI calls above may take seconds under load.
    const again = await signInAsAlice();
    expect(again.code, again.stderr).toBe(0);
    // The access token lives 2 s: the CLI refreshes it without bothering the user.
    await new Promise((r) => setTimeout(r, 2500));
    const afterRefresh = await witness(home, ['whoami']);
    expect(afterRefresh.code, afterRefresh.stderr).toBe(0);
    // The refresh token lives 12 s: after that the user is told to sign in again.
    await new Promise((r) => setTimeout(r, 12_500));
    const expired = await witness(home, ['resources']);
    expect(expired.code).toBe(1);
    expect(expired.stderr).toMatch(/expired.*witness login/);
  }, 90_000);

  it('refuses a gateway whose CA changed since it was pinned', async () => {
    const home = path.join(work, 'alice-home');
    const url = gateway.ready.api;
    await gateway.stop();
    // A different gateway on the same address: a new data dir means a new CA.
    const port = new URL(url).port;
    gateway = await spawnGateway([
      '--data',
      path.join(work, 'impostor'),
      '--api',
      `127.0.0.1:${port}`,
    ]);
    const login = await witness(
      home,
      ['login', url, '-u', 'alice', '--password-stdin'],
      'alice-password-1\n',
    );
    expect(login.code).toBe(1);
    expect(login.stderr).toMatch(/pinned/);
    expect(login.stderr).toContain(gateway.ready.caFingerprint);
  });
});
