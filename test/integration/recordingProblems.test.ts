/**
 * Recordings are never silently missing (issue #12): a real gateway process whose data
 * directory is edited behind its back — a recording row deleted with better-sqlite3, a segment
 * file deleted, an orphan recording directory added — reports each, through the API
 * (`GET /v1/recordings/problems`, and `recording_missing` for the recording whose row is
 * gone), `witness-gateway admin check-recordings` (exit code, --json), and its background
 * check's log lines.
 */
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXIT_RECORDING_PROBLEMS } from '../../gateway/cli/gatewayCli.ts';
import { GatewayApiError } from '../../gateway-client/gatewayClient.ts';
import {
  createAdmin,
  GATEWAY_BIN,
  type GatewayProcess,
  runNode,
  signedInClient,
  spawnGateway,
  splitHostPort,
} from '../harness/gatewayProcess.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget, serveWithSshArgs } from '../harness/sshTarget.ts';

describeWithSshd('recordings missing behind the gateway', () => {
  let work: string;
  let dataDir: string;
  let sshd: RunningSshd;
  let gateway: GatewayProcess;

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-missing-e2e-'));
    dataDir = path.join(work, 'gw');
    sshd = await startSshd();
    await createAdmin(dataDir, 'root', 'root-password-1');
    gateway = await spawnGateway(serveWithSshArgs(dataDir, ['--check-recordings-every', '1s']));
  });
  afterAll(async () => {
    await gateway?.stop();
    await sshd?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  /** One recorded SSH session that runs `command` and ends. */
  async function recordedSession(
    address: string,
    session: { sessionId: string; ticket: string },
    command: string,
  ): Promise<void> {
    const { host, port } = splitHostPort(address);
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.once('ready', () => resolve()).once('error', reject);
      client.connect({
        host,
        port,
        username: session.sessionId,
        password: session.ticket,
        readyTimeout: 10_000,
      });
    });
    await new Promise<void>((resolve, reject) =>
      client.exec(command, (error, stream) => {
        if (error) return reject(error);
        stream.on('data', () => {});
        stream.on('close', () => resolve());
      }),
    );
    const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
    client.end();
    await closed;
  }

  it('reports a deleted row, deleted bytes and orphan bytes everywhere, and only those', async () => {
    const api = await signedInClient(gateway.ready.api, dataDir, {
      username: 'root',
      password: 'root-password-1',
    });
    const resourceId = await addSshTarget(api, sshd, {
      name: 'web-1',
      grantTo: { userId: (await api.me()).id },
    });
    const ids: string[] = [];
    for (const word of ['row-goes', 'bytes-go', 'stays']) {
      const session = await api.createSession(resourceId);
      await recordedSession(gateway.ready.ssh!, session, `echo ${word}`);
      ids.push(session.sessionId);
    }
    const [rowGone, bytesGone, intact] = ids as [string, string, string];
    await expect.poll(async () => (await api.getSession(intact)).state).toBe('ended');
    await expect.poll(async () => (await api.getRecording(intact)).status).toBe('complete');
    expect((await api.listRecordingProblems()).problems).toEqual([]);

    // Behind the gateway's back.
    const db = new Database(path.join(dataDir, 'witness.sqlite'));
    expect(db.prepare('delete from recordings where session_id = ?').run(rowGone).changes).toBe(1);
    db.close();
    unlinkSync(path.join(dataDir, 'recordings', bytesGone, '000000.seg'));
    const orphan = 'ses_orphan_bytes';
    mkdirSync(path.join(dataDir, 'recordings', orphan));
    writeFileSync(path.join(dataDir, 'recordings', orphan, '000000.seg'), 'WITNESS?');

    const expected = [
      { kind: 'missing_bytes', sessionId: bytesGone },
      { kind: 'missing_row', sessionId: rowGone },
      { kind: 'orphan_bytes', sessionId: orphan },
    ];
    const bySession = (problems: { kind: string; sessionId: string }[]) =>
      problems
        .map(({ kind, sessionId }) => ({ kind, sessionId }))
        .sort((a, b) => a.kind.localeCompare(b.kind));

    // The API.
    const found = await api.listRecordingProblems();
    expect(bySession(found.problems)).toEqual(expected);
    expect(found.problems.find((p) => p.sessionId === rowGone)?.message).toMatch(
      /no recording row; its bytes are still stored/,
    );
    const missing = await api.getRecording(rowGone).catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(GatewayApiError);
    expect(missing).toMatchObject({ status: 410, code: 'recording_missing' });
    expect((missing as Error).message).toMatch(/recording is missing/);
    // A session that never existed is still a plain 404.
    await expect(api.getRecording('ses_never_was')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
    });
    expect((await api.getRecording(intact)).verification?.status).toBe('verified');

    // The admin command, on the same data directory.
    const checked = await runNode(GATEWAY_BIN, [
      'admin',
      'check-recordings',
      '--data',
      dataDir,
      '--json',
    ]);
    expect(checked.code).toBe(EXIT_RECORDING_PROBLEMS);
    expect(bySession(JSON.parse(checked.stdout).problems)).toEqual(expected);
    const plain = await runNode(GATEWAY_BIN, ['admin', 'check-recordings', '--data', dataDir]);
    expect(plain.code).toBe(EXIT_RECORDING_PROBLEMS);
    expect(plain.stdout).toContain(`missing_row\t${rowGone}`);

    // The background check (every second here): a log line per problem, and the count.
    await expect
      .poll(
        () =>
          new Set(
            logLines(gateway.stderr())
              .filter((l) => l.message === 'recording problem')
              .map((l) => `${l.kind} ${l.sessionId}`),
          ),
        { timeout: 10_000 },
      )
      .toEqual(new Set(expected.map((p) => `${p.kind} ${p.sessionId}`)));
    await expect
      .poll(() =>
        logLines(gateway.stderr())
          .filter((l) => l.message === 'recordings checked')
          .map((l) => l.recordingProblems),
      )
      .toContain(3);
    api.close();
  }, 60_000);
});

function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
