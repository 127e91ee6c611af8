/**
 * Removing a user from a group ends, within a second, the live sessions that group's grant
 * enabled (issue #14): `DELETE /v1/groups/:name/members/:userId` runs the one rule
 * (sessions/accessReview.ts). Measured from outside, as offboarding.test.ts does: a real
 * gateway process, a real sshd, and the real `witness ssh` (OpenSSH) as a child process; the
 * test prints the latency from the removal to the message on the client's stderr and to the
 * client's exit. A session under the user's own grant is left alone.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import {
  createAdmin,
  type GatewayProcess,
  runNode,
  signedInClient,
  spawnGateway,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget } from '../harness/sshTarget.ts';
import { waitFor } from '../harness/waitFor.ts';

const LIMIT_MS = 1000;

describeWithSshd('removing a group member ends the sessions the group enabled', () => {
  let work: string;
  let sshd: RunningSshd;
  let gateway: GatewayProcess;
  let admin: GatewayClient;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-group-'));
    sshd = await startSshd({ loginAs: 'postgres' });
    const dataDir = path.join(work, 'gw');
    gateway = await spawnGateway([
      '--data',
      dataDir,
      '--api',
      '127.0.0.1:0',
      '--ssh',
      '127.0.0.1:0',
    ]);
    await createAdmin(dataDir, 'root', 'root-password-1');
    admin = await signedInClient(gateway.ready.api, dataDir, {
      username: 'root',
      password: 'root-password-1',
    });
  });
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    admin?.close();
    await gateway?.stop();
    await sshd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ends the live `witness ssh` session within a second and logs the removal', async () => {
    const groupTarget = await addSshTarget(admin, sshd, { name: 'web-ops' });
    const ownTarget = await addSshTarget(admin, sshd, { name: 'web-own' });
    const password = 'olga-password-1';
    const { user } = await admin.createUser({
      username: 'olga',
      role: 'engineer',
      password,
      groups: ['ops'],
    });
    await admin.createGrant({
      subject: { kind: 'group', group: 'ops' },
      target: { kind: 'resource', resourceId: groupTarget },
      maxSessionSeconds: 3600,
    });
    await admin.createGrant({
      subject: { kind: 'user', userId: user.id },
      target: { kind: 'resource', resourceId: ownTarget },
      maxSessionSeconds: 3600,
    });
    const env = {
      ...process.env,
      WITNESS_HOME: path.join(work, 'home-olga'),
      WITNESS_CREDENTIAL_STORE: 'file',
      TMPDIR: work,
    };
    const login = await runNode(
      WITNESS_BIN,
      [
        'login',
        gateway.ready.api,
        '-u',
        'olga',
        '--password-stdin',
        '--fingerprint',
        gateway.ready.caFingerprint,
      ],
      { env, stdin: `${password}\n` },
    );
    expect(login.code, login.stderr).toBe(0);

    const start = (resource: string) => {
      const child = spawn(
        process.execPath,
        [WITNESS_BIN, 'ssh', resource, '--', 'echo started; exec sleep 120'],
        {
          env,
          stdio: ['pipe', 'pipe', 'pipe'],
        },
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
    const viaGroup = start('web-ops');
    const viaOwnGrant = start('web-own');
    await waitFor(
      () => viaGroup.stdout().includes('started'),
      `witness ssh web-ops (${viaGroup.stderr()})`,
    );
    await waitFor(
      () => viaOwnGrant.stdout().includes('started'),
      `witness ssh web-own (${viaOwnGrant.stderr()})`,
    );

    const since = Date.now();
    await admin.removeGroupMember('ops', user.id);
    const exitedAt = await viaGroup.exitedAt;
    const notice = (viaGroup.noticedAt() ?? Number.NaN) - since;
    const exit = exitedAt - since;
    console.log(
      `group member removed (limit ${LIMIT_MS} ms): witness ssh message ${notice} ms, exit ${exit} ms`,
    );
    expect(viaGroup.stderr()).toMatch(/Witness: .*no longer a member of group ops/);
    expect(notice).toBeLessThanOrEqual(LIMIT_MS);
    expect(exit).toBeLessThanOrEqual(LIMIT_MS);
    // The session under olga's own grant goes on.
    expect(viaOwnGrant.child.exitCode).toBeNull();
    viaOwnGrant.child.kill('SIGTERM');

    const { entries } = await admin.listAudit({ action: 'admin.removeGroupMember' });
    expect(entries).toMatchObject([
      { actor: { name: 'root' }, target: `/groups/ops/members/${user.id}`, outcome: 'succeeded' },
    ]);
  });
});
