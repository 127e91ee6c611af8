/**
 * Taking access away ends live sessions within a second (issue #14), measured from outside:
 * a real gateway process with SSH and PostgreSQL listeners, a real sshd and PostgreSQL, and the
 * real `witness ssh` (OpenSSH) and `witness psql` (psql) as child processes. For each change —
 * disabling the user, deleting the grant, a grant's end moved earlier passing — the test takes
 * the time from the change to the message on each client's stderr (the session end the person
 * sees) and to the client process's exit, prints them, and holds each to one second. The
 * remote command was exec'd without a pty; it must not outlive the session on the target (the
 * gateway sends TERM, then KILL, before it closes the channel).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
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
import { postgresUnavailableReason } from '../harness/postgresForTests.ts';
import { addPostgresTarget } from '../harness/postgresTarget.ts';
import { PSQL_BIN } from '../harness/postgresTestBed.ts';
import { processesRunning } from '../harness/processTree.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget } from '../harness/sshTarget.ts';
import { waitFor } from '../harness/waitFor.ts';

const LIMIT_MS = 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A client child process and when it showed the end of its session and exited (epoch ms). */
interface Client {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  noticedAt: () => number | undefined;
  exitedAt: Promise<number>;
}

function startClient(args: string[], env: NodeJS.ProcessEnv, notice: RegExp): Client {
  const child = spawn(process.execPath, [WITNESS_BIN, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let noticedAt: number | undefined;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (noticedAt === undefined && notice.test(stderr)) noticedAt = Date.now();
  });
  const exitedAt = new Promise<number>((resolve) => child.once('close', () => resolve(Date.now())));
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    noticedAt: () => noticedAt,
    exitedAt,
  };
}

const pgMissing = postgresUnavailableReason();

