/**
 * A CI job signs in as a machine identity (issue #18): a second issuer in the test (a
 * jose-signed JWKS on loopback, as GitHub Actions publishes one) signs the job's token; the
 * real `witness login --id-token -` exchanges it for minutes of access; `witness ssh … --
 * uname -a` and `witness psql` then run through a real gateway process against a real sshd and
 * PostgreSQL, and both signed recordings name the machine identity and the job's run id. A
 * token from another repository, an expired one, one for another audience, a forged one and a
 * replayed one are each refused with a message.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Download, GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { parseEventJson } from '../../shared/recording/eventMeta.ts';
import { RecordingReader } from '../../shared/recording/recordingFormat.ts';
import { startTestCiIssuer, type TestCiIssuer } from '../harness/ciIssuerForTests.ts';
import {
  createAdmin,
  type GatewayProcess,
  runNode,
  signedInClient,
  spawnGateway,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { postgresUnavailableReason } from '../harness/postgresForTests.ts';
import { addPostgresTarget } from '../harness/postgresTarget.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget } from '../harness/sshTarget.ts';
import { waitFor } from '../harness/waitFor.ts';

const JOB = { repository: 'acme/app', ref: 'refs/heads/main', workflow: 'deploy' };
const pgMissing = postgresUnavailableReason();

describeWithSshd('machine identities: a CI job signs in with its workload token', () => {
  let work: string;
  let sshd: RunningSshd;
  let gateway: GatewayProcess;
  let admin: GatewayClient;
  let ci: TestCiIssuer;
  let machineUserId: string;

  beforeAll(async () => {
    if (pgMissing) throw new Error(`this suite needs PostgreSQL: ${pgMissing}`);
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-machine-'));
    sshd = await startSshd();
    const dataDir = path.join(work, 'gw');
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
    ci = await startTestCiIssuer();
    const identity = await admin.createMachineIdentity({
      name: 'ci-deploy',
      issuer: ci.issuer,
      audience: 'witness',
      claims: { repository: JOB.repository, ref: JOB.ref },
    });
    machineUserId = identity.userId;
    await addSshTarget(admin, sshd, { name: 'build-host', grantTo: { userId: machineUserId } });
    await addPostgresTarget(admin, { name: 'orders-db', grantTo: { userId: machineUserId } });
  }, 120_000);
  afterAll(async () => {
    admin?.close();
    await ci?.close();
    await gateway?.stop();
    await sshd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const env = (extra: Record<string, string> = {}) => ({
    ...process.env,
    WITNESS_HOME: path.join(work, 'ci-job'),
    WITNESS_CREDENTIAL_STORE: 'file',
    TMPDIR: work,
    ...extra,
  });
  const login = (token: string, via: 'stdin' | 'env' = 'stdin') =>
    runNode(
      WITNESS_BIN,
      [
        'login',
        gateway.ready.api,
        ...(via === 'stdin' ? ['--id-token', '-'] : []),
        '--fingerprint',
        gateway.ready.caFingerprint,
      ],
      via === 'stdin' ? { env: env(), stdin: token } : { env: env({ WITNESS_ID_TOKEN: token }) },
    );

  /** The signed session-start frame of a recording. */
  const sessionStart = async (sessionId: string): Promise<Record<string, unknown>> => {
    const download = (await admin.call('streamRecording', {
      params: { sessionId },
    })) as Download;
    const reader = new RecordingReader();
    for await (const chunk of download.body) {
      for (const record of reader.push(chunk as Buffer)) {
        if (record.type !== 'frame') continue;
        const meta = parseEventJson(record.event.data) as Record<string, unknown> | undefined;
        if (meta?.type === 'session-start') {
          download.body.destroy();
          return meta;
        }
      }
    }
    throw new Error(`no session-start in ${sessionId}`);
  };

  it('runs witness ssh and witness psql as the machine identity, recorded with its run id', async () => {
    const token = await ci.token({ ...JOB, run_id: '4242' });
    const signedIn = await login(token);
    expect(signedIn.code, signedIn.stderr).toBe(0);
    expect(signedIn.stdout).toContain('as ci-deploy (engineer)');

    const ssh = await runNode(WITNESS_BIN, ['ssh', 'build-host', '--', 'uname -a'], { env: env() });
    expect(ssh.code, ssh.stderr).toBe(0);
    expect(ssh.stdout).toMatch(/Linux/);
    const psql = await runNode(
      WITNESS_BIN,
      ['psql', 'orders-db', '--', '-X', '-A', '-t', '-c', 'select 40 + 2'],
      { env: env() },
    );
    expect(psql.code, psql.stderr).toBe(0);
    expect(psql.stdout.trim()).toBe('42');

    const sessions = await admin.listSessions({ userId: machineUserId });
    expect(sessions.map((s) => s.resourceName).sort()).toEqual(['build-host', 'orders-db']);
    for (const session of sessions) {
      expect(session.username).toBe('ci-deploy');
      const start = await sessionStart(session.id);
      expect(start.user).toBe('ci-deploy');
      expect(start.principal).toMatchObject({
        kind: 'machine',
        identity: 'ci-deploy',
        claims: { repository: JOB.repository, run_id: '4242', workflow: 'deploy' },
      });
    }
    // And searchable: the run id finds both sessions (indexed as they are recorded).
    const found = async () =>
      new Set((await admin.searchRecordings({ q: '4242' })).hits.map((hit) => hit.sessionId));
    await waitFor(async () => (await found()).size === 2, 'both sessions found by run id');
    expect([...(await found())].sort()).toEqual(sessions.map((s) => s.id).sort());
  }, 120_000);

  it('refuses a replayed token, another repository, an expired token, another audience and a forged one', async () => {
    const refusedWith = async (token: string, message: RegExp) => {
      const answer = await login(token, 'env');
      expect(answer.code, answer.stdout).not.toBe(0);
      expect(answer.stderr).toMatch(message);
    };
    const once = await ci.token({ ...JOB, run_id: '5000' });
    expect((await login(once, 'env')).code).toBe(0);
    await refusedWith(once, /already used/);
    await refusedWith(
      await ci.token({ ...JOB, repository: 'evil/fork', run_id: '5001' }),
      /repository is "evil\/fork" where ci-deploy needs "acme\/app"/,
    );
    await refusedWith(await ci.token({ ...JOB, run_id: '5002' }, { expiresIn: -60 }), /expired/);
    await refusedWith(
      await ci.token({ ...JOB, run_id: '5003' }, { audience: 'someone-else' }),
      /audience "someone-else"/,
    );
    await refusedWith(await ci.forgedToken({ ...JOB, run_id: '5004' }), /did not verify/);
  }, 120_000);

  it('gives a machine no refresh token: its sign-in ends with its access token', async () => {
    const answer = await admin.exchangeIdToken(await ci.token({ ...JOB, run_id: '6000' }));
    expect(Object.keys(answer)).not.toContain('refreshToken');
    const minutes = (Date.parse(answer.accessExpiresAt) - Date.now()) / 60_000;
    expect(minutes).toBeGreaterThan(0);
    expect(minutes).toBeLessThanOrEqual(10);
  });
});
