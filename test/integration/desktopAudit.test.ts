/**
 * The desktop's audit calls against a real gateway (issue #14): `audit.list` pages and filters
 * through the gateway, `audit.verify` is done in main against the pinned recording key (and
 * catches an entry edited in the gateway's database), `audit.export` saves JSON lines that
 * verify offline; an engineer is refused.
 */
import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQLITE_FILE_NAME } from '../../gateway/index.ts';
import type { DesktopApp } from '../../main/services/desktopApp.ts';
import { verifyAuditExport } from '../../shared/recording/verifyAuditLog.ts';
import { type DesktopForTest, openDesktopForTest } from '../harness/desktopForTests.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';
import { testEncryptor } from '../harness/testEncryptor.ts';

const PASSWORD = 'a-long-password-1';

describe('the audit log in the desktop (main services, real gateway)', () => {
  let gw: TestGateway;
  const dirs: string[] = [];
  const apps: DesktopApp[] = [];
  const encryptor = testEncryptor();

  async function signedIn(username: string): Promise<DesktopForTest> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-audit-desktop-'));
    dirs.push(dir);
    const desktop = await openDesktopForTest({ dir, encryptor, wire: [] });
    apps.push(desktop.app);
    await desktop.call('gateway.pin', {
      url: gw.gateway.apiUrl,
      caFingerprint: gw.gateway.services.keys.caFingerprint,
    });
    await desktop.call('account.login', { username, password: PASSWORD });
    return desktop;
  }

  beforeAll(async () => {
    gw = await startTestGateway();
    await gw.createUser('root', 'admin', PASSWORD);
    await gw.createUser('audra', 'auditor', PASSWORD);
    await gw.createUser('erin', 'engineer', PASSWORD);
    const token = await gw.login('root', PASSWORD);
    for (const name of ['web-1', 'web-2', 'web-3']) {
      const created = await gw.request('POST', '/v1/resources', {
        token,
        body: { name, target: { kind: 'ssh', host: '127.0.0.1', port: 22, username: 'deploy' } },
      });
      expect(created.status).toBe(201);
    }
  });
  afterAll(async () => {
    for (const app of apps) await app.dispose();
    await gw?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('lists, filters and pages entries, newest first', async () => {
    const audra = await signedIn('audra');
    const all = await audra.call('audit.list', {});
    expect(all.entries.map((e) => e.action)).toEqual([
      'admin.createResource',
      'admin.createResource',
      'admin.createResource',
    ]);
    expect(all.entries[0]).toMatchObject({ seq: 3, actorName: 'root', outcome: 'succeeded' });
    expect(JSON.parse(all.entries[0]?.details ?? '')).toMatchObject({ body: { name: 'web-3' } });
    const page = await audra.call('audit.list', { limit: 2 });
    expect(page.nextCursor).toBe('2');
    const older = await audra.call('audit.list', { limit: 2, cursor: page.nextCursor ?? '' });
    expect(older.entries.map((e) => e.seq)).toEqual([1]);
    expect((await audra.call('audit.list', { q: 'web-2' })).entries.map((e) => e.seq)).toEqual([2]);
  });

  it('verifies in main against the pinned key, and saves an export that verifies offline', async () => {
    const audra = await signedIn('audra');
    const verdict = await audra.call('audit.verify', {});
    expect(verdict).toMatchObject({ ok: true, firstBadSeq: null });
    expect(verdict.message).toMatch(
      /^verified \d+ entries up to seq (\d+) \(last signed checkpoint at seq \1\)$/,
    );
    const saved = await audra.call('audit.export', { exportId: 'audit-1' });
    expect(saved.fileName).toBe('audit-log.jsonl');
    const text = await fs.readFile(saved.savedTo, 'utf8');
    const result = await verifyAuditExport(
      text,
      gw.gateway.services.keys.recordingKey.publicKeyPem,
    );
    expect(result.ok).toBe(true);
  });

  it('refuses engineers', async () => {
    const erin = await signedIn('erin');
    await expect(erin.call('audit.list', {})).rejects.toMatchObject({ code: 'forbidden' });
    await expect(erin.call('audit.verify', {})).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('names an entry edited in the gateway’s database', async () => {
    const audra = await signedIn('audra');
    // Someone with the database file rewrites what happened.
    const database = new SqliteDatabase(path.join(gw.dataDir, SQLITE_FILE_NAME));
    try {
      database.prepare("update audit_entries set outcome = 'refused' where seq = 2").run();
    } finally {
      database.close();
    }
    const verdict = await audra.call('audit.verify', {});
    expect(verdict).toMatchObject({ ok: false, firstBadSeq: 2 });
    expect(verdict.message).toMatch(/^FAILED at seq 2: seq 2 was edited/);
  });
});
