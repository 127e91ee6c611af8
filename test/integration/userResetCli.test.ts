/**
 * `witness admin users reset` run in-process (runWitnessCli) against a real gateway over HTTPS
 * (issue #14): the admin resets a user, the one-time token comes out on stdout as `users
 * create` prints it, the user's signed-in CLI is refused, and `witness enroll` with the token
 * sets a new password that signs in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InProcessCli, inProcessCli } from '../harness/cliInProcess.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';

const PASSWORD = 'a-long-password-1';
const NEW_PASSWORD = 'a-brand-new-password-2';

describe('witness admin users reset', () => {
  let gw: TestGateway;
  let cli: InProcessCli;
  /** Runs `witness …` as `who` (each person has their own config directory). */
  const witness = (who: string, args: string[], stdin?: string) => cli.run(who, args, stdin);
  const login = (who: string, password: string) => cli.login(who, password);

  beforeAll(async () => {
    gw = await startTestGateway();
    cli = inProcessCli(gw, 'witness-reset-cli-');
    await cli.addPeople(
      [
        ['root', 'admin'],
        ['erin', 'engineer'],
      ],
      PASSWORD,
    );
  });
  afterAll(async () => {
    await gw?.close();
    cli?.close();
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
