/**
 * The gateway process killed with SIGKILL in the middle of several recorded SSH sessions: after
 * a restart every recording is marked interrupted and its prefix verifies up to its last signed
 * checkpoint, every session the dead process carried is ended (`gateway stopped`, none left
 * `live`), and the exported bundle verifies offline as partial — nothing already recorded is
 * lost, and the restarted gateway serves new sessions.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { verifyBundle } from '../../shared/recording/recordingBundle.ts';
import {
  createAdmin,
  type GatewayProcess,
  signedInClient,
  spawnGateway,
  splitHostPort,
} from '../harness/gatewayProcess.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget, serveWithSshArgs } from '../harness/sshTarget.ts';

describeWithSshd('gateway killed mid-session', () => {
  let work: string;
  let dataDir: string;
  let sshd: RunningSshd;
  let gateway: GatewayProcess;

  const serve = () => spawnGateway(serveWithSshArgs(dataDir));

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-crash-e2e-'));
    dataDir = path.join(work, 'gw');
    sshd = await startSshd();
    gateway = await serve();
  });
  afterAll(async () => {
    await gateway?.stop();
    await sshd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  const signIn = (api: string) =>
    signedInClient(api, dataDir, { username: 'root', password: 'root-password-1' });

  function connect(address: string, sessionId: string, ticket: string): Promise<ssh2.Client> {
    const { host, port } = splitHostPort(address);
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      client.once('ready', () => resolve(client)).once('error', reject);
      client.connect({
        host,
        port,
        username: sessionId,
        password: ticket,
        readyTimeout: 10_000,
      });
    });
  }

  it('leaves an interrupted recording whose prefix verifies, and serves again after restart', async () => {
    await createAdmin(dataDir, 'root', 'root-password-1');
    let api = await signIn(gateway.ready.api);
    const resourceId = await addSshTarget(api, sshd, {
      name: 'web-1',
      grantTo: { userId: (await api.me()).id },
    });

    // A session that prints a line every 50 ms until the gateway dies under it.
    const session = await api.createSession(resourceId);
    const client = await connect(gateway.ready.ssh!, session.sessionId, session.ticket);
    let received = '';
    const closed = new Promise<void>((resolve) => {
      client.exec(
        'i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.05; done',
        (error, stream) => {
          expect(error).toBeFalsy();
          stream.on('data', (chunk: Buffer) => {
            received += chunk.toString();
          });
          stream.on('close', () => resolve());
        },
      );
      client.on('close', () => resolve());
      client.on('error', () => resolve());
    });
    // Two more sessions live at the same time, one quiet, one printing now and then.
    const others = await Promise.all(
      ['sleep 600', 'while true; do date; sleep 0.3; done'].map(async (command) => {
        const created = await api.createSession(resourceId);
        const other = await connect(gateway.ready.ssh!, created.sessionId, created.ticket);
        await new Promise<void>((resolve, reject) =>
          other.exec(command, (error, stream) => {
            if (error) return reject(error);
            stream.on('data', () => {});
            stream.stderr.on('data', () => {});
            resolve();
          }),
        );
        other.on('error', () => {});
        return { sessionId: created.sessionId, client: other };
      }),
    );
    // Let it run past at least two checkpoints (every second), then kill the gateway hard.
    await new Promise((r) => setTimeout(r, 2500));
    expect(received).toContain('line 20');
    const carried = [session.sessionId, ...others.map((o) => o.sessionId)];
    expect((await api.listSessions({ state: 'live' })).map((s) => s.id).sort()).toEqual(
      [...carried].sort(),
    );
    gateway.child.kill('SIGKILL');
    await gateway.stop();
    await closed;
    client.end();
    for (const other of others) other.client.end();
    api.close();

    gateway = await serve();
    api = await signIn(gateway.ready.api);
    // No session is left live: the restart ended every one the dead process carried.
    expect(await api.listSessions({ state: 'live' })).toEqual([]);
    for (const sessionId of carried) {
      expect(await api.getSession(sessionId)).toMatchObject({
        state: 'ended',
        endReason: 'gateway stopped',
        endedAt: expect.any(String),
      });
      const each = await api.getRecording(sessionId);
      expect(each.status).toBe('interrupted');
      // Interrupted, not tampered: verified up to its last checkpoint, no bad frame.
      expect(each.verification).toMatchObject({
        status: 'partial',
        firstBadSeq: null,
        verifiedThroughSeq: each.lastCheckpointSeq,
      });
    }
    const recording = await api.getRecording(session.sessionId);
    expect(recording.verification!.verifiedThroughSeq).toBeGreaterThan(10);

    // The bundle verifies offline with only the gateway's public key: partial, and the verified
    // prefix holds the lines the client saw, in order.
    const download = await api.exportRecording(session.sessionId, { format: 'bundle' });
    const chunks: Buffer[] = [];
    for await (const chunk of download.body) chunks.push(chunk as Buffer);
    const keys = await api.keys();
    let output = '';
    const report = await verifyBundle(Buffer.concat(chunks), {
      publicKeyPem: keys.recordingKey.publicKeyPem,
      onEvent: (event) => {
        if (event.kind === 'o' && event.seq <= recording.verification!.verifiedThroughSeq) {
          output += Buffer.from(event.data).toString();
        }
      },
    });
    expect(report).toMatchObject({ ok: true, status: 'partial', interrupted: true });
    expect(output).toMatch(/^line 1\nline 2\n/);
    expect(received.startsWith(output)).toBe(true);

    // The restarted gateway serves new sessions.
    const next = await api.createSession(resourceId);
    const again = await connect(gateway.ready.ssh!, next.sessionId, next.ticket);
    const echoed = await new Promise<string>((resolve, reject) => {
      again.exec('echo after-restart', (error, stream) => {
        if (error) return reject(error);
        let out = '';
        stream.on('data', (chunk: Buffer) => {
          out += chunk.toString();
        });
        stream.on('close', () => resolve(out));
      });
    });
    expect(echoed).toBe('after-restart\n');
    again.end();
    api.close();
  }, 60_000);
});
