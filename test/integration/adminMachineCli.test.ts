/**
 * `witness admin machines list|add|remove` (issue #18), run in-process (runWitnessCli) against
 * a real gateway over HTTPS: an admin binds a CI job's identity to an issuer, an audience and
 * exact claims, lists it and removes it; flags a person can fix are usage errors (exit 2) and
 * the gateway's refusals reach the person as its sentences (exit 1).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWitnessCli } from '../../gateway-client/cli/witnessCli.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';

const PASSWORD = 'a-long-password-2';
const ISSUER = 'https://token.actions.githubusercontent.com';

function collector() {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { stream, text: () => text };
}

describe('machine identities from the witness CLI', () => {
  let gw: TestGateway;
  let work: string;

  const witness = async (who: string, args: string[], stdin = '') => {
    const input = new PassThrough();
    input.end(stdin);
    const stdout = collector();
    const stderr = collector();
    const code = await runWitnessCli(args, {
      stdin: input,
      stdout: stdout.stream,
      stderr: stderr.stream,
      env: {
        HOME: work,
        WITNESS_HOME: path.join(work, who),
        WITNESS_CREDENTIAL_STORE: 'file',
      },
      isTTY: false,
    });
    return { code, stdout: stdout.text(), stderr: stderr.text() };
  };

  beforeAll(async () => {
    gw = await startTestGateway();
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-machine-cli-'));
    for (const [name, role] of [
      ['root', 'admin'],
      ['erin', 'engineer'],
    ] as const) {
      await gw.createUser(name, role, PASSWORD, []);
      const login = await witness(
        name,
        [
          'login',
          gw.gateway.apiUrl,
          '--username',
          name,
          '--password-stdin',
          '--fingerprint',
          gw.gateway.services.keys.caFingerprint,
        ],
        `${PASSWORD}\n`,
      );
      expect(login.code, login.stderr).toBe(0);
    }
  }, 60_000);

  afterAll(async () => {
    await gw?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('adds, lists and removes a machine identity', async () => {
    const empty = await witness('root', ['admin', 'machines', 'list']);
    expect(empty.code, empty.stderr).toBe(0);
    expect(empty.stdout).toContain('There are no machine identities yet');

    const added = await witness('root', [
      'admin',
      'machines',
      'add',
      'ci-deploy',
      '--issuer',
      ISSUER,
      '--audience',
      'witness',
      '--claim',
      'repository=acme/app',
      '--claim',
      'ref=refs/heads/main',
      '--group',
      'deployers',
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(
      'Added machine identity ci-deploy (repository=acme/app ref=refs/heads/main)',
    );
    expect(added.stdout).toContain('witness admin grants add --user ci-deploy');

    const listed = await witness('root', ['admin', 'machines', 'list', '--json']);
    expect(listed.code, listed.stderr).toBe(0);
    const { identities } = JSON.parse(listed.stdout) as {
      identities: { name: string; issuer: string; audience: string; claims: object }[];
    };
    expect(identities).toEqual([
      expect.objectContaining({
        name: 'ci-deploy',
        issuer: ISSUER,
        audience: 'witness',
        claims: { repository: 'acme/app', ref: 'refs/heads/main' },
      }),
    ]);
    const table = await witness('root', ['admin', 'machines']);
    expect(table.stdout).toMatch(
      /ci-deploy\s+https:\/\/token\.actions[^\n]+witness\s+repository=acme\/app/,
    );
    // The identity is a user of the same name, in the groups it was given.
    const groups = await witness('root', ['admin', 'groups', 'list']);
    expect(groups.stdout).toMatch(/deployers\s+ci-deploy/);

    const removed = await witness('root', ['admin', 'machines', 'remove', 'ci-deploy']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('Removed machine identity ci-deploy.');
    const after = await witness('root', ['admin', 'machines', 'list']);
    expect(after.stdout).toContain('There are no machine identities yet');
  });

  it('says what is wrong: no claim, a claim without =, a standard claim, not an admin', async () => {
    const base = ['admin', 'machines', 'add', 'ci-x', '--issuer', ISSUER, '--audience', 'w'];
    const noClaim = await witness('root', base);
    expect(noClaim.code).toBe(2);
    expect(noClaim.stderr).toContain('Bind at least one claim with --claim KEY=VALUE');

    const bare = await witness('root', [...base, '--claim', 'repository']);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('write a claim as KEY=VALUE');

    const standard = await witness('root', [...base, '--claim', 'aud=other']);
    expect(standard.code).toBe(1);
    expect(standard.stderr).toContain('Bind aud with issuer and audience, not as claims');

    const notAdmin = await witness('erin', [...base, '--claim', 'repository=acme/app']);
    expect(notAdmin.code).toBe(1);
    expect(notAdmin.stderr).toMatch(/admin/i);
    const listed = await witness('root', ['admin', 'machines', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual({ identities: [] });
  });
});
