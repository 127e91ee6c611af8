/**
 * The tamper suite of issue #12, end to end: a real `witness-gateway serve` process (SQLite,
 * OpenSSH sshd behind it) records one SSH session per case; then its data directory is edited
 * behind its back — one edit per case — and each edit must be reported as failed at the exact
 * seq, or as missing, through all three surfaces:
 *   - the API (`GET /v1/recordings/:id`, `/v1/recordings/problems`),
 *   - the CLI (`witness recordings export` refuses, `--allow-unverified` + `witness recordings
 *     verify` names the seq and exits 1, `witness recordings list --json`, and
 *     `witness-gateway admin check-recordings` for what is missing),
 *   - the desktop (the real renderer in Chromium through the web host): the player's integrity
 *     badge, or the list's missing-recordings notice.
 * None may show "verified". The expected seq is read from the segment by the test itself
 * (test/harness/recordingTampering.ts), not taken from the verifier under test.
 *
 * Screenshots: test-results/tamper-e2e/.
 */
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import type { Browser, Page } from 'playwright-core';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXIT_RECORDING_PROBLEMS } from '../../gateway/cli/gatewayCli.ts';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { createDesktopApp } from '../../main/services/desktopApp.ts';
import { startWebHost, type WebHost } from '../../main/webhost/server.ts';
import { BUNDLE_MAGIC } from '../../shared/recording/recordingBundle.ts';
import {
  createAdmin,
  GATEWAY_BIN,
  type GatewayProcess,
  runNode,
  signedInClient,
  spawnGateway,
  splitHostPort,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import {
  cutAfterCheckpoint,
  cutInsideRecord,
  dropFrame,
  flipByte,
  forgeSignature,
  readSegment,
  swapFrames,
} from '../harness/recordingTampering.ts';
import { describeWithSshd, type RunningSshd, startSshd } from '../harness/sshd.ts';
import { addSshTarget, serveWithSshArgs } from '../harness/sshTarget.ts';
import { buildRendererForTests, type RendererBuild } from './buildRenderer.ts';
import { describeWithChromium, launchChromium } from './chromium.ts';
import { CleanupStack } from './cleanupStack.ts';

const repoRoot = path.resolve(import.meta.dirname, '..', '..');
const shots = path.join(repoRoot, 'test-results', 'tamper-e2e');
const PASSWORD = 'root-tamper-password-7';

const CASES = [
  'flipped byte',
  'cut record',
  'forged signature',
  'dropped frame',
  'swapped frames',
  'complete recording cut after a checkpoint',
  'row deleted',
  'segment deleted',
  'owner changed',
  'stale verdict',
] as const;
type Case = (typeof CASES)[number];
// (The bundle whose header is edited is the stale-verdict case's, exported before its edit;
// ten recordings, so each is in the sidebar's ten most recent.)

describeWithChromium('tamper suite', () => {
  describeWithSshd('tamper suite: API, CLI and desktop against an edited data directory', () => {
    const cleanups = new CleanupStack();
    let work: string;
    let dataDir: string;
    let sshd: RunningSshd;
    let gateway: GatewayProcess;
    let api: GatewayClient;
    let host: WebHost;
    let renderer: RendererBuild;
    let browser: Browser;
    let page: Page;
    let keyId: string;
    let cliEnv: Record<string, string>;
    const session = new Map<Case, string>();
    /** A bundle exported before any edit, for the header edits. */
    let cleanBundle: Buffer;
    const pageErrors: string[] = [];

    beforeAll(async () => {
      rmSync(shots, { recursive: true, force: true });
      mkdirSync(shots, { recursive: true });
      work = mkdtempSync(path.join(os.tmpdir(), 'witness-tamper-e2e-'));
      cleanups.push(() => rmSync(work, { recursive: true, force: true }));
      dataDir = path.join(work, 'gw');
      renderer = await buildRendererForTests();
      cleanups.push(() => renderer.remove());
      sshd = await startSshd();
      cleanups.push(() => sshd.stop());
      gateway = await spawnGateway(serveWithSshArgs(dataDir));
      cleanups.push(() => gateway.stop());
      await createAdmin(dataDir, 'root', PASSWORD);
      api = await signedInClient(gateway.ready.api, dataDir, {
        username: 'root',
        password: PASSWORD,
      });
      cleanups.push(() => api.close());
      const resourceId = await addSshTarget(api, sshd, {
        name: 'web-1',
        grantTo: { userId: (await api.me()).id },
      });
      keyId = (await api.keys()).recordingKey.keyId;

      // One recording per case, all at once: each prints for 2.5 s, past a few checkpoints
      // (one a second), and closes cleanly.
      await Promise.all(
        CASES.map(async (name) => {
          const created = await api.createSession(resourceId);
          session.set(name, created.sessionId);
          await runRemote(
            created.sessionId,
            created.ticket,
            'for i in $(seq 1 25); do echo "line $i"; sleep 0.1; done',
          );
        }),
      );
      for (let i = 0; ; i++) {
        const statuses = (await api.listRecordings({})).map((r) => r.status);
        if (statuses.length === CASES.length && statuses.every((s) => s === 'complete')) break;
        if (i > 200) throw new Error(`recordings not complete: ${statuses.join(', ')}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }

      cleanBundle = await downloadBundle(id('stale verdict'));

      cliEnv = { WITNESS_HOME: path.join(work, 'cli-home'), WITNESS_CREDENTIAL_STORE: 'file' };
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
        `${PASSWORD}\n`,
      );
      expect(login.code, login.stderr).toBe(0);

      const app = await createDesktopApp({
        appDataDir: path.join(work, 'desktop'),
        secretStore: 'memory',
        gatewayBin: GATEWAY_BIN,
        useLocalGatewayWhenNoneEnrolled: false,
        log: () => {},
      });
      host = await startWebHost({ app, rendererDir: renderer.dir, port: 0, log: () => {} });
      cleanups.push(() => host.close());
      browser = await launchChromium();
      cleanups.push(() => browser.close());
      page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
      page.setDefaultTimeout(20_000);
      page.on('pageerror', (e) => pageErrors.push(e.message));

      await page.goto(host.url);
      await page.getByRole('textbox', { name: 'Gateway URL' }).fill(gateway.ready.api);
      await page.getByRole('button', { name: 'Inspect gateway' }).click();
      await page.getByRole('button', { name: 'Pin this gateway' }).click();
      await page.getByRole('textbox', { name: 'Username' }).fill('root');
      await page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.getByRole('heading', { name: 'Resources' }).waitFor();
    }, 240_000);

    afterAll(async () => {
      await cleanups.close();
    });

    function runRemote(sessionId: string, ticket: string, command: string): Promise<void> {
      const { host: address, port } = splitHostPort(gateway.ready.ssh!);
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
          .connect({
            host: address,
            port,
            username: sessionId,
            password: ticket,
            readyTimeout: 20_000,
          });
      });
    }

    const witness = (args: string[], stdin?: string) =>
      runNode(WITNESS_BIN, args, { env: cliEnv, ...(stdin === undefined ? {} : { stdin }) });
    const id = (name: Case) => session.get(name)!;

    async function downloadBundle(sessionId: string): Promise<Buffer> {
      const response = await api.exportRecording(sessionId, { format: 'bundle' });
      const chunks: Buffer[] = [];
      for await (const chunk of response.body) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    }

    async function verifyOffline(file: string) {
      const verified = await witness([
        'recordings',
        'verify',
        file,
        '--fingerprint',
        keyId,
        '--json',
      ]);
      return { code: verified.code, report: JSON.parse(verified.stdout), stderr: verified.stderr };
    }

    /**
     * The CLI on a recording that fails: the export is refused (exit 1, nothing saved), the
     * export marked `--allow-unverified` fails offline verification at `firstBadSeq`, and the
     * list carries the failed verdict.
     */
    async function expectCliFails(sessionId: string, firstBadSeq: number, message: RegExp) {
      const file = path.join(work, `${sessionId}.wbundle`);
      const refused = await witness([
        'recordings',
        'export',
        sessionId,
        '--format',
        'bundle',
        '-o',
        file,
      ]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/fails verification, so it is not exported/);
      const cast = await witness([
        'recordings',
        'export',
        sessionId,
        '--format',
        'cast',
        '-o',
        '-',
      ]);
      expect(cast.code).toBe(1);
      expect(cast.stdout).toBe('');
      const marked = await witness([
        'recordings',
        'export',
        sessionId,
        '--format',
        'bundle',
        '-o',
        file,
        '--allow-unverified',
      ]);
      expect(marked.code, marked.stderr).toBe(0);
      const { code, report, stderr } = await verifyOffline(file);
      expect(code).toBe(1);
      expect(report).toMatchObject({ ok: false, status: 'failed', firstBadSeq });
      expect(`${report.message}`).toMatch(message);
      expect(stderr).toContain(`failed verification at seq ${firstBadSeq}`);
      const listed = await witness(['recordings', 'list', '--json']);
      expect(listed.code).toBe(0);
      const row = JSON.parse(listed.stdout).recordings.find(
        (r: { sessionId: string }) => r.sessionId === sessionId,
      );
      expect(row.lastVerification.status).toBe('failed');
    }

    async function showRecordings() {
      await page
        .getByRole('navigation', { name: 'Views' })
        .getByRole('button', { name: 'Recordings' })
        .click();
      const back = page.getByRole('button', { name: 'Back to recordings', exact: true });
      if ((await back.count()) > 0) await back.first().click();
      await page.getByRole('heading', { name: 'Recordings', exact: true }).waitFor();
    }

    /** Opens the recording in the desktop and returns the integrity badge's text. */
    async function desktopBadge(sessionId: string): Promise<string> {
      await showRecordings();
      await page.getByRole('button', { name: `Open recording ${sessionId}` }).click();
      const badge = page.getByLabel('Integrity', { exact: true });
      await badge.waitFor({ timeout: 60_000 });
      return (await badge.textContent()) ?? '';
    }

    /** The Verify button of the sidebar's recent recordings, and the verdict it shows. */
    async function sidebarVerdict(sessionId: string): Promise<string> {
      const item = page.getByRole('listitem', { name: `Recording ${sessionId}`, exact: true });
      await item.getByRole('button', { name: `Verify recording ${sessionId}` }).click();
      const verdict = item.locator('.verdict');
      await verdict.waitFor({ timeout: 60_000 });
      return (await verdict.textContent()) ?? '';
    }

    async function expectDesktopFails(sessionId: string, firstBadSeq: number, shot?: string) {
      expect(await sidebarVerdict(sessionId)).toBe(`Failed at seq ${firstBadSeq}`);
      const badge = await desktopBadge(sessionId);
      expect(badge).toContain(`Failed at seq ${firstBadSeq}`);
      expect(badge).not.toMatch(/Verified|Interrupted/);
      expect(await page.getByRole('region', { name: 'Recorded terminal' }).count()).toBe(0);
      if (shot) await page.screenshot({ path: path.join(shots, shot) });
    }

    async function expectApiFails(sessionId: string, firstBadSeq: number, message: RegExp) {
      const recording = await api.getRecording(sessionId);
      expect(recording.verification).toMatchObject({ status: 'failed', firstBadSeq });
      expect(recording.verification!.message).toMatch(message);
      return recording;
    }

    /** The four byte-level edits: caught at the seq the edit touched, everywhere. */
    const byteEdits: [Case, (s: ReturnType<typeof readSegment>) => number, RegExp][] = [
      ['flipped byte', flipByte, /was altered: its hash does not match the chain/],
      ['cut record', cutInsideRecord, /cut off in the middle of a record/],
      ['forged signature', forgeSignature, /is not signed by the key you trust/],
      ['dropped frame', dropFrame, /is missing: .*\(frames were dropped or reordered\)/],
      ['swapped frames', swapFrames, /is missing: .*\(frames were dropped or reordered\)/],
    ];
    for (const [name, edit, message] of byteEdits) {
      it(`${name}: failed at the edited seq in the API, the CLI and the desktop`, async () => {
        const sessionId = id(name);
        const firstBadSeq = edit(readSegment(dataDir, sessionId));
        await expectApiFails(sessionId, firstBadSeq, message);
        await expectCliFails(sessionId, firstBadSeq, message);
        await expectDesktopFails(
          sessionId,
          firstBadSeq,
          name === 'flipped byte' ? 'flipped-byte-failed.png' : undefined,
        );
      }, 120_000);
    }

    it('a complete recording cut after a checkpoint: "truncated after the session ended", not interrupted', async () => {
      const sessionId = id('complete recording cut after a checkpoint');
      const { firstBadSeq, checkpointSeq } = cutAfterCheckpoint(readSegment(dataDir, sessionId));
      const recording = await expectApiFails(
        sessionId,
        firstBadSeq,
        /^truncated after the session ended/,
      );
      expect(recording.status).toBe('complete');
      expect(recording.verification!.verifiedThroughSeq).toBe(checkpointSeq);
      await expectCliFails(sessionId, firstBadSeq, /truncated after the session ended/);
      await expectDesktopFails(sessionId, firstBadSeq, 'truncated-failed.png');
      expect(await page.getByLabel('Integrity', { exact: true }).textContent()).toMatch(
        /truncated after the session ended/,
      );
    }, 120_000);

    it('owner changed in the database: failed at seq 0, naming both owners', async () => {
      const sessionId = id('owner changed');
      const db = new Database(path.join(dataDir, 'witness.sqlite'));
      try {
        db.prepare('update recordings set user_id = ? where session_id = ?').run(
          'usr_mallory',
          sessionId,
        );
      } finally {
        db.close();
      }
      const owner = /owner \(user id\) is "usr_mallory" here, but the signed session-start frame/;
      await expectApiFails(sessionId, 0, owner);
      await expectCliFails(sessionId, 0, /exported unverified|usr_mallory|owner/);
      await expectDesktopFails(sessionId, 0);
      expect(await page.getByLabel('Integrity', { exact: true }).textContent()).toMatch(owner);
    }, 120_000);

    it('stale verdict: verified, then edited — the next open or verify says failed', async () => {
      const sessionId = id('stale verdict');
      // Verified everywhere first; the desktop keeps the verified download in its cache.
      expect((await api.getRecording(sessionId)).verification?.status).toBe('verified');
      expect(await desktopBadge(sessionId)).toContain('Verified');
      const clean = path.join(work, 'stale-clean.wbundle');
      writeFileSync(clean, await downloadBundle(sessionId));
      expect((await verifyOffline(clean)).code).toBe(0);

      const firstBadSeq = flipByte(readSegment(dataDir, sessionId));
      await expectApiFails(sessionId, firstBadSeq, /hash/i);
      await expectCliFails(sessionId, firstBadSeq, /hash/i);
      // The desktop's cached copy is intact, but the gateway's copy is not any more.
      await expectDesktopFails(sessionId, firstBadSeq);
      // (Whether the list's verdict is fresh without an open is the verdicts branch's test.)
    }, 120_000);

    it('bundle header edited: not verified by the CLI nor by the desktop', async () => {
      const bundle = cleanBundle;
      const end = bundle.indexOf(0x0a, BUNDLE_MAGIC.length);
      const header = JSON.parse(bundle.subarray(BUNDLE_MAGIC.length, end).toString('utf8'));
      header.meta.userId = 'usr_mallory';
      const file = path.join(work, 'edited-header.wbundle');
      writeFileSync(
        file,
        Buffer.concat([
          Buffer.from(`${BUNDLE_MAGIC}${JSON.stringify(header)}\n`),
          bundle.subarray(end + 1),
        ]),
      );
      const { code, report } = await verifyOffline(file);
      expect(code).toBe(1);
      expect(report).toMatchObject({ ok: false, status: 'failed', firstBadSeq: 0 });

      await showRecordings();
      await page.getByRole('button', { name: 'Open bundle…' }).click();
      const dialog = page.getByRole('dialog', { name: 'Open a recording bundle' });
      await dialog.getByLabel('Bundle file').setInputFiles(file);
      await dialog.getByRole('button', { name: 'Open and verify' }).click();
      const badge = page.getByLabel('Integrity', { exact: true });
      await badge.waitFor({ timeout: 60_000 });
      expect(await badge.textContent()).toContain('Failed at seq 0');
      expect(await badge.textContent()).not.toContain('Verified');
      await page.screenshot({ path: path.join(shots, 'bundle-header-edited.png') });
    }, 120_000);

    it('row deleted and segment deleted: reported missing by the API, both CLIs and the desktop', async () => {
      const rowGone = id('row deleted');
      const bytesGone = id('segment deleted');
      const db = new Database(path.join(dataDir, 'witness.sqlite'));
      try {
        expect(db.prepare('delete from recordings where session_id = ?').run(rowGone).changes).toBe(
          1,
        );
      } finally {
        db.close();
      }
      unlinkSync(readSegment(dataDir, bytesGone).file);

      // The API.
      await expect(api.getRecording(rowGone)).rejects.toMatchObject({
        status: 410,
        code: 'recording_missing',
      });
      const problems = (await api.listRecordingProblems()).problems;
      expect(problems.map((p) => `${p.kind} ${p.sessionId}`).sort()).toEqual(
        [`missing_bytes ${bytesGone}`, `missing_row ${rowGone}`].sort(),
      );
      const bytesMissing = /the recording's bytes are missing from storage/;
      await expectApiFails(bytesGone, 0, bytesMissing);

      // The CLIs.
      const exported = await witness([
        'recordings',
        'export',
        rowGone,
        '--format',
        'bundle',
        '-o',
        path.join(work, 'gone.wbundle'),
      ]);
      expect(exported.code).toBe(1);
      expect(exported.stderr).toMatch(/recording is missing/);
      const exportedBytes = await witness([
        'recordings',
        'export',
        bytesGone,
        '--format',
        'bundle',
        '-o',
        path.join(work, 'bytes-gone.wbundle'),
      ]);
      expect(exportedBytes.code).toBe(1);
      expect(exportedBytes.stderr).toMatch(/fails verification, so it is not exported/);
      expect(exportedBytes.stderr).toMatch(bytesMissing);
      const checked = await runNode(GATEWAY_BIN, [
        'admin',
        'check-recordings',
        '--data',
        dataDir,
        '--json',
      ]);
      expect(checked.code).toBe(EXIT_RECORDING_PROBLEMS);
      expect(
        JSON.parse(checked.stdout)
          .problems.map((p: { kind: string; sessionId: string }) => `${p.kind} ${p.sessionId}`)
          .sort(),
      ).toEqual([`missing_bytes ${bytesGone}`, `missing_row ${rowGone}`].sort());

      // The desktop: the list names both as missing; the one it still lists opens as missing.
      await showRecordings();
      const notice = page.getByRole('region', { name: 'Missing recordings' });
      await notice.waitFor();
      expect(await notice.getByRole('listitem').allTextContents()).toHaveLength(2);
      await notice.getByRole('listitem', { name: `Missing: ${rowGone}` }).waitFor();
      await notice.getByRole('listitem', { name: `Missing: ${bytesGone}` }).waitFor();
      expect(await notice.textContent()).toContain('2 recordings are missing');
      await page.screenshot({ path: path.join(shots, 'missing-notice.png') });
      expect(await sidebarVerdict(bytesGone)).toMatch(/^The recording of session \S+ is missing/);
      const badge = await desktopBadge(bytesGone);
      expect(badge).toMatch(/^\s*Missing/);
      expect(badge).toMatch(bytesMissing);
      expect(badge).not.toContain('Verified');
      await page.screenshot({ path: path.join(shots, 'segment-deleted-missing.png') });
      expect(pageErrors).toEqual([]);
    }, 120_000);
  });
});
