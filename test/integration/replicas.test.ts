/**
 * Two gateway replicas on one PostgreSQL 15 database behind HAProxy (issue #17), all real
 * processes on loopback (test/harness/replicaCluster.ts): one identity for the cluster, the
 * balancer's addresses advertised, a SIGKILLed replica replaced at once, SIGTERM draining.
 *
 * Cross-replica terminate and disable (the PostgreSQL event bus of issue #17) are tested on the
 * same harness in test/integration/replicaEvents.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { verifyBundle } from '../../shared/recording/recordingBundle.ts';
import { runNode, WITNESS_BIN } from '../harness/gatewayProcess.ts';
import { describeNeeding } from '../harness/needs.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import {
  type HostPort,
  haproxyUnavailableReason,
  type ReplicaCluster,
  startReplicaCluster,
} from '../harness/replicaCluster.ts';
import { openShell } from '../harness/replicaShell.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget } from '../harness/sshTarget.ts';
import { waitFor } from '../harness/waitFor.ts';

const ROOT = { username: 'root', password: 'root-password-1' };
const ALICE = { username: 'alice', password: 'alice-password-1' };
/** How long a draining replica lets live sessions run on in this test. */
const DRAIN_SECONDS = 8;

/** Keyboard-interactive login, to read the reason a refused ticket is given. */
function tryTicket(at: HostPort, session: { sessionId: string; ticket: string }) {
  return new Promise<{ ok: boolean; instructions: string }>((resolve) => {
    const client = new ssh2.Client();
    const instructions: string[] = [];
    client.on('keyboard-interactive', (_name, text, _lang, prompts, finish) => {
      instructions.push(text);
      finish(prompts.map(() => session.ticket));
    });
    client.on('ready', () => {
      client.end();
      resolve({ ok: true, instructions: instructions.join('\n') });
    });
    client.on('error', () => resolve({ ok: false, instructions: instructions.join('\n') }));
    client.connect({ ...at, username: session.sessionId, tryKeyboard: true, readyTimeout: 10_000 });
  });
}

