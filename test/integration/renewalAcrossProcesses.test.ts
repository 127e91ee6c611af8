/**
 * One sign-in shared by every process of a profile (issue #12, "the tunnel test"): a real
 * gateway process with 3 s access tokens, `witness tunnel` running across several renewals,
 * separate `witness whoami` processes and the desktop's account service (GatewayAccount, in
 * this process, over the same profile and credential file) renewing in between — also all at
 * once, right after the access token expired, which without the lock across processes made two
 * of them spend the same refresh token. Nobody is signed out. Then a copy of the stored
 * refresh token is used by another holder, and the gateway ends the sign-in for everyone, who
 * each say so.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { FileCredentialStore } from '../../gateway-client/credentialStore.ts';
import { GatewayApiError, GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { normalizeGatewayUrl } from '../../gateway-client/gatewayUrl.ts';
import {
  cliSessionCodec,
  credentialAccount,
  profileSessionVault,
  renewalLockPath,
} from '../../gateway-client/profile.ts';
import { DesktopProfileStore } from '../../main/services/desktopProfile.ts';
import { GatewayAccount } from '../../main/services/gatewayAccount.ts';
import { inspectGateway } from '../../main/services/gatewayIdentity.ts';
import { MemorySecretStore } from '../../main/services/memorySecretStore.ts';
import {
  createAdmin,
  type GatewayProcess,
  loginWithCli,
  runCommand,
  runNode,
  signedInClient,
  spawnGateway,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import { addPostgresTarget } from '../harness/postgresTarget.ts';
import { PSQL_BIN } from '../harness/postgresTestBed.ts';

const ACCESS_TOKEN_TTL_MS = 3_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describeWithPostgres('one sign-in renewed by the tunnel, the CLI and the desktop', () => {
  let work: string;
  let gateway: GatewayProcess;
  let url: string;
  let home: string;
  let tunnel: ChildProcess | undefined;
  const tunnelOutput = { stdout: '', stderr: '' };
  let conninfo: string;
  let desktop: GatewayAccount;
  const cliEnv = () => ({ WITNESS_HOME: home, WITNESS_CREDENTIAL_STORE: 'file' });
  /** Where every process of the profile keeps the sign-in. */
  const credentials = () => new FileCredentialStore(path.join(home, 'credentials.json'));
  const stored = async () =>
    cliSessionCodec.decode(await credentials().get(credentialAccount(url, 'alice')));

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-renewal-'));
    home = path.join(work, 'home');
    const dataDir = path.join(work, 'gw');
    gateway = await spawnGateway([
      '--data',
      dataDir,
      '--api',
      '127.0.0.1:0',
      '--postgres',
      '127.0.0.1:0',
      '--access-token-ttl',
      `${ACCESS_TOKEN_TTL_MS / 1000}s`,
    ]);
    url = normalizeGatewayUrl(gateway.ready.api);
    await createAdmin(dataDir, 'alice', 'alice-password-1');
    // Set up with a sign-in of alice's own (another token family than the one under test).
    const admin = await signedInClient(url, dataDir, {
      username: 'alice',
      password: 'alice-password-1',
    });
    try {
      await addPostgresTarget(admin, {
        name: 'orders-db',
        grantTo: { userId: (await admin.me()).id, maxSessionSeconds: 3600 },
      });
    } finally {
      admin.close();
    }
    const login = await loginWithCli(
      { ...gateway.ready, api: url },
      'alice',
      'alice-password-1',
      cliEnv(),
    );
    expect(login.code, login.stderr).toBe(0);

    // The desktop, pinned to the same gateway, over the same profile's sign-in: it does not
    // sign in itself (that would end the CLI's sign-in), it resumes the stored one.
    const identity = await inspectGateway(url);
    const desktopDir = path.join(work, 'desktop');
    const store = credentials();
    desktop = new GatewayAccount({
      profileStore: new DesktopProfileStore(desktopDir),
      profile: {
        version: 1,
        gateway: { ...identity, isLocal: false, pinnedAt: new Date().toISOString() },
        lastUsername: 'alice',
      },
      secrets: new MemorySecretStore('unused: the profile vault is used'),
      log: () => {},
      onSignedOut: async () => {},
      onChange: () => {},
      sessionVault: (pinned, username) => profileSessionVault(store, home, pinned.url, username),
    });
    await desktop.resume();
  }, 120_000);

  afterAll(async () => {
    desktop?.dispose();
    if (tunnel && tunnel.exitCode === null) tunnel.kill('SIGTERM');
    await gateway?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const whoami = () => runNode(WITNESS_BIN, ['whoami'], { env: cliEnv() });
  const psql = (sql: string) =>
    runCommand(PSQL_BIN, ['-X', '-A', '-t', conninfo, '-c', sql], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGCONNECT_TIMEOUT: '30' },
    });
  const desktopMe = () => desktop.run((client) => client.me());

  async function startTunnel(): Promise<void> {
    const child = spawn(process.execPath, [WITNESS_BIN, 'tunnel', 'orders-db'], {
      env: { ...process.env, ...cliEnv() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    tunnel = child;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      tunnelOutput.stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      tunnelOutput.stderr += chunk;
    });
    const deadline = Date.now() + 30_000;
    while (!/Press Ctrl\+C/.test(tunnelOutput.stdout)) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`the tunnel did not start:\n${tunnelOutput.stdout}${tunnelOutput.stderr}`);
      }
      await sleep(50);
    }
    conninfo = /psql "(host=\S+ port=\d+ dbname=\S+ sslmode=disable)"/.exec(
      tunnelOutput.stdout,
    )![1]!;
  }

  it('keeps the tunnel, the CLI and the desktop signed in across renewals by any of them', async () => {
    await startTunnel();
    const tokensSeen = new Set([(await stored())!.refreshToken]);
    expect((await psql('SELECT 1')).stdout.trim()).toBe('1');
    // The desktop knows who is signed in from the shared entry, before asking the gateway.
    expect(desktop.account()?.username).toBe('alice');
    expect((await desktopMe()).username).toBe('alice');

    for (let round = 1; round <= 4; round++) {
      // Past the access token's lifetime: whoever calls first has to renew.
      await sleep(ACCESS_TOKEN_TTL_MS + 300);
      let results: [Awaited<ReturnType<typeof psql>>, ...Awaited<ReturnType<typeof whoami>>[]];
      let desktopUser: string;
      if (round % 2 === 1) {
        // All at once: the tunnel, two CLI processes and the desktop race for the renewal.
        const [query, me, cliA, cliB] = await Promise.all([
          psql(`SELECT ${round}`),
          desktopMe(),
          whoami(),
          whoami(),
        ]);
        results = [query, cliA, cliB];
        desktopUser = me.username;
      } else {
        // One after the other, each after the last one's tokens expired: each renews in turn.
        const cli = await whoami();
        await sleep(ACCESS_TOKEN_TTL_MS + 300);
        desktopUser = (await desktopMe()).username;
        await sleep(ACCESS_TOKEN_TTL_MS + 300);
        const query = await psql(`SELECT ${round}`);
        results = [query, cli];
      }
      const [query, ...clis] = results;
      expect(query.stderr, `round ${round}: ${tunnelOutput.stderr}`).toBe('');
      expect(query.stdout.trim()).toBe(String(round));
      for (const cli of clis) {
        expect(cli.code, `round ${round}: ${cli.stderr}`).toBe(0);
        expect(cli.stdout).toMatch(/^alice \(admin\)/);
      }
      expect(desktopUser).toBe('alice');
      tokensSeen.add((await stored())!.refreshToken);
    }
    // The sign-in was renewed many times (at least once per round), and is still alive.
    expect(tokensSeen.size).toBeGreaterThanOrEqual(5);
    const after = await whoami();
    expect(after.code, after.stderr).toBe(0);
    expect(tunnel!.exitCode).toBeNull();
  }, 180_000);

  it('takes over a renewal lock left by a killed process', async () => {
    // What a `witness` process killed while renewing leaves: the lock directory, untouched
    // since (proper-lockfile's holder refreshes its mtime every 5 s while alive).
    const lock = `${renewalLockPath(home, url, 'alice')}.lock`;
    mkdirSync(lock, { recursive: true });
    const longAgo = new Date(Date.now() - 60_000);
    utimesSync(lock, longAgo, longAgo);
    await sleep(ACCESS_TOKEN_TTL_MS + 300);
    const before = (await stored())!.refreshToken;
    const started = Date.now();
    const cli = await whoami();
    expect(cli.code, cli.stderr).toBe(0);
    // It renewed (the lock did not stop it), promptly, and let the lock go.
    expect((await stored())!.refreshToken).not.toBe(before);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(existsSync(lock)).toBe(false);
    expect((await psql('SELECT 3')).stdout.trim()).toBe('3');
  }, 60_000);

  it('ends the sign-in for everyone when a copied refresh token is used by another holder', async () => {
    // Someone copies the stored refresh token and renews with it first: from their copy the
    // gateway hands out a new pair, and the token the profile holds is spent.
    expect(desktop.account()?.username).toBe('alice');
    const copied = (await stored())!.refreshToken;
    const thief = new GatewayClient({ baseUrl: url, caPem: (await inspectGateway(url)).caPem });
    const stolen = await thief.refresh(copied);
    expect(stolen.user.username).toBe('alice');

    // The tunnel's next renewal spends the same token again: a replay, and the gateway ends
    // the whole sign-in — the thief's new tokens with it.
    await sleep(ACCESS_TOKEN_TTL_MS + 300);
    const query = await psql('SELECT 1');
    expect(query.code).not.toBe(0);
    expect(query.stderr).toMatch(/You are signed out of the Witness gateway/);
    expect(query.stderr).toMatch(/refreshed elsewhere/);
    expect(query.stderr).toMatch(/witness login/);

    const cli = await whoami();
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain(`You are signed out of ${url}`);
    expect(cli.stderr).toContain(`witness login ${url}`);

    await expect(desktopMe()).rejects.toMatchObject({ code: 'session_expired' });
    expect(desktop.account()).toBeNull();

    const thiefCall = new GatewayClient(
      { baseUrl: url, caPem: (await inspectGateway(url)).caPem },
      { tokens: () => stolen, tokensRefreshed: () => {} },
    );
    const refused = await thiefCall.me().catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GatewayApiError);
    expect((refused as GatewayApiError).status).toBe(401);
    await expect(thief.refresh(stolen.refreshToken)).rejects.toMatchObject({ status: 401 });
    thief.close();
    thiefCall.close();
  }, 120_000);
});
