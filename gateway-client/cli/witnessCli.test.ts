/**
 * The `witness` CLI driven in-process against the fake gateway over real HTTPS. (The
 * end-to-end test against the real gateway binary lives with the cross-process tests.)
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { collectText } from '../../test/harness/textCollector.ts';
import { formatEnrollLink } from '../enrollLink.ts';
import { type FakeGateway, startFakeGateway } from '../fixtures/fakeGateway.ts';
import { createTestPki, type TestPki } from '../fixtures/testPki.ts';
import { runWitnessCli } from './witnessCli.ts';

let pki: TestPki;
let otherPki: TestPki;
let gateway: FakeGateway;
let home: string;
let configDir: string;

beforeAll(async () => {
  [pki, otherPki] = await Promise.all([createTestPki(), createTestPki({ caName: 'New CA' })]);
});

beforeEach(async () => {
  gateway = await startFakeGateway(pki);
  home = await fs.mkdtemp(path.join(os.tmpdir(), 'witness-cli-'));
  configDir = path.join(home, '.witness');
});

afterEach(async () => {
  await gateway.close();
  await fs.rm(home, { recursive: true, force: true });
});

async function witness(
  args: string[],
  options: { stdin?: string; isTTY?: boolean; env?: Record<string, string> } = {},
) {
  const stdin = new PassThrough();
  stdin.end(options.stdin ?? '');
  const stdout = collectText();
  const stderr = collectText();
  const code = await runWitnessCli(args, {
    stdin,
    stdout: stdout.stream,
    stderr: stderr.stream,
    env: {
      HOME: home,
      WITNESS_HOME: configDir,
      WITNESS_CREDENTIAL_STORE: 'file',
      ...options.env,
    },
    isTTY: options.isTTY ?? false,
  });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const readJson = async (file: string) =>
  JSON.parse(await fs.readFile(path.join(configDir, file), 'utf8'));

async function loginAlice() {
  const result = await witness(
    [
      'login',
      gateway.url,
      '--username',
      'alice',
      '--password-stdin',
      '--fingerprint',
      pki.caFingerprint,
    ],
    { stdin: 'alice-password-1\n' },
  );
  expect(result.stderr).not.toMatch(/^witness:/m);
  expect(result.code).toBe(0);
  return result;
}

describe('witness login', () => {
  it('pins the CA when --fingerprint matches and stores tokens apart from the profile', async () => {
    const result = await loginAlice();
    expect(result.stdout).toBe(
      `Signed in to ${gateway.url} as alice (engineer). ` +
        'Credentials stored in file ~/.witness/credentials.json (0600).\n',
    );
    expect(result.stderr).toContain(pki.caFingerprint);
    expect(result.stderr).toContain('It matches --fingerprint; pinning it.');

    const profile = await readJson('profile.json');
    expect(profile).toMatchObject({
      current: gateway.url,
      gateways: {
        [gateway.url]: { caFingerprint: pki.caFingerprint, username: 'alice', signedIn: true },
      },
    });
    expect(JSON.stringify(profile)).not.toMatch(/at_|rt_/);
    const credentials = await readJson('credentials.json');
    const stored = JSON.parse(credentials.secrets[`${gateway.url}#alice`]);
    expect(stored.refreshToken).toMatch(/^rt_/);
    expect(stored.accessToken).toMatch(/^at_/);
  });

  it('refuses first contact without confirmation when nobody can be asked', async () => {
    const result = await witness(['login', gateway.url, '-u', 'alice', '--password-stdin'], {
      stdin: 'alice-password-1',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(pki.caFingerprint);
    expect(result.stderr).toMatch(
      /witness: Refusing to trust the gateway at .* without confirmation .* --fingerprint <FINGERPRINT> \(or --yes/,
    );
    await expect(fs.access(path.join(configDir, 'profile.json'))).rejects.toThrow();
    expect(gateway.requests).toEqual([]);
  });

  it('refuses a CA that does not match --fingerprint, sending nothing', async () => {
    const result = await witness(
      [
        'login',
        gateway.url,
        '-u',
        'alice',
        '--password-stdin',
        '--fingerprint',
        otherPki.caFingerprint,
      ],
      { stdin: 'alice-password-1' },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/witness: Not trusting the gateway .* intercepting/);
    expect(gateway.requests).toEqual([]);
  });

  it('asks on a terminal: trust, user name, password', async () => {
    const declined = await witness(['login', gateway.url], { isTTY: true, stdin: 'n\n' });
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain('Trust this gateway? [y/N] ');
    expect(declined.stderr).toContain('witness: Not trusted; nothing was saved.');

    const accepted = await witness(['login', gateway.url], {
      isTTY: true,
      stdin: 'y\nalice\nalice-password-1\n',
    });
    expect(accepted.code).toBe(0);
    expect(accepted.stderr).toContain('Username: ');
    expect(accepted.stderr).toContain(`Password for alice at ${gateway.url}: `);
    expect(accepted.stdout).toMatch(/^Signed in to .* as alice \(engineer\)/);
  });

  it('asks for a TOTP code when the gateway requires one', async () => {
    const piped = await witness(['login', gateway.url, '-u', 'bob', '--password-stdin', '--yes'], {
      stdin: 'bob-password-12',
    });
    expect(piped.code).toBe(1);
    expect(piped.stderr).toContain(
      'witness: bob signs in with a TOTP code as well: pass --totp CODE.',
    );

    // A failed login saves nothing, so the trust question comes again (answered by --yes).
    const prompted = await witness(['login', gateway.url, '-u', 'bob', '--yes'], {
      isTTY: true,
      stdin: 'bob-password-12\n123456\n',
    });
    expect(prompted.stderr).toContain('TOTP code (from your authenticator app): ');
    expect(prompted.stdout).toMatch(/as bob \(admin\)/);

    const flag = await witness(
      ['login', gateway.url, '-u', 'bob', '--password-stdin', '--totp', '123456'],
      {
        stdin: 'bob-password-12',
      },
    );
    expect(flag.code).toBe(0);
  });

  it('ends the previous session when signing in again', async () => {
    await loginAlice();
    const first = gateway.liveRefreshTokens();
    await loginAlice();
    const second = gateway.liveRefreshTokens();
    expect(second).toHaveLength(1);
    expect(second).not.toEqual(first);
  });

  it('reports a wrong password as the gateway says it', async () => {
    const result = await witness(
      ['login', gateway.url, '-u', 'alice', '--password-stdin', '--yes'],
      {
        stdin: 'nope',
      },
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('witness: wrong user name or password\n');
  });

  it('refuses a gateway that now presents another CA, for login and for every command', async () => {
    await loginAlice();
    const port = gateway.port;
    await gateway.close();
    gateway = await startFakeGateway(otherPki, { port });

    const login = await witness(['login', gateway.url, '--password-stdin', '--yes'], {
      stdin: 'alice-password-1',
    });
    expect(login.code).toBe(1);
    expect(login.stderr).toContain(`witness: The gateway at ${gateway.url} now presents`);
    expect(login.stderr).toContain(`\`witness logout --forget ${gateway.url}\``);

    const whoami = await witness(['whoami']);
    expect(whoami.code).toBe(1);
    expect(whoami.stderr).toContain(`${pki.caFingerprint}\nwas pinned`);
    expect(gateway.requests).toEqual([]);

    // Re-pinning deliberately works.
    const forget = await witness(['logout', '--forget', gateway.url]);
    expect(forget.code).toBe(0);
    expect(forget.stdout).toContain('Forgot its pinned CA');
    const again = await witness(
      [
        'login',
        gateway.url,
        '-u',
        'alice',
        '--password-stdin',
        '--fingerprint',
        otherPki.caFingerprint,
      ],
      { stdin: 'alice-password-1' },
    );
    expect(again.code).toBe(0);
  });
});

describe('witness enroll', () => {
  it('pins the CA from the link, sets the password and signs in', async () => {
    gateway.enrollTokens.set('enroll-tok', 'alice');
    const link = formatEnrollLink({
      gateway: gateway.url,
      token: 'enroll-tok',
      fingerprint: pki.caFingerprint,
    });
    const result = await witness(['enroll', link, '--password-stdin'], {
      stdin: 'a-brand-new-password\n',
    });
    expect(result.stderr).toContain('It matches the enrollment link; pinning it.');
    expect(result.stderr).toContain(`Enrolled as alice at ${gateway.url}.`);
    expect(result.stdout).toMatch(/^Signed in to .* as alice \(engineer\)/);
    expect(result.code).toBe(0);
    expect(gateway.users.get('alice')?.password).toBe('a-brand-new-password');
  });

  it('refuses a link whose fingerprint the gateway does not present', async () => {
    gateway.enrollTokens.set('enroll-tok', 'alice');
    const link = formatEnrollLink({
      gateway: gateway.url,
      token: 'enroll-tok',
      fingerprint: otherPki.caFingerprint,
    });
    const result = await witness(['enroll', link, '--password-stdin'], {
      stdin: 'a-brand-new-password',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/but the enrollment link expects/);
    expect(gateway.enrollTokens.has('enroll-tok')).toBe(true);
  });

  it('checks the password locally and explains a bare token', async () => {
    const short = await witness(
      ['enroll', 'tok', '--gateway', gateway.url, '--password-stdin', '--yes'],
      { stdin: 'short' },
    );
    expect(short.code).toBe(1);
    expect(short.stderr).toContain('passwords need at least 10 characters');
    const bare = await witness(['enroll', 'tok', '--password-stdin'], { stdin: 'x' });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('--gateway URL');
  });
});

describe('signed-in commands', () => {
  it('say how to sign in when nobody is', async () => {
    const result = await witness(['resources']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'witness: Not signed in — run `witness login https://gateway:port` first.\n',
    );
  });

  it('list resources and grants as tables or JSON', async () => {
    await loginAlice();
    const table = await witness(['resources']);
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')).toEqual([
      'NAME     KIND      HOST:PORT         ACCESS       LABELS',
      'prod-db  postgres  db.internal:5432  granted      env=prod,team=payments',
      'web-1    ssh       10.0.0.5:22       requestable',
      '',
    ]);
    const json = await witness(['resources', '--json']);
    expect(JSON.parse(json.stdout).resources.map((r: { id: string }) => r.id)).toEqual([
      'r_db',
      'r_web',
    ]);
    const grants = await witness(['grants']);
    expect(grants.stdout).toContain('g_1  group:dev  resource:prod-db  standing  always  1h');
  });

  it('connect resolves a name, prints the session, and explains refusals', async () => {
    await loginAlice();
    const json = await witness(['connect', 'prod-db', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      sessionId: 's_1',
      ticket: 'ticket-secret',
      endpoint: { protocol: 'postgres', host: '127.0.0.1', port: 15432 },
    });
    const human = await witness(['connect', 'r_db']);
    expect(human.stdout).toContain('psql "host=127.0.0.1 port=15432 user=s_1 dbname=orders');
    expect(human.stdout).toContain('  ticket-secret');

    const unknown = await witness(['connect', 'nope']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      "witness: No resource named 'nope'. Run `witness resources` to see what you can use.\n",
    );
    const refused = await witness(['connect', 'web-1']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('witness: access to web-1 needs an approved access request\n');
  });

  it('refresh an expired access token and keep the rotated pair', async () => {
    await loginAlice();
    const before = (await readJson('credentials.json')).secrets[`${gateway.url}#alice`];
    gateway.expireAccessTokens();
    const result = await witness(['whoami']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`alice (engineer) at ${gateway.url}\ngroups: dev\nTOTP:   off\n`);
    const after = (await readJson('credentials.json')).secrets[`${gateway.url}#alice`];
    expect(JSON.parse(after).refreshToken).not.toBe(JSON.parse(before).refreshToken);
    expect(gateway.liveRefreshTokens()).toEqual([JSON.parse(after).refreshToken]);
  });

  it("say the sign-in was ended, in the gateway's words, when the refresh token is refused", async () => {
    await loginAlice();
    gateway.expireAccessTokens();
    gateway.revokeRefreshTokens();
    const result = await witness(['whoami']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `witness: You are signed out of ${gateway.url}: the gateway ended this sign-in ` +
        `(the refresh token is not valid). Run \`witness login ${gateway.url}\` to sign in again.\n`,
    );
  });

  it('say the gateway is down when it is', async () => {
    await loginAlice();
    const url = gateway.url;
    await gateway.close();
    gateway = await startFakeGateway(pki); // for afterEach; listens elsewhere
    const result = await witness(['whoami']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `witness: cannot reach the gateway at ${url}: ECONNREFUSED — is it running?\n`,
    );
  });
});

describe('witness logout', () => {
  it('revokes the session, deletes the credentials and keeps the pin (and the user name)', async () => {
    await loginAlice();
    const result = await witness(['logout']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`Signed out of ${gateway.url}.\n`);
    expect(gateway.liveRefreshTokens()).toEqual([]);
    expect((await readJson('credentials.json')).secrets).toEqual({});
    expect((await readJson('profile.json')).gateways[gateway.url]).toMatchObject({
      caFingerprint: pki.caFingerprint,
      signedIn: false,
    });
    expect((await witness(['whoami'])).stderr).toBe(
      `witness: Not signed in — run \`witness login ${gateway.url}\` first.\n`,
    );
    // The next login needs neither a user name nor a trust decision.
    const again = await witness(['login', gateway.url, '--password-stdin'], {
      stdin: 'alice-password-1',
    });
    expect(again.code).toBe(0);
  });
});

describe('usage errors', () => {
  it.each([
    [['frob'], /unknown command 'frob'/],
    [['login'], /missing required argument 'url'/],
    [['login', 'http://gw:8443', '--yes'], /must use https/],
    [['login', 'https://gw', '--fingerprint', 'xyz'], /--fingerprint must be a SHA-256/],
    [['enroll', 'witness://enroll?token=x'], /the gateway parameter is missing/],
  ])('%j exits 2', async (args, message) => {
    const result = await witness(args as string[]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).toMatch(/^witness: /);
  });

  it('help exits 0', async () => {
    const result = await witness(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('Usage: witness');
  });
});
