/**
 * `witness admin users reset` run in-process (runWitnessCli) against a real gateway over HTTPS
 * (issue #14): the admin resets a user, the one-time token comes out on stdout as `users
 * create` prints it, the user's signed-in CLI is refused, and `witness enroll` with the token
 * sets a new password that signs in.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWitnessCli } from '../../gateway-client/cli/witnessCli.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';

const PASSWORD = 'a-long-password-1';
const NEW_PASSWORD = 'a-brand-new-password-2';

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

describe('witness admin users reset', () => {
  let gw: TestGateway;
  let work: string;

  /** Runs `witness …` as `who` (each person has their own config directory). */
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
  const login = (who: string, password: string) =>
    witness(
      who,
      [
        'login',
        gw.gateway.apiUrl,
        '--username',
        who,
        '--password-stdin',
        '--fingerprint',
        gw.gateway.services.keys.caFingerprint,
      ],
      `${password}\n`,
    );

  beforeAll(async () => {
    gw = await startTestGateway();
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-reset-cli-'));
    await gw.createUser('root', 'admin', PASSWORD);
    await gw.createUser('erin', 'engineer', PASSWORD);
    for (const name of ['root', 'erin']) {
      const signedIn = await login(name, PASSWORD);
      expect(signedIn.code, signedIn.stderr).toBe(0);
    }
  });
  afterAll(async () => {
    await gw?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('resets both by default, prints the token, and the token enrolls a new password', async () => {
    const reset = await witness('root', ['admin', 'users', 'reset', 'erin']);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stderr).toMatch(
      /Reset the password and TOTP of erin; their sign-ins were revoked/,
    );
    expect(reset.stderr).toMatch(/one-time enrollment token to erin/);
    const token = reset.stdout.trim();
    expect(token).toMatch(/^wen_[A-Za-z0-9_-]+$/);

    // Erin's stored sign-in was revoked: the next call says so.
    const whoami = await witness('erin', ['whoami']);
    expect(whoami.code).not.toBe(0);
    expect(whoami.stderr).toMatch(/sign in again/i);
    expect((await login('erin', PASSWORD)).code).not.toBe(0);

    const enrolled = await witness(
      'erin',
      [
        'enroll',
        token,
        '--gateway',
        gw.gateway.apiUrl,
        '--password-stdin',
        '--fingerprint',
        gw.gateway.services.keys.caFingerprint,
      ],
      `${NEW_PASSWORD}\n`,
    );
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const again = await witness('erin', ['whoami']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/erin/);
  });

  it('resets TOTP alone without a token, and refuses resetting yourself', async () => {
    const totpOnly = await witness('root', ['admin', 'users', 'reset', 'erin', '--totp', '--json']);
    expect(totpOnly.code, totpOnly.stderr).toBe(0);
    expect(JSON.parse(totpOnly.stdout)).toMatchObject({
      reset: { password: false, totp: true },
      enrollment: null,
    });
    const self = await witness('root', ['admin', 'users', 'reset', 'root', '--password']);
    expect(self.code).not.toBe(0);
    expect(self.stderr).toMatch(/cannot reset your own/);
  });
});
