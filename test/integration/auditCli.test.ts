/**
 * `witness audit list|export|verify`, run in-process against a real gateway (issue #14): an
 * auditor lists and exports the log; `verify` passes an untouched export with the key from
 * --key or the pinned gateway's, and names the first bad seq and why for each way of tampering
 * with an export: an edited entry, a dropped entry, a forged checkpoint signature.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditCheckpointSigningBytes } from '../../shared/recording/auditChain.ts';
import { type InProcessCli, inProcessCli } from '../harness/cliInProcess.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';

const PASSWORD = 'a-long-password-1';

describe('the audit log from the witness CLI', () => {
  let gw: TestGateway;
  let work: string;
  let exportFile: string;
  let keyFile: string;
  let lines: Record<string, unknown>[];

  let cli: InProcessCli;
  /** Runs `witness …` as `who` (each person has their own config directory). */
  const witness = (who: string, args: string[], stdin?: string) => cli.run(who, args, stdin);
  /** Writes a tampered copy of the export and verifies it with the gateway's key. */
  const verifyTampered = async (name: string, edit: (copy: Record<string, unknown>[]) => void) => {
    const copy = lines.map((line) => ({ ...line }));
    edit(copy);
    const file = path.join(work, `${name}.jsonl`);
    writeFileSync(file, `${copy.map((line) => JSON.stringify(line)).join('\n')}\n`);
    return witness('audra', ['audit', 'verify', file, '--key', keyFile]);
  };
  const entryIndex = (copy: Record<string, unknown>[], seq: number) =>
    copy.findIndex((line) => line.type === 'entry' && line.seq === seq);

  beforeAll(async () => {
    gw = await startTestGateway();
    cli = inProcessCli(gw, 'witness-audit-cli-');
    work = cli.dir;
    await cli.addPeople(
      [
        ['root', 'admin'],
        ['audra', 'auditor'],
        ['erin', 'engineer'],
      ],
      PASSWORD,
    );
    const token = await gw.login('root', PASSWORD);
    for (const name of ['web-1', 'web-2', 'web-3', 'web-4']) {
      const created = await gw.request('POST', '/v1/resources', {
        token,
        body: { name, target: { kind: 'ssh', host: '127.0.0.1', port: 22, username: 'deploy' } },
      });
      expect(created.status).toBe(201);
    }
    const refused = await gw.request('POST', '/v1/sessions', {
      token: await gw.login('erin', PASSWORD),
      body: { resourceId: 'web-1' },
    });
    expect(refused.status).toBe(403);
    keyFile = path.join(work, 'gateway-recording-key.pem');
    writeFileSync(keyFile, gw.gateway.services.keys.recordingKey.publicKeyPem);
    exportFile = path.join(work, 'audit.jsonl');
    const exported = await witness('audra', ['audit', 'export', '--output', exportFile]);
    expect(exported.code, exported.stderr).toBe(0);
    lines = readFileSync(exportFile, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
  });
  afterAll(async () => {
    await gw?.close();
    cli?.close();
  });

  it('lists entries newest first, filtered by actor and action', async () => {
    const all = await witness('audra', ['audit', 'list']);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.split('\n')[0]).toMatch(/^SEQ\s+TIME\s+ACTOR\s+ACTION\s+OUTCOME\s+TARGET/);
    const refused = await witness('audra', [
      'audit',
      'list',
      '--actor',
      'erin',
      '--action',
      'session',
    ]);
    expect(refused.stdout).toMatch(
      /erin\s+session\.refused\s+refused\s+\/resources\/web-1 — You have no active grant/,
    );
    const created = await witness('root', [
      'audit',
      'list',
      '--action',
      'admin.createResource',
      '--since',
      '1h',
    ]);
    expect(created.stdout.trim().split('\n')).toHaveLength(5);
    const engineer = await witness('erin', ['audit', 'list']);
    expect(engineer.code).toBe(1);
    expect(engineer.stderr).toMatch(/needs the admin or auditor role/);
  });

  it('exports to standard output too', async () => {
    const piped = await witness('root', ['audit', 'export']);
    expect(piped.code, piped.stderr).toBe(0);
    expect(JSON.parse(piped.stdout.split('\n')[0] as string)).toMatchObject({ type: 'audit-log' });
  });

  it('verifies an untouched export with --key and with the pinned gateway’s key', async () => {
    const entries = lines.filter((line) => line.type === 'entry').length;
    const withKey = await witness('audra', ['audit', 'verify', exportFile, '--key', keyFile]);
    expect(withKey.code, withKey.stderr).toBe(0);
    expect(withKey.stdout).toContain(
      `verified ${entries} entries up to seq ${entries} (last signed checkpoint at seq ${entries})`,
    );
    const pinned = await witness('audra', ['audit', 'verify', exportFile]);
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.stdout).toMatch(/fetched over its pinned CA/);
  });

  it('names an edited entry', async () => {
    const result = await verifyTampered('edited', (copy) => {
      const at = entryIndex(copy, 3);
      copy[at] = { ...copy[at], target: '/resources/someone-else' };
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('FAILED at seq 3: seq 3 was edited');
    expect(result.stderr).toContain('failed verification at seq 3');
  });

  it('names a dropped entry', async () => {
    const result = await verifyTampered('dropped', (copy) => {
      copy.splice(entryIndex(copy, 2), 1);
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain('FAILED at seq 2: seq 2 is missing');
  });

  it('names a forged checkpoint signature', async () => {
    const impostor = generateKeyPairSync('ed25519');
    const result = await verifyTampered('forged', (copy) => {
      const at = copy.findLastIndex((line) => line.type === 'checkpoint');
      const checkpoint = copy[at] as { seq: number; hash: string; time: number; keyId: string };
      const bytes = auditCheckpointSigningBytes({
        ...checkpoint,
        hash: Buffer.from(checkpoint.hash, 'hex'),
      });
      copy[at] = {
        ...checkpoint,
        signature: sign(null, bytes, impostor.privateKey).toString('base64'),
      };
    });
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(
      /FAILED at seq \d+: the checkpoint at seq \d+ has a signature the gateway's key did not make/,
    );
  });

  it('refuses to call entries verified that no checkpoint signs', async () => {
    const result = await verifyTampered('unsigned', (copy) => {
      copy.splice(
        copy.findLastIndex((line) => line.type === 'checkpoint'),
        1,
      );
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/is not verified past seq/);
  });
});
