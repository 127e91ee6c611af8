/**
 * Offboarding through the identity provider (issue #18), measured from outside as
 * offboarding.test.ts does: a real gateway process asking the provider again every second
 * (`--provider-check-every 1s`), a real OpenID provider (`oidc-provider`) on loopback, a real
 * sshd, and the real `witness login --sso` and `witness ssh` (OpenSSH) as child processes.
 * A person removed from a group at the provider loses the session that group allowed; a person
 * disabled at the provider loses every session; each within a second of the gateway's next
 * refresh at the provider (the provider's token endpoint answers are timed).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { TestBrowser } from '../harness/browserForTests.ts';
import {
  createAdmin,
  type GatewayProcess,
  runNode,
  signedInClient,
  spawnGateway,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { startTestOidcProvider, type TestOidcProvider } from '../harness/oidcProviderForTests.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget } from '../harness/sshTarget.ts';
import { waitFor } from '../harness/waitFor.ts';

const LIMIT_MS = 1000;
const CHECK_EVERY = '1s';

describeWithSshd('offboarding through the identity provider', () => {
  let work: string;
  let sshd: RunningSshd;
  let gateway: GatewayProcess;
  let admin: GatewayClient;
  let idp: TestOidcProvider;
  let caPem: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-oidc-off-'));
    sshd = await startSshd({ loginAs: 'postgres' });
    const dataDir = path.join(work, 'gw');
    gateway = await spawnGateway([
      '--data',
      dataDir,
      '--api',
      '127.0.0.1:0',
      '--ssh',
      '127.0.0.1:0',
      '--provider-check-every',
      CHECK_EVERY,
    ]);
    await createAdmin(dataDir, 'root', 'root-password-1');
    admin = await signedInClient(gateway.ready.api, dataDir, {
      username: 'root',
      password: 'root-password-1',
    });
    idp = await startTestOidcProvider({ redirectUris: [`${gateway.ready.api}/v1/oidc/callback`] });
    await admin.createOidcProvider({
      name: 'corp',
      issuer: idp.issuer,
      clientId: idp.clientId,
      clientSecret: idp.clientSecret,
    });
    caPem = (await admin.keys()).caPem;
  }, 60_000);
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    admin?.close();
    await idp?.close();
    await gateway?.stop();
    await sshd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const envOf = (who: string) => ({
    ...process.env,
    WITNESS_HOME: path.join(work, `home-${who}`),
    WITNESS_CREDENTIAL_STORE: 'file',
    TMPDIR: work,
  });

  /** `witness login URL --sso --no-browser`, the browser step done by the test's browser. */
  const ssoLogin = async (who: string): Promise<string> => {
    const child = spawn(
      process.execPath,
      [
        WITNESS_BIN,
        'login',
        gateway.ready.api,
        '--sso',
        '--no-browser',
        '--fingerprint',
        gateway.ready.caFingerprint,
      ],
      { env: envOf(who), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(child);
    let stderr = '';
    let stdout = '';
    let visit: Promise<unknown> | undefined;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const url = /^(https:\/\/\S+\/v1\/oidc\/corp\/start\?\S+)$/m.exec(stderr)?.[1];
      if (url && !visit) visit = new TestBrowser(caPem).signIn(url, who);
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    await visit;
    expect(code, stderr).toBe(0);
    expect(stdout).toContain(`as ${who} (engineer)`);
    const user = (await admin.listUsers()).find((u) => u.username === who);
    if (!user) throw new Error(`${who} was not created`);
    return user.id;
  };

  const startSsh = (who: string, resource: string) => {
    const child = spawn(
      process.execPath,
      [WITNESS_BIN, 'ssh', resource, '--', 'echo started; exec sleep 120'],
      { env: envOf(who), stdio: ['pipe', 'pipe', 'pipe'] },
    );
    children.push(child);
    let stdout = '';
    let stderr = '';
    let noticedAt: number | undefined;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (noticedAt === undefined && /Witness: /.test(stderr)) noticedAt = Date.now();
    });
    const exitedAt = new Promise<number>((resolve) =>
      child.once('close', () => resolve(Date.now())),
    );
    return {
      child,
      stdout: () => stdout,
      stderr: () => stderr,
      noticedAt: () => noticedAt,
      exitedAt,
    };
  };

  /** The first answer of the token endpoint to a refresh after `since`, with its outcome. */
  const nextRefresh = (since: number, ok: boolean) =>
    idp.tokenAnswers.find((a) => a.grantType === 'refresh_token' && a.at >= since && a.ok === ok);

  it('ends the session a group allowed when the group leaves the claim, and only that one', async () => {
    idp.accounts.set('olga', { email: 'olga@example.com', groups: ['ops'] });
    const olga = await ssoLogin('olga');
    const viaGroup = await addSshTarget(admin, sshd, { name: 'idp-ops' });
    await admin.createGrant({
      subject: { kind: 'group', group: 'ops' },
      target: { kind: 'resource', resourceId: viaGroup },
      maxSessionSeconds: 3600,
    });
    await addSshTarget(admin, sshd, { name: 'idp-olga', grantTo: { userId: olga } });
    const group = startSsh('olga', 'idp-ops');
    const own = startSsh('olga', 'idp-olga');
    await waitFor(() => group.stdout().includes('started'), `idp-ops (${group.stderr()})`);
    await waitFor(() => own.stdout().includes('started'), `idp-olga (${own.stderr()})`);

    const since = Date.now();
    idp.accounts.set('olga', { email: 'olga@example.com', groups: [] });
    const exitedAt = await group.exitedAt;
    const refresh = nextRefresh(since, true);
    expect(refresh, 'the gateway refreshed at the provider').toBeDefined();
    const fromRefresh = (at: number) => at - (refresh?.at ?? Number.NaN);
    const notice = fromRefresh(group.noticedAt() ?? Number.NaN);
    const exit = fromRefresh(exitedAt);
    console.log(
      `group left the claim (check every ${CHECK_EVERY}): refresh ${(refresh?.at ?? 0) - since} ms after the change; ` +
        `from the refresh: witness ssh message ${notice} ms, exit ${exit} ms`,
    );
    expect(group.stderr()).toMatch(/Witness: .*no longer a member of group ops/);
    expect(notice).toBeLessThanOrEqual(LIMIT_MS);
    expect(exit).toBeLessThanOrEqual(LIMIT_MS);
    expect((await admin.listUsers()).find((u) => u.id === olga)?.groups).toEqual([]);
    // The session under olga's own grant goes on: she is still allowed that.
    expect(own.child.exitCode).toBeNull();
    own.child.kill('SIGTERM');
  }, 90_000);

  it('ends every session and the sign-in of a person disabled at the provider', async () => {
    idp.accounts.set('dana', { email: 'dana@example.com', groups: [] });
    const dana = await ssoLogin('dana');
    await addSshTarget(admin, sshd, { name: 'idp-dana', grantTo: { userId: dana } });
    const session = startSsh('dana', 'idp-dana');
    await waitFor(() => session.stdout().includes('started'), `idp-dana (${session.stderr()})`);

    const since = Date.now();
    idp.accounts.delete('dana');
    const exitedAt = await session.exitedAt;
    const refusal = nextRefresh(since, false);
    expect(refusal, 'the provider refused a refresh').toBeDefined();
    const notice = (session.noticedAt() ?? Number.NaN) - (refusal?.at ?? Number.NaN);
    const exit = exitedAt - (refusal?.at ?? Number.NaN);
    console.log(
      `disabled at the provider (check every ${CHECK_EVERY}): refusal ${(refusal?.at ?? 0) - since} ms after the change; ` +
        `from the refusal: witness ssh message ${notice} ms, exit ${exit} ms`,
    );
    expect(session.stderr()).toMatch(/Witness: .*identity provider corp refused to renew/);
    expect(notice).toBeLessThanOrEqual(LIMIT_MS);
    expect(exit).toBeLessThanOrEqual(LIMIT_MS);
    // The Witness sign-in is gone too: the CLI cannot start another session.
    const again = await runNode(WITNESS_BIN, ['ssh', 'idp-dana', '--', 'true'], {
      env: envOf('dana'),
    });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/sign in again/i);
  }, 90_000);
});
