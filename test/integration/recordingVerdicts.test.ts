/**
 * Fresh verdicts (issue #12), against a real gateway process whose data directory is edited
 * behind its back: the list carries each recording's verdict with when it was checked; bytes
 * changed after a verification show as failed in the list after the next re-check — the one a
 * stream of the recording asks for, the gateway's pass at start, and its scheduled pass — and
 * `witness recordings list` says so; a row edited in the database (owner, times, status) is
 * flagged against the signed recording at once and never listed as verified.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import type { Recording } from '../../shared/api/apiSchemas.ts';
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

describeWithSshd('fresh verdicts on a gateway whose data directory is edited', () => {
  let work: string;
  let dataDir: string;
  let sshd: RunningSshd;
  let gateway: GatewayProcess;
  let api: GatewayClient;
  let apiAddress: string;
  let resourceId: string;
  const sessions: string[] = [];

  const signIn = () =>
    signedInClient(gateway.ready.api, dataDir, { username: 'root', password: 'root-password-1' });
  /** The same API address across restarts, so the CLI's sign-in stays valid. */
  const serve = (extra: string[] = []) =>
    spawnGateway(['--data', dataDir, '--api', apiAddress, '--ssh', '127.0.0.1:0', ...extra]);

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-verdicts-'));
    dataDir = path.join(work, 'gw');
    sshd = await startSshd();
    gateway = await spawnGateway(serveWithSshArgs(dataDir));
    const { port } = splitHostPort(new URL(gateway.ready.api).host);
    apiAddress = `127.0.0.1:${port}`;
    await createAdmin(dataDir, 'root', 'root-password-1');
    api = await signIn();
    resourceId = await addSshTarget(api, sshd, {
      name: 'web-1',
      grantTo: { userId: (await api.me()).id },
    });
    for (let i = 0; i < 4; i++) sessions.push(await recordSession());
    const login = await witness(
      [
        'login',
        gateway.ready.api,
        '-u',
        'root',
        '--password-stdin',
        '--fingerprint',
        gateway.ready.caFingerprint,
      ],
      'root-password-1\n',
    );
    expect(login.code, login.stderr).toBe(0);
  }, 90_000);
  afterAll(async () => {
    api?.close();
    await gateway?.stop();
    await sshd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** One SSH session that spans a few checkpoints and closes cleanly; its id once complete. */
  async function recordSession(): Promise<string> {
    const session = await api.createSession(resourceId);
    const { host, port } = splitHostPort(gateway.ready.ssh!);
    await new Promise<void>((resolve, reject) => {
      const client = new ssh2.Client();
      client
        .once('ready', () => {
          client.exec('for i in $(seq 1 12); do echo line $i; sleep 0.1; done', (error, stream) => {
            if (error) return reject(error);
            stream.on('data', () => {});
            stream.on('close', () => {
              client.end();
              resolve();
            });
          });
        })
        .once('error', reject)
        .connect({
          host,
          port,
          username: session.sessionId,
          password: session.ticket,
          readyTimeout: 10_000,
        });
    });
    await waitFor(async () => (await api.getRecording(session.sessionId)).status === 'complete');
    return session.sessionId;
  }

  const witness = (args: string[], stdin?: string) =>
    runNode(WITNESS_BIN, args, { env: { HOME: work }, ...(stdin ? { stdin } : {}) });

  const listed = async (
    sessionId: string,
    query: Parameters<GatewayClient['listRecordings']>[0] = {},
  ) => (await api.listRecordings(query)).find((r) => r.sessionId === sessionId);

  /** Waits until the list shows the recording failed by a check made after `since`. */
  async function failedAfter(sessionId: string, since: string): Promise<Recording> {
    let found: Recording | undefined;
    await waitFor(async () => {
      found = await listed(sessionId);
      const verdict = found?.lastVerification;
      return verdict?.status === 'failed' && Date.parse(verdict.checkedAt!) > Date.parse(since);
    }, 30_000);
    return found!;
  }

  /** Flips a byte of the data of a frame in the middle of the recording; returns its seq. */
  function flipFrameByte(sessionId: string): number {
    const segment = findSegment(dataDir, sessionId);
    const bytes = readFileSync(segment);
    const frames = new RecordingReader()
      .push(bytes)
      .flatMap((r) => (r.type === 'frame' && r.event.data.length > 0 ? [r] : []));
    const frame = frames[Math.floor(frames.length / 2)]!;
    // type (1) and length (4), then the frame's 20 bytes before its data.
    bytes[frame.offset + 5 + 20]! ^= 0x01;
    writeFileSync(segment, bytes);
    return frame.event.seq;
  }

  it('lists every verdict with when it was checked, and `witness recordings list` shows it', async () => {
    for (const id of sessions) await api.getRecording(id);
    for (const id of sessions) {
      const recording = await listed(id);
      expect(recording?.lastVerification).toMatchObject({ status: 'verified', firstBadSeq: null });
      expect(Date.parse(recording!.lastVerification!.checkedAt!)).toBeGreaterThan(
        Date.parse(recording!.endedAt!),
      );
      expect(recording?.differsFromSigned).toEqual([]);
      expect(recording).toMatchObject({ username: 'root', resourceName: 'web-1' });
    }
    const cli = await witness(['recordings', 'list']);
    expect(cli.code, cli.stderr).toBe(0);
    const [header, ...rows] = cli.stdout.trim().split('\n');
    expect(header).toContain('VERIFICATION');
    for (const id of sessions) {
      const row = rows.find((line) => line.startsWith(id));
      expect(row).toMatch(/verified, checked \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
  });

  it('shows bytes changed after their verification as failed once a stream has read them', async () => {
    const id = sessions[0]!;
    const before = (await listed(id))!.lastVerification!.checkedAt!;
    const flippedSeq = flipFrameByte(id);
    // Nothing has looked at it yet: the list still says what the last check found, and when.
    expect((await listed(id))?.lastVerification).toMatchObject({
      status: 'verified',
      checkedAt: before,
    });
    // Reading its bytes (what the desktop's player and `witness` downloads do) re-checks it.
    const download = await api.downloadRecording(id);
    download.body.resume();
    const failed = await failedAfter(id, before);
    expect(failed.lastVerification).toMatchObject({ status: 'failed', firstBadSeq: flippedSeq });
    expect(failed.lastVerification?.message).toBeTruthy();
    expect(
      (await api.listRecordings({ status: 'verified' })).map((r) => r.sessionId),
    ).not.toContain(id);
    expect((await api.listRecordings({ status: 'failed' })).map((r) => r.sessionId)).toContain(id);
    const cli = await witness(['recordings', 'list']);
    expect(cli.stdout.split('\n').find((line) => line.startsWith(id))).toMatch(
      new RegExp(`FAILED at seq ${flippedSeq}, checked \\S+Z$`),
    );
  });

  it('flags a row edited in the database at once and never lists it as verified', async () => {
    const id = sessions[1]!;
    const original = (await listed(id))!;
    const db = new SqliteDatabase(path.join(dataDir, 'witness.sqlite'));
    try {
      db.prepare(
        `update recordings set user_id = 'usr_mallory', status = 'interrupted',
           started_at = started_at - 3600000, ended_at = ended_at + 7200000 where session_id = ?`,
      ).run(id);
    } finally {
      db.close();
    }
    const edited = (await listed(id))!;
    expect(edited.differsFromSigned?.map((d) => d.field).sort()).toEqual(
      ['endedAt', 'startedAt', 'status', 'user'].sort(),
    );
    expect(edited.differsFromSigned).toContainEqual({
      field: 'user',
      shown: 'usr_mallory',
      signed: original.userId,
    });
    expect(edited.differsFromSigned).toContainEqual({
      field: 'startedAt',
      shown: new Date(Date.parse(original.startedAt) - 3600_000).toISOString(),
      signed: expect.any(String),
    });
    // The names come from the signed session-start frame, not the edited row.
    expect(edited).toMatchObject({ username: 'root', resourceName: 'web-1' });
    expect(edited.lastVerification).toMatchObject({ status: 'failed', firstBadSeq: 0 });
    expect(edited.lastVerification?.message).toMatch(/owner \(user id\) is "usr_mallory" here/);
    expect(
      (await api.listRecordings({ status: 'verified' })).map((r) => r.sessionId),
    ).not.toContain(id);
    // The list asked for a re-check, so the stored verdict catches up and the filter finds it.
    await waitFor(async () =>
      (await api.listRecordings({ status: 'failed' })).some((r) => r.sessionId === id),
    );
    // Opened, it fails for the same reasons.
    const opened = await api.getRecording(id);
    expect(opened.verification).toMatchObject({ status: 'failed', firstBadSeq: 0 });
    expect(opened.verification?.message).toMatch(
      /the status is "interrupted" here, but the signed final checkpoint says "complete"/,
    );

    const cli = await witness(['recordings', 'list']);
    const row = cli.stdout.split('\n').find((line) => line.startsWith(id));
    expect(row).toMatch(/root!/);
    expect(row).toMatch(/interrupted!/);
    expect(row).toMatch(/FAILED \(row altered\), checked \S+Z$/);
    expect(cli.stdout).toContain(
      `! ${id}: the gateway's user is "usr_mallory", but the signed recording says "${original.userId}"`,
    );
  });

  it('re-checks every stored recording when it starts and then on its schedule', async () => {
    // Changed while nothing reads it: only the gateway's own passes can find it.
    const atStart = sessions[2]!;
    const onSchedule = sessions[3]!;
    const before = (await listed(atStart))!.lastVerification!.checkedAt!;
    const flipped = flipFrameByte(atStart);
    api.close();
    await gateway.stop();
    gateway = await serve(['--reverify-recordings-every', '3s']);
    api = await signIn();
    const failed = await failedAfter(atStart, before);
    expect(failed.lastVerification).toMatchObject({ firstBadSeq: flipped });
    expect(gateway.stderr()).toMatch(
      /"message":"recordings re-verified".*"recordingsFailingVerification":\d/,
    );

    // After the pass at start has checked it, a change shows by the next scheduled pass.
    await waitFor(async () => {
      const verdict = (await listed(onSchedule))?.lastVerification;
      return (
        verdict !== undefined &&
        verdict !== null &&
        Date.parse(verdict.checkedAt!) > Date.parse(before)
      );
    }, 30_000);
    const checked = (await listed(onSchedule))!.lastVerification!.checkedAt!;
    const flippedLater = flipFrameByte(onSchedule);
    const failedLater = await failedAfter(onSchedule, checked);
    expect(failedLater.lastVerification).toMatchObject({ firstBadSeq: flippedLater });
    expect(gateway.stderr()).toContain(
      `"message":"recording fails verification","sessionId":"${onSchedule}"`,
    );
    const cli = await witness(['recordings', 'list', '--status', 'failed']);
    expect(cli.stdout).toContain(onSchedule);
    expect(cli.stdout).toContain(atStart);
  }, 90_000);
});

/** The session's only segment file: segments live in a directory named after the session. */
function findSegment(dir: string, sessionId: string): string {
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isDirectory() && entry.name === sessionId) {
      const full = path.join(entry.parentPath, entry.name);
      const files = readdirSync(full);
      if (files.length !== 1)
        throw new Error(`expected one segment in ${full}, found ${files.join(', ')}`);
      return path.join(full, files[0]!);
    }
  }
  throw new Error(`no segment directory for ${sessionId} under ${dir}`);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms`);
}
