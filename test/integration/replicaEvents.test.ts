/**
 * The PostgreSQL event bus across two replicas behind HAProxy (issue #17), on the cluster harness
 * (test/harness/replicaCluster.ts): one identity, so every client is signed in once through the
 * balancer and the same tokens and pins serve on either replica.
 *
 * - terminate through B ends a session A carries within a second (API call to client close);
 * - disabling a user through B ends that user's session on A within a second;
 * - SIGKILL of A with sessions live: B marks A's recording interrupted and ends its session; the
 *   recording verifies up to its last checkpoint and holds every byte the client saw (frames
 *   are committed before they are forwarded); the session B carries keeps working throughout.
 *
 * Sessions are opened with their ticket straight to A's or B's SSH port, so the test decides which
 * replica carries each one; the HAProxy paths themselves are replicas.test.ts's.
 */
import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DatabaseChunkStorage } from '../../gateway/recorder/recordingStorage.ts';
import { openPostgresStore } from '../../gateway/store/openStore.ts';
import type { Store } from '../../gateway/store/store.ts';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { eventKinds } from '../../shared/recording/recordingFormat.ts';
import { verifyRecording } from '../../shared/recording/verifyRecording.ts';
import { describeNeeding } from '../harness/needs.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import { processesRunning } from '../harness/processTree.ts';
import {
  haproxyUnavailableReason,
  type ReplicaCluster,
  startReplicaCluster,
} from '../harness/replicaCluster.ts';
import { openShell, type Shell } from '../harness/replicaShell.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget } from '../harness/sshTarget.ts';
import { waitFor } from '../harness/waitFor.ts';

const LIMIT_MS = 1000;
const ROOT = { username: 'root', password: 'root-password-1' };

