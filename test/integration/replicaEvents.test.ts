/**
 * Two gateway replicas on one PostgreSQL 15 (issue #17), as real `witness-gateway serve`
 * processes with their own data directories on one `--database-url`. Until the cluster shares
 * one identity, each replica has its own CA and recording key, so each is driven through an
 * admin signed in on it; the users, resources, grants and sessions are the database's and
 * shared. The master key is shared (WITNESS_MASTER_KEY) so either replica can open a target's
 * credential.
 *
 * - terminate through B ends A's SSH session within a second (API call to client exit);
 * - disabling a user through B ends that user's session on A within a second;
 * - SIGKILL of A mid-session: B marks A's recording interrupted and ends its session; the
 *   recording in the database verifies up to its last checkpoint, and every byte the client
 *   saw before the kill is in it (frames are committed before they are forwarded).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DatabaseChunkStorage } from '../../gateway/recorder/recordingStorage.ts';
import { openPostgresStore } from '../../gateway/store/openStore.ts';
import type { Store } from '../../gateway/store/store.ts';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { eventKinds } from '../../shared/recording/recordingFormat.ts';
import { verifyRecording } from '../../shared/recording/verifyRecording.ts';
import {
  GATEWAY_BIN,
  type GatewayProcess,
  runNode,
  signedInClient,
  spawnGateway,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { freshPostgresDatabase, postgresUnavailableReason } from '../harness/postgresForTests.ts';
import { processesRunning } from '../harness/processTree.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget } from '../harness/sshTarget.ts';
import { waitFor } from '../harness/waitFor.ts';

const LIMIT_MS = 1000;
const ADMIN = { username: 'root', password: 'root-password-1' };

interface Client {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exitedAt: Promise<number>;
}

const pgMissing = postgresUnavailableReason();

describeWithSshd('two gateway replicas on one PostgreSQL (issue #17)', () => {
  let work: string;
  let sshd: RunningSshd;
  let databaseUrl: string;
  let store: Store;
  const env = { WITNESS_MASTER_KEY: randomBytes(32).toString('base64') };
  const replicas: Record<
    'a' | 'b',
    { gateway: GatewayProcess; dataDir: string; admin: GatewayClient }
  > = {} as never;
  const clients = new Set<ChildProcess>();
  const durations: string[] = [];
  const latencies: string[] = [];

  async function startReplica(name: 'a' | 'b'): Promise<void> {
    const dataDir = path.join(work, `gw-${name}`);
    const gateway = await spawnGateway(
      [
        '--data',
        dataDir,
        '--database-url',
        databaseUrl,
        '--api',
        '127.0.0.1:0',
        '--ssh',
        '127.0.0.1:0',
      ],
      env,
    );
    const admin = await signedInClient(gateway.ready.api, dataDir, ADMIN);
    replicas[name] = { gateway, dataDir, admin };
  }

  beforeAll(async () => {
    if (pgMissing) throw new Error(`PostgreSQL is needed: ${pgMissing}`);
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-replicas-'));
    databaseUrl = await freshPostgresDatabase();
    sshd = await startSshd({ loginAs: 'postgres' });
    const created = await runNode(
      GATEWAY_BIN,
      [
        'admin',
        'create-user',
        '--data',
        path.join(work, 'gw-a'),
        '--database-url',
        databaseUrl,
        '--username',
        ADMIN.username,
        '--role',
        'admin',
        '--password-stdin',
      ],
      { stdin: `${ADMIN.password}\n`, env },
    );
    expect(created.code, created.stderr).toBe(0);
    await startReplica('a');
    await startReplica('b');
    await addSshTarget(replicas.a.admin, sshd, { name: 'web-1' });
    store = await openPostgresStore(databaseUrl, { poolSize: 2 });
  });

  afterAll(async () => {
    for (const child of clients) if (child.exitCode === null) child.kill('SIGKILL');
    for (const duration of durations) {
      for (const pid of processesRunning(['sleep', duration])) process.kill(pid, 'SIGKILL');
    }
    console.log(`replica latencies (limit ${LIMIT_MS} ms):\n${latencies.join('\n')}`);
    for (const replica of Object.values(replicas)) {
      replica.admin.close();
      await replica.gateway.stop();
    }
    await store?.close();
    await sshd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** An engineer with a grant on web-1, signed in with the CLI on replica A. */
  async function engineer(username: string) {
    const password = `${username}-password-1`;
    const { admin } = replicas.a;
    const { user } = await admin.createUser({ username, role: 'engineer', password });
    const [resource] = (await admin.listResources()).filter((r) => r.name === 'web-1');
    await admin.createGrant({
      subject: { kind: 'user', userId: user.id },
      target: { kind: 'resource', resourceId: resource?.id as string },
      maxSessionSeconds: 3600,
    });
    const home = {
      WITNESS_HOME: path.join(work, `home-${username}`),
      WITNESS_CREDENTIAL_STORE: 'file',
      TMPDIR: work,
    };
    const login = await runNode(
      WITNESS_BIN,
      [
        'login',
        replicas.a.gateway.ready.api,
        '-u',
        username,
        '--password-stdin',
        '--fingerprint',
        replicas.a.gateway.ready.caFingerprint,
      ],
      { env: home, stdin: `${password}\n` },
    );
    expect(login.code, login.stderr).toBe(0);
    return { user, home };
  }

  /** `witness ssh web-1` through A, running `command`; resolves once it printed `started`. */
  async function sshThroughA(home: NodeJS.ProcessEnv, userId: string, command: string) {
    const child = spawn(process.execPath, [WITNESS_BIN, 'ssh', 'web-1', '--', command], {
      env: { ...process.env, ...home },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    clients.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const client: Client = {
      child,
      stdout: () => stdout,
      stderr: () => stderr,
      exitedAt: new Promise((resolve) => child.once('close', () => resolve(Date.now()))),
    };
    await waitFor(() => stdout.includes('started'), `witness ssh (${stderr})`);
    const [session] = await replicas.b.admin.listSessions({ userId, state: 'live' });
    expect(session).toBeDefined();
    return { client, sessionId: session?.id as string };
  }

  function sleeper(): { duration: string; command: string } {
    const duration = `300.${randomInt(100_000, 999_999)}`;
    durations.push(duration);
    return { duration, command: `echo started; exec sleep ${duration}` };
  }

  it('a session carried by A, terminated through B, ends within a second', async () => {
    const { user, home } = await engineer('erin');
    const { duration, command } = sleeper();
    const { client, sessionId } = await sshThroughA(home, user.id, command);
    const since = Date.now();
    await replicas.b.admin.terminateSession(sessionId, 'incident 42');
    const exited = (await client.exitedAt) - since;
    latencies.push(`  terminate via B, session on A: client exit ${exited} ms`);
    expect(client.stderr()).toMatch(/incident 42/);
    expect(exited).toBeLessThanOrEqual(LIMIT_MS);
    await waitFor(
      () => processesRunning(['sleep', duration]).length === 0,
      'the remote sleep to end',
    );
  });

  it('disabling a user through B ends their session on A within a second', async () => {
    const { user, home } = await engineer('frank');
    const { command } = sleeper();
    const { client } = await sshThroughA(home, user.id, command);
    const since = Date.now();
    const revoked = await replicas.b.admin.disableUser(user.id);
    expect(revoked.sessionsEnded).toHaveLength(1);
    const exited = (await client.exitedAt) - since;
    latencies.push(`  disable via B, session on A: client exit ${exited} ms`);
    expect(client.stderr()).toMatch(/disabled/);
    expect(exited).toBeLessThanOrEqual(LIMIT_MS);
  });

  it('SIGKILL of A mid-session: B marks the recording interrupted; it verifies to its last checkpoint', async () => {
    const { user, home } = await engineer('grace');
    const { duration } = sleeper();
    // Output every 50 ms, so the kill lands between checkpoints with frames after the last one.
    const { client, sessionId } = await sshThroughA(
      home,
      user.id,
      `echo started; i=0; while [ $i -lt 100000 ]; do echo line-$i; i=$((i+1)); sleep 0.05; done; exec sleep ${duration}`,
    );
    await waitFor(() => client.stdout().includes('line-30'), 'some output through A');
    const publicKeyPem = (await replicas.a.admin.keys()).recordingKey.publicKeyPem;
    replicas.a.gateway.child.kill('SIGKILL');
    const killedAt = Date.now();
    await replicas.a.gateway.stop();
    const seenByClient = client.stdout();
    // B notices A's lease ran out (5 s) and takes over: the recording first, then the session.
    const recording = await waitFor(
      async () => {
        const row = await store.getRecording(sessionId);
        const session = await store.getSession(sessionId);
        return row?.status === 'interrupted' && session?.state === 'ended' ? row : undefined;
      },
      'B to mark the recording interrupted and end the session',
      20_000,
    );
    latencies.push(
      `  SIGKILL of A: recording marked interrupted and session ended by B after ${Date.now() - killedAt} ms`,
    );
    expect((await store.getSession(sessionId))?.endReason).toBe('gateway stopped');
    const storage = new DatabaseChunkStorage(store);
    const frames: Buffer[] = [];
    const report = await verifyRecording(storage.open(sessionId), {
      publicKeyPem,
      expectedSessionId: sessionId,
      onEvent: (event) => {
        if (event.kind === eventKinds.output) frames.push(Buffer.from(event.data));
      },
    });
    expect(report.status, report.message).toBe('partial');
    expect(report.firstBadSeq).toBeNull();
    expect(report.lastCheckpointSeq).toBeGreaterThan(0);
    expect(report.verifiedThroughSeq).toBe(report.lastCheckpointSeq);
    expect(recording.lastCheckpointSeq).toBe(report.lastCheckpointSeq);
    // Every line the client printed before the kill is in the committed recording.
    const recorded = Buffer.concat(frames).toString('utf8');
    const lastLine = seenByClient
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('line-'))
      .at(-1);
    expect(lastLine).toBeDefined();
    expect(recorded).toContain(`${lastLine}\n`);
    // B still serves.
    expect((await replicas.b.admin.listSessions({ state: 'live' })).length).toBe(0);
    client.child.kill('SIGKILL');
    for (const pid of processesRunning(['sleep', duration])) process.kill(pid, 'SIGKILL');
  });
});