async function bundleOf(api: GatewayClient, sessionId: string): Promise<Buffer> {
  const download = await api.exportRecording(sessionId, { format: 'bundle' });
  const chunks: Buffer[] = [];
  for await (const chunk of download.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describeWithSshd('gateway replicas behind HAProxy', () => {
  describeWithPostgres('gateway replicas behind HAProxy (PostgreSQL store)', () => {
    describeNeeding(haproxyUnavailableReason(), 'two replicas, one balancer (issue #17)', () => {
      let cluster: ReplicaCluster;
      let sshd: RunningSshd;
      let work: string;
      let resourceId: string;
      let hostKey: string;
      let recordingKeyPem: string;

      beforeAll(async () => {
        work = mkdtempSync(path.join(os.tmpdir(), 'witness-replicas-test-'));
        sshd = await startSshd();
        cluster = await startReplicaCluster({ drainTimeout: `${DRAIN_SECONDS}s` });
      }, 120_000);
      afterAll(async () => {
        await cluster?.stop();
        await sshd?.stop();
        if (work) rmSync(work, { recursive: true, force: true });
      });

      it('serves one identity from both replicas: CA, SSH host key, recording key', async () => {
        const a = cluster.replica(0);
        const b = cluster.replica(1);
        expect(a.process?.ready.caFingerprint).toBe(b.process?.ready.caFingerprint);
        expect(a.process?.ready.store).toBe('postgres');
        const created = await cluster.admin(
          [
            'admin',
            'create-user',
            '--username',
            ROOT.username,
            '--role',
            'admin',
            '--password-stdin',
          ],
          `${ROOT.password}\n`,
        );
        expect(created.code, created.stderr).toBe(0);
        const viaA = await cluster.signIn(a.api, ROOT);
        const viaB = await cluster.signIn(b.api, ROOT);
        const [keysA, keysB] = await Promise.all([viaA.keys(), viaB.keys()]);
        expect(keysB).toEqual(keysA);
        expect(keysA.sshHostKey).toMatch(/^ssh-ed25519 /);
        hostKey = keysA.sshHostKey as string;
        recordingKeyPem = keysA.recordingKey.publicKeyPem;
        // The replicas are two processes, not one answering twice.
        const [readyA, readyB] = await Promise.all([
          cluster.readyInstance(a.api),
          cluster.readyInstance(b.api),
        ]);
        expect(readyA.status).toBe(200);
        expect(readyB.status).toBe(200);
        expect(readyA.instance).not.toBe(readyB.instance);

        resourceId = await addSshTarget(viaA, sshd, { name: 'web-1' });
        viaA.close();
        viaB.close();
      });

      it('a client that enrolled through replica A signs in, connects and verifies recordings through B and through the balancer', async () => {
        const a = cluster.replica(0);
        const b = cluster.replica(1);
        const made = await cluster.admin([
          'admin',
          'create-user',
          '--username',
          ALICE.username,
          '--gateway-url',
          a.api,
        ]);
        expect(made.code, made.stderr).toBe(0);
        const link = made.stdout.trim();
        expect(link).toContain(encodeURIComponent(a.api));

        // The real CLI: enrolling through A pins the cluster's CA; B then passes the same pin.
        const home = path.join(work, 'alice-home');
        const env = { WITNESS_HOME: home, WITNESS_CREDENTIAL_STORE: 'file' };
        const enrolled = await runNode(WITNESS_BIN, ['enroll', link, '--password-stdin'], {
          env,
          stdin: `${ALICE.password}\n`,
        });
        expect(enrolled.code, enrolled.stderr).toBe(0);
        for (const url of [b.api, cluster.balancer.api]) {
          const login = await runNode(
            WITNESS_BIN,
            [
              'login',
              url,
              '-u',
              ALICE.username,
              '--password-stdin',
              '--fingerprint',
              cluster.caFingerprint,
            ],
            { env, stdin: `${ALICE.password}\n` },
          );
          expect(login.code, `${url}: ${login.stderr}`).toBe(0);
        }

        const root = await cluster.signIn(b.api, ROOT);
        const aliceId = (await root.listUsers()).find((u) => u.username === ALICE.username)?.id;
        await root.createGrant({
          subject: { kind: 'user', userId: aliceId as string },
          target: { kind: 'resource', resourceId },
        });
        root.close();

        const aliceOnB = await cluster.signIn(b.api, ALICE);
        const aliceOnBalancer = await cluster.signIn(cluster.balancer.api, ALICE);
        // The session names the balancer's address, whichever replica issued it.
        const direct = await aliceOnB.createSession(resourceId);
        expect(direct.endpoint).toMatchObject({
          protocol: 'ssh',
          host: cluster.balancer.ssh.host,
          port: cluster.balancer.ssh.port,
        });
        const onB = await openShell(b.ssh, direct, hostKey);
        onB.type('echo "through-$((40 + 2))-b"; exit');
        await onB.closed;
        onB.client.end();
        expect(onB.output()).toContain('through-42-b');

        const balanced = await aliceOnBalancer.createSession(resourceId);
        const endpoint = balanced.endpoint as HostPort;
        const viaBalancer = await openShell(endpoint, balanced, hostKey);
        viaBalancer.type('echo "through-$((40 + 3))-balancer"; exit');
        await viaBalancer.closed;
        viaBalancer.client.end();
        expect(viaBalancer.output()).toContain('through-43-balancer');

        for (const [sessionId, api] of [
          [direct.sessionId, aliceOnB],
          [balanced.sessionId, aliceOnBalancer],
        ] as const) {
          const recording = await waitFor(
            async () => {
              const r = await api.getRecording(sessionId);
              return r.status === 'complete' ? r : undefined;
            },
            `the recording of ${sessionId} to complete`,
            20_000,
          );
          expect(recording.verification?.status).toBe('verified');
          // Offline, with the recording key pinned from A: the bytes B serves verify.
          const report = await verifyBundle(await bundleOf(api, sessionId), {
            publicKeyPem: recordingKeyPem,
          });
          expect(report).toMatchObject({ ok: true, status: 'verified', firstBadSeq: null });
        }
        aliceOnB.close();
        aliceOnBalancer.close();
      }, 120_000);

      it('A is SIGKILLed with a session live: new sessions through HAProxy go to B at once', async () => {
        const a = cluster.replica(0);
        const b = cluster.replica(1);
        const instanceB = (await cluster.readyInstance(b.api)).instance;
        const alice = await cluster.signIn(b.api, ALICE);
        const live = await alice.createSession(resourceId);
        const onA = await openShell(a.ssh, live, hostKey);
        onA.client.on('error', () => {});
        onA.type('echo "live-on-$((0 + 1))"');
        await waitFor(
          () => onA.output().includes('live-on-1') || undefined,
          'the shell on A',
          10_000,
        );

        const killedAt = Date.now();
        expect(await a.kill('SIGKILL')).toBeNull();
        await onA.closed;

        // At once: no waiting for the health check to notice. Five sessions in a row, each
        // through the balancer's API and SSH port, each must reach B.
        const latencies: number[] = [];
        for (let i = 0; i < 5; i++) {
          const started = Date.now();
          const session = await alice.createSession(resourceId);
          const shell = await openShell(session.endpoint as HostPort, session, hostKey);
          shell.type(`echo "after-kill-$((${i} * 2))"; exit`);
          await shell.closed;
          shell.client.end();
          expect(shell.output()).toContain(`after-kill-${i * 2}`);
          latencies.push(Date.now() - started);
        }
        const firstSessionMs = latencies[0] as number;
        console.log(
          `[replicas] after SIGKILL of A: first new session through HAProxy ${firstSessionMs} ms, all five ${Date.now() - killedAt} ms (${latencies.join(', ')} ms each)`,
        );
        expect((await cluster.readyInstance(cluster.balancer.api)).instance).toBe(instanceB);
        // B carried on: the session A carried ended with A, the one on B is unaffected.
        const shellOnB = await openShell(b.ssh, await alice.createSession(resourceId), hostKey);
        shellOnB.type('echo "b-still-$((6 * 7))"; exit');
        await shellOnB.closed;
        shellOnB.client.end();
        expect(shellOnB.output()).toContain('b-still-42');
        alice.close();

        // A comes back with the same identity and the balancer takes it in again.
        await a.start();
        const instanceA = (await cluster.readyInstance(a.api)).instance;
        await waitFor(
          async () => {
            const seen = new Set<string | undefined>();
            for (let i = 0; i < 4; i++)
              seen.add((await cluster.readyInstance(cluster.balancer.api)).instance);
            return seen.has(instanceA) || undefined;
          },
          'the balancer to send checks to A again',
          20_000,
        );
        expect(a.process?.ready.caFingerprint).toBe(cluster.caFingerprint);
      }, 120_000);

      it('SIGTERM drains: readyz 503 and new sessions refused at once, live ones finish or end at the timeout, exit 0', async () => {
        const a = cluster.replica(0);
        const b = cluster.replica(1);
        const alice = await cluster.signIn(b.api, ALICE);
        const finishingSession = await alice.createSession(resourceId);
        const finishing = await openShell(a.ssh, finishingSession, hostKey);
        const lingering = await openShell(a.ssh, await alice.createSession(resourceId), hostKey);
        lingering.client.on('error', () => {});
        const refusedLater = await alice.createSession(resourceId);

        const process = a.process;
        if (!process) throw new Error('replica A is not running');
        const exited = new Promise<number | null>((resolve) =>
          process.child.once('exit', (code) => resolve(code)),
        );
        const termAt = Date.now();
        process.child.kill('SIGTERM');

        await waitFor(
          async () => {
            const answer = await cluster.readyInstance(a.api).catch(() => ({ status: 0 }));
            return answer.status === 503 || undefined;
          },
          'readyz on the draining replica to answer 503',
          2_000,
        );
        const refused = await tryTicket(a.ssh, refusedLater);
        expect(refused.ok).toBe(false);
        expect(refused.instructions).toContain('shutting down');
        // The ticket was not spent: through the balancer it opens a session on B.
        const elsewhere = await openShell(cluster.balancer.ssh, refusedLater, hostKey);
        elsewhere.type('echo "moved-$((1 + 1))"; exit');
        await elsewhere.closed;
        elsewhere.client.end();
        expect(elsewhere.output()).toContain('moved-2');

        // Live sessions keep working while the replica drains.
        finishing.type('echo "still-$((3 * 3))"; exit');
        await finishing.closed;
        finishing.client.end();
        expect(finishing.output()).toContain('still-9');
        // Its recording closed and its row ended while the replica still drains.
        await waitFor(
          async () =>
            (await alice.getSession(finishingSession.sessionId)).state === 'ended' || undefined,
          'the finished session to be ended',
          (DRAIN_SECONDS - 2) * 1000,
        );
        lingering.type('echo "lingering-$((2 * 4))"');
        await waitFor(
          () => lingering.output().includes('lingering-8') || undefined,
          'the lingering shell',
          5_000,
        );

        // The one left is ended at the drain timeout, with the reason, and the process exits 0.
        await lingering.closed;
        const drainedMs = Date.now() - termAt;
        expect(await exited).toBe(0);
        expect(lingering.output()).toContain('shutting down');
        expect(drainedMs).toBeGreaterThanOrEqual(DRAIN_SECONDS * 1000 - 200);
        expect(process.stderr()).toMatch(/ended 1 live session/);
        console.log(`[replicas] SIGTERM to exit with one session left: ${drainedMs} ms`);
        alice.close();
      }, 120_000);

      it('keys rotate: new recordings are signed by the new key, earlier ones still verify with theirs', async () => {
        const a = cluster.replica(0);
        const b = cluster.replica(1);
        const before = await cluster.signIn(b.api, ALICE);
        const oldSession = (await before.listRecordings({ limit: 1 }))[0]?.sessionId as string;
        const oldKeyId = (await before.keys()).recordingKey.keyId;
        before.close();

        const rotated = await cluster.admin(['keys', 'rotate']);
        expect(rotated.code, rotated.stderr).toBe(0);
        const newKey = JSON.parse(rotated.stdout) as { keyId: string; publicKeyPem: string };
        expect(newKey.keyId).not.toBe(oldKeyId);
        // Replicas pick the new key up at start.
        await b.kill('SIGINT');
        await Promise.all([a.start(), b.start()]);

        const alice = await cluster.signIn(a.api, ALICE);
        const keys = await alice.keys();
        expect(keys.recordingKey.keyId).toBe(newKey.keyId);
        expect(keys.earlierRecordingKeys.map((k) => k.keyId)).toEqual([oldKeyId]);
        expect(keys.sshHostKey).toBe(hostKey);

        const session = await alice.createSession(resourceId);
        const shell = await openShell(a.ssh, session, hostKey);
        shell.type('echo "new-key-$((5 * 5))"; exit');
        await shell.closed;
        shell.client.end();
        for (const [sessionId, keyId, pem] of [
          [session.sessionId, newKey.keyId, newKey.publicKeyPem],
          [oldSession, oldKeyId, recordingKeyPem],
        ] as const) {
          const recording = await waitFor(
            async () => {
              const r = await alice.getRecording(sessionId);
              return r.status === 'complete' ? r : undefined;
            },
            `the recording of ${sessionId}`,
            20_000,
          );
          expect(recording.verification?.status, sessionId).toBe('verified');
          const bundle = await bundleOf(alice, sessionId);
          const report = await verifyBundle(bundle, { publicKeyPem: pem });
          expect(report, sessionId).toMatchObject({ ok: true, status: 'verified', keyId });
        }
        alice.close();
      }, 120_000);
    });
  });
});