describeWithSshd('replica events', () => {
  describeWithPostgres('replica events (PostgreSQL store)', () => {
    describeNeeding(haproxyUnavailableReason(), 'the event bus across replicas (issue #17)', () => {
      let cluster: ReplicaCluster;
      let sshd: RunningSshd;
      let store: Store;
      /** Root, signed in once through the balancer: setup, and reading sessions. */
      let root: GatewayClient;
      /** Root's calls that must be served by B. */
      let rootOnB: GatewayClient;
      let resourceId: string;
      let hostKey: string;
      const shells = new Set<Shell>();
      const durations: string[] = [];
      const latencies: string[] = [];

      beforeAll(async () => {
        sshd = await startSshd({ loginAs: 'postgres' });
        cluster = await startReplicaCluster();
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
        root = await cluster.signIn(cluster.balancer.api, ROOT);
        rootOnB = await cluster.signIn(cluster.replica(1).api, ROOT);
        resourceId = await addSshTarget(root, sshd, { name: 'web-1' });
        hostKey = (await root.keys()).sshHostKey as string;
        store = await openPostgresStore(cluster.databaseUrl, { poolSize: 2 });
      }, 120_000);

      afterAll(async () => {
        for (const shell of shells) shell.client.end();
        for (const duration of durations) {
          for (const pid of processesRunning(['sleep', duration])) process.kill(pid, 'SIGKILL');
        }
        console.log(`replica latencies (limit ${LIMIT_MS} ms):\n${latencies.join('\n')}`);
        root?.close();
        rootOnB?.close();
        await store?.close();
        await cluster?.stop();
        await sshd?.stop();
      });

      /** An engineer with a grant on web-1, signed in through the balancer. */
      async function engineer(username: string) {
        const password = `${username}-password-1`;
        const { user } = await root.createUser({ username, role: 'engineer', password });
        await root.createGrant({
          subject: { kind: 'user', userId: user.id },
          target: { kind: 'resource', resourceId },
          maxSessionSeconds: 3600,
        });
        const client = await cluster.signIn(cluster.balancer.api, { username, password });
        return { user, client };
      }

      /** A session of `client` carried by replica `index`, running `command` in its shell. */
      async function sessionOn(index: 0 | 1, client: GatewayClient, command: string) {
        const session = await client.createSession(resourceId);
        const shell = await openShell(cluster.replica(index).ssh, session, hostKey);
        shell.client.on('error', () => {});
        shells.add(shell);
        shell.type(command);
        await waitFor(() => shell.output().includes('2started') || undefined, 'the shell', 15_000);
        return { shell, sessionId: session.sessionId };
      }

      function sleeper(): { duration: string; command: string } {
        const duration = `300.${randomInt(100_000, 999_999)}`;
        durations.push(duration);
        return { duration, command: `echo "$((1 + 1))started"; exec sleep ${duration}` };
      }

      it('a session carried by A, terminated through B, ends within a second', async () => {
        const { client } = await engineer('erin');
        const { duration, command } = sleeper();
        const { shell, sessionId } = await sessionOn(0, client, command);
        const since = Date.now();
        await rootOnB.terminateSession(sessionId, 'incident 42');
        await shell.closed;
        const closed = Date.now() - since;
        latencies.push(`  terminate via B, session on A: client closed after ${closed} ms`);
        expect(shell.output()).toMatch(/incident 42/);
        expect(closed).toBeLessThanOrEqual(LIMIT_MS);
        await waitFor(
          () => processesRunning(['sleep', duration]).length === 0 || undefined,
          'the remote sleep to end',
        );
        client.close();
      }, 60_000);

      it('disabling a user through B ends their session on A within a second', async () => {
        const { user, client } = await engineer('frank');
        const { shell } = await sessionOn(0, client, sleeper().command);
        const since = Date.now();
        const revoked = await rootOnB.disableUser(user.id);
        expect(revoked.sessionsEnded).toHaveLength(1);
        await shell.closed;
        const closed = Date.now() - since;
        latencies.push(`  disable via B, session on A: client closed after ${closed} ms`);
        expect(shell.output()).toMatch(/disabled/);
        expect(closed).toBeLessThanOrEqual(LIMIT_MS);
        client.close();
      }, 60_000);

      it('SIGKILL of A with sessions live: B marks the recording interrupted, it verifies to its last checkpoint, B carries on', async () => {
        const { client } = await engineer('grace');
        const { duration } = sleeper();
        // Output every 50 ms, so the kill lands between checkpoints with frames after the last one.
        const { shell: onA, sessionId } = await sessionOn(
          0,
          client,
          `echo "$((1 + 1))started"; i=0; while [ $i -lt 100000 ]; do echo line-$i; i=$((i+1)); sleep 0.05; done; exec sleep ${duration}`,
        );
        const { shell: onB, sessionId: sessionOnB } = await sessionOn(
          1,
          client,
          'echo "$((1 + 1))started"',
        );
        await waitFor(() => onA.output().includes('line-30') || undefined, 'output through A');
        const publicKeyPem = (await rootOnB.keys()).recordingKey.publicKeyPem;

        const killedAt = Date.now();
        expect(await cluster.replica(0).kill('SIGKILL')).toBeNull();
        await onA.closed;
        const seenByClient = onA.output();
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

        const frames: Buffer[] = [];
        const report = await verifyRecording(new DatabaseChunkStorage(store).open(sessionId), {
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
        // Every line the client saw before the kill is in the committed recording.
        const lastLine = seenByClient
          .split(/\r?\n/)
          .filter((line) => /^line-\d+$/.test(line))
          .at(-1);
        expect(lastLine).toBeDefined();
        expect(Buffer.concat(frames).toString('utf8')).toContain(`${lastLine}`);

        // The session B carries was not disturbed by A's death nor by B's take-over.
        onB.type('echo "b-after-$((6 * 7))"');
        await waitFor(() => onB.output().includes('b-after-42') || undefined, 'the shell on B');
        expect((await store.getSession(sessionOnB))?.state).toBe('live');
        expect((await store.getRecording(sessionOnB))?.status).toBe('recording');
        onB.type('exit');
        await onB.closed;
        client.close();
        for (const pid of processesRunning(['sleep', duration])) process.kill(pid, 'SIGKILL');
      }, 120_000);
    });
  });
});