describeWithSshd('offboarding ends live sessions within a second (real processes)', () => {
  let work: string;
  let sshd: RunningSshd;
  let gateway: GatewayProcess;
  let dataDir: string;
  let admin: GatewayClient;
  let sshResourceId: string;
  let pgResourceId: string;
  /** The target database, reached directly: to see what still runs there. */
  let targetUrl: string;
  const clients = new Set<ChildProcess>();
  const latencies: string[] = [];
  const durations: string[] = [];

  beforeAll(async () => {
    if (pgMissing) throw new Error(`PostgreSQL is needed: ${pgMissing}`);
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-offboard-'));
    // A non-root login on the target: sshd refuses `signal` requests on root logins (no
    // privilege separation after authentication). `postgres` exists wherever the server does.
    sshd = await startSshd({ loginAs: 'postgres' });
    dataDir = path.join(work, 'gw');
    gateway = await spawnGateway([
      '--data',
      dataDir,
      '--api',
      '127.0.0.1:0',
      '--ssh',
      '127.0.0.1:0',
      '--postgres',
      '127.0.0.1:0',
    ]);
    await createAdmin(dataDir, 'root', 'root-password-1');
    admin = await signedInClient(gateway.ready.api, dataDir, {
      username: 'root',
      password: 'root-password-1',
    });
    sshResourceId = await addSshTarget(admin, sshd, { name: 'web-1' });
    ({ resourceId: pgResourceId, targetUrl } = await addPostgresTarget(admin, {
      name: 'orders-db',
    }));
  });

  afterAll(async () => {
    for (const child of clients) if (child.exitCode === null) child.kill('SIGKILL');
    // What a failed run may have left on the target.
    for (const duration of durations) {
      for (const pid of processesRunning(['sleep', duration])) process.kill(pid, 'SIGKILL');
    }
    console.log(`offboarding latencies (limit ${LIMIT_MS} ms):\n${latencies.join('\n')}`);
    admin?.close();
    await gateway?.stop();
    await sshd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** How many backends on the target run a statement containing `text` (not this one). */
  async function queriesRunning(text: string): Promise<number> {
    const result = await runCommand(PSQL_BIN, [
      targetUrl,
      '-X',
      '-A',
      '-t',
      '-c',
      `select count(*) from pg_stat_activity where query like '%${text}%' and pid <> pg_backend_pid()`,
    ]);
    expect(result.code, result.stderr).toBe(0);
    return Number(result.stdout.trim());
  }

  /** A new engineer with a grant on each resource, signed in with the CLI in their own home. */
  async function engineer(username: string) {
    const password = `${username}-password-1`;
    const created = await admin.createUser({ username, role: 'engineer', password });
    expect(created.enrollment).toBeNull();
    const grants = [];
    for (const resourceId of [sshResourceId, pgResourceId]) {
      grants.push(
        await admin.createGrant({
          subject: { kind: 'user', userId: created.user.id },
          target: { kind: 'resource', resourceId },
          maxSessionSeconds: 3600,
        }),
      );
    }
    const env = {
      WITNESS_HOME: path.join(work, `home-${username}`),
      WITNESS_CREDENTIAL_STORE: 'file',
      WITNESS_PSQL_BIN: PSQL_BIN,
      TMPDIR: work,
    };
    const login = await loginWithCli(gateway.ready, username, password, env);
    expect(login.code, login.stderr).toBe(0);
    return { user: created.user, grants, env };
  }

  /** `witness ssh` running an exec'd sleep (no pty) and `witness psql` in a long query. */
  async function liveSessions(userId: string, env: NodeJS.ProcessEnv) {
    const duration = `300.${randomInt(100_000, 999_999)}`;
    durations.push(duration);
    const ssh = startClient(
      ['ssh', 'web-1', '--', `echo started; exec sleep ${duration}`],
      env,
      /Witness: .*(ended|revoked|disabled)/,
    );
    const psql = startClient(
      ['psql', 'orders-db', '--', '-X', '-A', '-t', '-c', `select pg_sleep(${duration})`],
      env,
      /FATAL/,
    );
    clients.add(ssh.child);
    clients.add(psql.child);
    await waitFor(() => ssh.stdout().includes('started'), `witness ssh (${ssh.stderr()})`);
    await waitFor(
      async () => (await admin.listSessions({ userId, state: 'live' })).length === 2,
      `both sessions live (${psql.stderr()})`,
    );
    expect(processesRunning(['sleep', duration])).toHaveLength(1);
    await waitFor(
      async () => (await queriesRunning(`pg_sleep(${duration})`)) === 1,
      'the query on the target',
    );
    return { ssh, psql, duration };
  }

  async function measure(
    label: string,
    since: number,
    running: Awaited<ReturnType<typeof liveSessions>>,
  ): Promise<void> {
    const [sshExit, psqlExit] = await Promise.all([running.ssh.exitedAt, running.psql.exitedAt]);
    const row = {
      sshNotice: (running.ssh.noticedAt() ?? Number.NaN) - since,
      sshExit: sshExit - since,
      psqlNotice: (running.psql.noticedAt() ?? Number.NaN) - since,
      psqlExit: psqlExit - since,
    };
    latencies.push(
      `  ${label}: witness ssh message ${row.sshNotice} ms, exit ${row.sshExit} ms; ` +
        `psql message ${row.psqlNotice} ms, exit ${row.psqlExit} ms`,
    );
    expect(running.ssh.stderr()).toMatch(/Witness: /);
    expect(running.psql.stderr()).toMatch(/FATAL/);
    for (const [what, ms] of Object.entries(row)) {
      expect(
        ms,
        `${label}: ${what}\n${running.ssh.stderr()}\n${running.psql.stderr()}`,
      ).toBeLessThanOrEqual(LIMIT_MS);
    }
    // The gateway's CancelRequest stopped the query: pg_sleep does not notice a closed client.
    await waitFor(
      async () => (await queriesRunning(`pg_sleep(${running.duration})`)) === 0,
      'the query to stop on the target',
      1000,
    );
    // No pty: sshd would leave the exec'd command running; the gateway's TERM ended it.
    await waitFor(
      () => processesRunning(['sleep', running.duration]).length === 0,
      `the remote sleep to end; sshd said:\n${sshd
        .log()
        .split('\n')
        .filter((l) => /signal/i.test(l))
        .join('\n')}`,
      1000,
    );
  }

  it('disabling the user ends their SSH and psql sessions within a second', async () => {
    const { user, env } = await engineer('erin');
    const running = await liveSessions(user.id, env);
    const since = Date.now();
    const revoked = await admin.disableUser(user.id);
    expect(revoked.signInsRevoked).toBe(true);
    expect(revoked.grantsEnded).toHaveLength(2);
    expect(revoked.sessionsEnded).toHaveLength(2);
    await measure('disable user', since, running);
    expect(running.ssh.stderr()).toMatch(/account was disabled/);
    // The sign-in is gone too: the CLI cannot start another session.
    const again = await runNode(WITNESS_BIN, ['ssh', 'web-1', '--', 'true'], { env });
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/disabled|sign in/i);
  });

  it('deleting the grants ends the sessions within a second', async () => {
    const { user, grants, env } = await engineer('frank');
    const running = await liveSessions(user.id, env);
    const since = Date.now();
    await Promise.all(grants.map((grant) => admin.deleteGrant(grant.id)));
    await measure('delete grant', since, running);
    expect(running.ssh.stderr()).toMatch(/grant was deleted/);
  });

  it("a grant's end moved earlier ends the sessions at that end, within a second", async () => {
    const { user, grants, env } = await engineer('grace');
    const running = await liveSessions(user.id, env);
    const endsAt = Date.now() + 1500;
    await Promise.all(
      grants.map((grant) =>
        admin.updateGrant(grant.id, { validUntil: new Date(endsAt).toISOString() }),
      ),
    );
    // Still running before the new end.
    await sleep(endsAt - Date.now() - 300);
    expect(running.ssh.child.exitCode).toBeNull();
    expect(running.psql.child.exitCode).toBeNull();
    await measure('grant end moved earlier', endsAt, running);
    expect(running.ssh.stderr()).toMatch(/ended at/);
  });

  it('`witness admin`: users create/list/set-role/disable/enable and sessions list/terminate --reason', async () => {
    const rootEnv = {
      WITNESS_HOME: path.join(work, 'home-root'),
      WITNESS_CREDENTIAL_STORE: 'file',
      TMPDIR: work,
    };
    const cli = (args: string[], stdin?: string) =>
      runNode(WITNESS_BIN, args, { env: rootEnv, ...(stdin !== undefined && { stdin }) });
    const login = await loginWithCli(gateway.ready, 'root', 'root-password-1', rootEnv);
    expect(login.code, login.stderr).toBe(0);

    const created = await cli(['admin', 'users', 'create', 'heidi', '--group', 'ops']);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toMatch(/Created engineer heidi/);
    expect(created.stdout.trim()).toMatch(/^wen_/); // the one-time enrollment token
    const listed = await cli(['admin', 'users', 'list']);
    expect(listed.stdout).toMatch(/heidi\s+engineer\s+ops\s+active/);
    const role = await cli(['admin', 'users', 'set-role', 'heidi', 'auditor']);
    expect(role.code, role.stderr).toBe(0);
    expect(role.stdout).toMatch(/heidi is now auditor/);
    const disabled = await cli(['admin', 'users', 'disable', 'heidi']);
    expect(disabled.stdout).toMatch(/Disabled heidi\.\n {2}sign-ins revoked/);
    expect((await cli(['admin', 'users', 'list'])).stdout).toMatch(
      /heidi\s+auditor\s+ops\s+disabled/,
    );
    expect((await cli(['admin', 'users', 'enable', 'heidi'])).stdout).toMatch(/Enabled heidi/);
    const unknown = await cli(['admin', 'users', 'disable', 'nobody-here']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no user nobody-here .*witness admin users list/);

    // An admin ends someone's live session with a reason that person reads.
    const { user, env } = await engineer('ivan');
    const ssh = startClient(
      ['ssh', 'web-1', '--', 'echo started; exec sleep 120'],
      env,
      /Witness: .*incident 42/,
    );
    clients.add(ssh.child);
    await waitFor(() => ssh.stdout().includes('started'), `witness ssh (${ssh.stderr()})`);
    const live = await cli(['admin', 'sessions', 'list', '--json']);
    const sessions = JSON.parse(live.stdout) as { id: string; userId: string }[];
    const ivans = sessions.filter((s) => s.userId === user.id);
    expect(ivans).toHaveLength(1);
    const terminated = await cli([
      'admin',
      'sessions',
      'terminate',
      ivans[0]!.id,
      '--reason',
      'incident 42',
    ]);
    expect(terminated.code, terminated.stderr).toBe(0);
    expect(terminated.stdout).toMatch(/terminated by root: incident 42/);
    await ssh.exitedAt;
    expect(ssh.stderr()).toMatch(
      /Witness: Your session on web-1 was ended \(terminated by root: incident 42\)/,
    );
  }, 90_000); // about ten CLI processes in a row: 30 s under a loaded CI run was not enough (29.9 s seen)
});
