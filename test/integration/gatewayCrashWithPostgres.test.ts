/**
 * The crash test of issue #12 with both protocols: the gateway process is killed with SIGKILL
 * while an SSH session (OpenSSH sshd behind it, ssh2 in front) and a PostgreSQL session
 * (PostgreSQL 15 behind it, node-postgres through the gateway's own listener) are live. After
 * a restart no session is live — each ended with `gateway stopped` — and each recording is
 * `interrupted` and verifies as partial exactly up to its last signed checkpoint, with no bad
 * frame: a crash is not tampering.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { verifyBundle } from '../../shared/recording/recordingBundle.ts';
import {
  createAdmin,
  type GatewayProcess,
  signedInClient,
  spawnGateway,
  splitHostPort,
} from '../harness/gatewayProcess.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import { addPostgresTarget } from '../harness/postgresTarget.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget, serveWithSshArgs } from '../harness/sshTarget.ts';

describeWithSshd('gateway killed with SSH and PostgreSQL sessions live', () => {
  describeWithPostgres('gateway killed with SSH and PostgreSQL sessions live (PostgreSQL)', () => {
    let work: string;
    let dataDir: string;
    let sshd: RunningSshd;
    let gateway: GatewayProcess;

    const serve = () => spawnGateway(serveWithSshArgs(dataDir, ['--postgres', '127.0.0.1:0']));
    const signIn = (api: string) =>
      signedInClient(api, dataDir, { username: 'root', password: 'root-password-1' });

    beforeAll(async () => {
      work = mkdtempSync(path.join(os.tmpdir(), 'witness-crash-pg-'));
      dataDir = path.join(work, 'gw');
      sshd = await startSshd();
      gateway = await serve();
      await createAdmin(dataDir, 'root', 'root-password-1');
    });
    afterAll(async () => {
      await gateway?.stop();
      await sshd?.stop();
      rmSync(work, { recursive: true, force: true });
    });

    async function addOrdersDb(api: GatewayClient): Promise<string> {
      const { resourceId } = await addPostgresTarget(api, {
        name: 'orders-db',
        grantTo: { userId: (await api.me()).id, maxSessionSeconds: 3600 },
      });
      return resourceId;
    }

    function connectSsh(sessionId: string, ticket: string): Promise<ssh2.Client> {
      const { host, port } = splitHostPort(gateway.ready.ssh!);
      return new Promise((resolve, reject) => {
        const client = new ssh2.Client();
        client.once('ready', () => resolve(client)).once('error', reject);
        client.connect({ host, port, username: sessionId, password: ticket, readyTimeout: 10_000 });
      });
    }

    async function connectPostgres(sessionId: string, ticket: string): Promise<pg.Client> {
      const { host, port } = splitHostPort(gateway.ready.postgres!);
      const client = new pg.Client({
        host,
        port,
        user: sessionId,
        password: ticket,
        database: 'ignored-by-the-gateway',
        ssl: {
          ca: readFileSync(path.join(dataDir, 'tls', 'ca.crt'), 'utf8'),
          servername: 'localhost',
        },
      });
      // The gateway dies under it: the connection error must not become an uncaught one.
      client.on('error', () => {});
      await client.connect();
      return client;
    }

    it('after a restart no session is live, and each recording verifies as interrupted up to its last checkpoint', async () => {
      let api = await signIn(gateway.ready.api);
      const sshResource = await addSshTarget(api, sshd, {
        name: 'web-1',
        grantTo: { userId: (await api.me()).id },
      });
      const pgResource = await addOrdersDb(api);

      // SSH: a command that prints a line every 50 ms until the gateway dies under it.
      const sshSession = await api.createSession(sshResource);
      const ssh = await connectSsh(sshSession.sessionId, sshSession.ticket);
      ssh.on('error', () => {});
      let sshOutput = '';
      await new Promise<void>((resolve, reject) =>
        ssh.exec('i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.05; done', (e, s) => {
          if (e) return reject(e);
          s.on('data', (chunk: Buffer) => {
            sshOutput += chunk.toString();
          });
          s.stderr.on('data', () => {});
          resolve();
        }),
      );

      // PostgreSQL: one query every 50 ms, each answered, until the gateway dies under it.
      const pgSession = await api.createSession(pgResource);
      const db = await connectPostgres(pgSession.sessionId, pgSession.ticket);
      let answered = 0;
      let stopped = false;
      const queries = (async () => {
        while (!stopped) {
          const result = await db.query('select $1::int as n, pg_sleep(0.05)', [answered + 1]);
          answered = Number(result.rows[0].n);
        }
      })().catch(() => {});

      // Past at least two checkpoints (one a second), then the hard kill.
      await new Promise((r) => setTimeout(r, 2500));
      expect(sshOutput).toContain('line 20');
      expect(answered).toBeGreaterThan(10);
      const carried = [sshSession.sessionId, pgSession.sessionId];
      expect((await api.listSessions({ state: 'live' })).map((s) => s.id).sort()).toEqual(
        [...carried].sort(),
      );
      gateway.child.kill('SIGKILL');
      await gateway.stop();
      stopped = true;
      await queries;
      ssh.end();
      await db.end().catch(() => {});
      api.close();

      gateway = await serve();
      api = await signIn(gateway.ready.api);
      expect(await api.listSessions({ state: 'live' })).toEqual([]);
      const keys = await api.keys();
      for (const sessionId of carried) {
        expect(await api.getSession(sessionId)).toMatchObject({
          state: 'ended',
          endReason: 'gateway stopped',
          endedAt: expect.any(String),
        });
        const recording = await api.getRecording(sessionId);
        expect(recording.status).toBe('interrupted');
        expect(recording.lastCheckpointSeq).toBeGreaterThan(0);
        expect(recording.verification).toMatchObject({
          status: 'partial',
          firstBadSeq: null,
          verifiedThroughSeq: recording.lastCheckpointSeq,
        });
        // Offline, with only the public key: the same verdict, from the bytes alone.
        const download = await api.exportRecording(sessionId, { format: 'bundle' });
        const chunks: Buffer[] = [];
        for await (const chunk of download.body) chunks.push(chunk as Buffer);
        const report = await verifyBundle(Buffer.concat(chunks), {
          publicKeyPem: keys.recordingKey.publicKeyPem,
        });
        expect(report).toMatchObject({
          ok: true,
          status: 'partial',
          interrupted: true,
          firstBadSeq: null,
          verifiedThroughSeq: recording.lastCheckpointSeq,
        });
      }

      // The database session's verified prefix holds the queries that were answered, in order.
      const download = await api.exportRecording(pgSession.sessionId, { format: 'bundle' });
      const chunks: Buffer[] = [];
      for await (const chunk of download.body) chunks.push(chunk as Buffer);
      const through = (await api.getRecording(pgSession.sessionId)).lastCheckpointSeq;
      let wire = '';
      await verifyBundle(Buffer.concat(chunks), {
        publicKeyPem: keys.recordingKey.publicKeyPem,
        onEvent: (event) => {
          if (event.seq <= through && 'data' in event) wire += Buffer.from(event.data).toString();
        },
      });
      expect(wire).toContain('select $1::int as n, pg_sleep(0.05)');

      // The restarted gateway serves both protocols again.
      const next = await api.createSession(pgResource);
      const again = await connectPostgres(next.sessionId, next.ticket);
      expect((await again.query('select 41 + 1 as n')).rows).toEqual([{ n: 42 }]);
      await again.end();
      api.close();
    }, 90_000);
  });
});
