/**
 * The record can't lie (issue #12): a real gateway process whose data directory is edited
 * behind its back. A complete recording cut right after a checkpoint, a recording whose owner
 * was changed in the SQLite database, and a bundle whose header was edited are each reported
 * as failed — through the API and by `witness recordings verify` — and never "verified"; an
 * export of a failing recording is refused unless asked for, and then marked.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { BUNDLE_MAGIC } from '../../shared/recording/recordingBundle.ts';
import { RecordingReader } from '../../shared/recording/recordingFormat.ts';
import {
  createAdmin,
  type GatewayProcess,
  runNode,
  signedInClient,
  spawnGateway,
  splitHostPort,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget, serveWithSshArgs } from '../harness/sshTarget.ts';

describeWithSshd('tampering with a gateway data directory', () => {
  let work: string;
  let dataDir: string;
  let sshd: RunningSshd;
  let gateway: GatewayProcess;
  let api: GatewayClient;
  let keyId: string;
  const sessions: string[] = [];

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-tamper-'));
    dataDir = path.join(work, 'gw');
    sshd = await startSshd();
    gateway = await spawnGateway(serveWithSshArgs(dataDir));
    await createAdmin(dataDir, 'root', 'root-password-1');
    api = await signedInClient(gateway.ready.api, dataDir, {
      username: 'root',
      password: 'root-password-1',
    });
    const resourceId = await addSshTarget(api, sshd, {
      name: 'web-1',
      grantTo: { userId: (await api.me()).id },
    });
    keyId = (await api.keys()).recordingKey.keyId;
    // Two sessions that run across a few checkpoints (one a second) and close cleanly.
    for (let i = 0; i < 2; i++) {
      const session = await api.createSession(resourceId);
      await runRemote(
        session.sessionId,
        session.ticket,
        'for i in $(seq 1 25); do echo line $i; sleep 0.1; done',
      );
      sessions.push(session.sessionId);
    }
    for (const id of sessions)
      await waitFor(async () => (await api.getRecording(id)).status === 'complete');
  }, 60_000);
  afterAll(async () => {
    api?.close();
    await gateway?.stop();
    await sshd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  function runRemote(sessionId: string, ticket: string, command: string): Promise<void> {
    const { host, port } = splitHostPort(gateway.ready.ssh!);
    return new Promise((resolve, reject) => {
      const client = new ssh2.Client();
      client
        .once('ready', () => {
          client.exec(command, (error, stream) => {
            if (error) return reject(error);
            stream.on('data', () => {});
            stream.on('close', () => {
              client.end();
              resolve();
            });
          });
        })
        .once('error', reject)
        .connect({ host, port, username: sessionId, password: ticket, readyTimeout: 10_000 });
    });
  }

  const witness = (args: string[]) => runNode(WITNESS_BIN, args, { env: { HOME: work } });

  async function download(sessionId: string, query: Record<string, string> = {}): Promise<Buffer> {
    const response = await api.exportRecording(sessionId, { format: 'bundle', ...query });
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  async function verifyFile(name: string, bytes: Buffer) {
    const file = path.join(work, name);
    writeFileSync(file, bytes);
    const result = await witness(['recordings', 'verify', file, '--fingerprint', keyId, '--json']);
    return { code: result.code, report: JSON.parse(result.stdout) };
  }

  it('verifies the untouched recordings, and their bundles offline with a signed header', async () => {
    for (const id of sessions) {
      expect((await api.getRecording(id)).verification?.status).toBe('verified');
    }
    const { code, report } = await verifyFile('clean.wbundle', await download(sessions[1]!));
    expect(code).toBe(0);
    expect(report).toMatchObject({ ok: true, status: 'verified', headerSigned: true });
    expect(report.signed).toMatchObject({ user: 'root', resource: 'web-1', protocol: 'ssh' });
  });

  it('fails a bundle whose meta.userId, meta.status or exportedAt was edited (exit 1)', async () => {
    const bundle = await download(sessions[1]!);
    const end = bundle.indexOf(0x0a, BUNDLE_MAGIC.length);
    const header = JSON.parse(bundle.subarray(BUNDLE_MAGIC.length, end).toString('utf8'));
    const edits: Array<[string, (h: typeof header) => void]> = [
      [
        'meta.userId',
        (h) => {
          h.meta.userId = 'usr_mallory';
        },
      ],
      [
        'meta.status',
        (h) => {
          h.meta.status = 'interrupted';
        },
      ],
      [
        'exportedAt',
        (h) => {
          h.exportedAt = '2020-01-01T00:00:00.000Z';
        },
      ],
    ];
    for (const [field, edit] of edits) {
      const edited = structuredClone(header);
      edit(edited);
      const bytes = Buffer.concat([
        Buffer.from(`${BUNDLE_MAGIC}${JSON.stringify(edited)}\n`),
        bundle.subarray(end + 1),
      ]);
      const { code, report } = await verifyFile(`edited-${field}.wbundle`, bytes);
      expect(code).toBe(1);
      expect(report).toMatchObject({
        ok: false,
        status: 'failed',
        firstBadSeq: 0,
        headerSigned: false,
      });
      expect(report.message).toContain(`${field} is`);
      expect(report.bundle.meta).toEqual({});
    }
  });

  it('fails a recording whose owner was changed in the database, and refuses its export', async () => {
    const id = sessions[1]!;
    const db = new SqliteDatabase(path.join(dataDir, 'witness.sqlite'));
    try {
      db.prepare('update recordings set user_id = ? where session_id = ?').run('usr_mallory', id);
    } finally {
      db.close();
    }
    const recording = await api.getRecording(id);
    expect(recording.verification).toMatchObject({ status: 'failed', firstBadSeq: 0 });
    expect(recording.verification!.message).toMatch(
      /owner \(user id\) is "usr_mallory" here, but the signed session-start frame says "usr_/,
    );
    const listed = (await api.listRecordings({})).find((r) => r.sessionId === id);
    expect(listed?.lastVerification?.status).toBe('failed');
    await expect(download(id)).rejects.toThrow(/fails verification, so it is not exported/);
  });

  it('fails a complete recording cut after a checkpoint as truncated, online and offline', async () => {
    const id = sessions[0]!;
    const segment = findSegment(dataDir, id);
    const bytes = readFileSync(segment);
    // The end of the last checkpoint before the final one: a cut at a record boundary.
    const reader = new RecordingReader();
    const records = reader.push(bytes);
    const checkpoints = records.filter((r) => r.type === 'checkpoint');
    expect(checkpoints.length).toBeGreaterThanOrEqual(3);
    const cutAt = checkpoints.at(-2)!;
    const next = records[records.indexOf(cutAt) + 1]!;
    const cutSeq = cutAt.type === 'checkpoint' ? cutAt.checkpoint.seq : 0;
    writeFileSync(segment, bytes.subarray(0, next.offset));
    expect(statSync(segment).size).toBe(next.offset);

    const recording = await api.getRecording(id);
    expect(recording.status).toBe('complete');
    expect(recording.verification?.status).toBe('failed');
    expect(recording.verification!.message).toMatch(/^truncated after the session ended/);
    const framesLeft = records.filter((r) => r.type === 'frame' && r.offset < next.offset).length;
    expect(recording.verification!.firstBadSeq).toBe(framesLeft + 1);
    expect(recording.verification!.verifiedThroughSeq).toBe(cutSeq);

    await expect(download(id)).rejects.toThrow(/truncated after the session ended/);
    // Exported anyway, the bundle says so itself, and offline verification fails it.
    const marked = await download(id, { allowUnverified: '1' });
    const { code, report } = await verifyFile('truncated.wbundle', marked);
    expect(code).toBe(1);
    expect(report).toMatchObject({ ok: false, status: 'failed', firstBadSeq: framesLeft + 1 });
    expect(report.message).toMatch(/truncated after the session ended/);
  });
});

/** The session's only segment file: segments live in a directory named after the session. */
function findSegment(dir: string, sessionId: string): string {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const full = path.join(dir, entry.name);
    if (entry.name === sessionId) {
      const files = readdirSync(full);
      if (files.length !== 1)
        throw new Error(`expected one segment in ${full}, found ${files.join(', ')}`);
      return path.join(full, files[0]!);
    }
    const found = findSegmentOrNull(full, sessionId);
    if (found) return found;
  }
  throw new Error(`no segment directory for ${sessionId} under ${dir}`);
}

function findSegmentOrNull(dir: string, sessionId: string): string | null {
  try {
    return findSegment(dir, sessionId);
  } catch {
    return null;
  }
}

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('timed out');
}
