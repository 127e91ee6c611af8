/**
 * The README's "Try it", as a new user runs it (issue #14): the real `witness-gateway serve`
 * with its SSH and PostgreSQL listeners, the real `witness` binary in an empty temporary HOME,
 * and the commands in the README's order — the admin adds `web-1` and `orders-db` and the
 * grants with `witness admin …` alone (no hand-written HTTP), and an admin without a grant is
 * told the command that adds one. Only the hosts differ: a real sshd and the run's PostgreSQL.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { fingerprintOfKeyBlob, parsePublicKeyLine } from '../../gateway/proxy/ssh/sshHostKey.ts';
import {
  type CommandResult,
  GATEWAY_BIN,
  type GatewayProcess,
  runNode,
  spawnGateway,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { itNeeding } from '../harness/needs.ts';
import { freshPostgresDatabase, postgresUnavailableReason } from '../harness/postgresForTests.ts';
import { PSQL_BIN } from '../harness/postgresTestBed.ts';
import {
  describeWithSshd,
  type RunningSshd,
  sshClientUnavailableReason,
  startSshd,
} from '../harness/sshd.ts';

const ADMIN_PASSWORD = 'root-password-1';

function psqlUnavailableReason(): string | undefined {
  try {
    readFileSync(PSQL_BIN);
    return undefined;
  } catch {
    return `psql is not installed at ${PSQL_BIN}`;
  }
}

describeWithSshd("the README's Try it, with the CLI alone", () => {
  let work: string;
  let home: string;
  let sshd: RunningSshd;
  let gateway: GatewayProcess;
  let database: URL;

  /** `npx witness …` for a new user: an empty HOME, no WITNESS_HOME or XDG_CONFIG_HOME. */
  const witness = async (args: string[], stdin?: string): Promise<CommandResult> =>
    runNode(WITNESS_BIN, args, {
      env: {
        HOME: home,
        WITNESS_HOME: '',
        XDG_CONFIG_HOME: '',
        // No keychain daemon on a test machine: the file store the CLI falls back to.
        WITNESS_CREDENTIAL_STORE: 'file',
      },
      ...(stdin !== undefined && { stdin }),
    });
  const ok = async (args: string[], stdin?: string): Promise<CommandResult> => {
    const result = await witness(args, stdin);
    expect(result.code, `witness ${args.join(' ')}\n${result.stderr}`).toBe(0);
    return result;
  };

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-try-it-'));
    home = path.join(work, 'home');
    sshd = await startSshd();
    database = new URL(
      postgresUnavailableReason() === undefined
        ? await freshPostgresDatabase()
        : 'postgres://none:none@127.0.0.1:1/none',
    );
    // As the README's terminal 1, on free ports.
    gateway = await spawnGateway([
      '--data',
      path.join(work, 'gw'),
      '--api',
      '127.0.0.1:0',
      '--ssh',
      '127.0.0.1:0',
      '--postgres',
      '127.0.0.1:0',
    ]);
  });
  afterAll(async () => {
    await gateway?.stop();
    await sshd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const it = itNeeding(
    sshClientUnavailableReason() ?? postgresUnavailableReason() ?? psqlUnavailableReason(),
  );

  it('runs as written: listeners, enroll, add resources and grants, connect, record', async () => {
    expect(gateway.ready.ssh).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(gateway.ready.postgres).toMatch(/^127\.0\.0\.1:\d+$/);

    const created = await runNode(GATEWAY_BIN, [
      'admin',
      'create-user',
      '--data',
      path.join(work, 'gw'),
      '--username',
      'root',
      '--role',
      'admin',
    ]);
    expect(created.code, created.stderr).toBe(0);
    await ok(['enroll', created.stdout.trim(), '--password-stdin'], `${ADMIN_PASSWORD}\n`);
    expect((await ok(['whoami'])).stdout).toMatch(/root \(admin\)/);

    // An admin with nothing yet is told how to add it, not to ask an admin.
    expect((await ok(['resources'])).stdout).toMatch(/witness admin resources add-ssh/);

    // add-ssh with a generated key: the scan's fingerprint confirmed non-interactively, as the
    // README says scripts do; without a terminal and without it, the CLI refuses to guess.
    const addSsh = [
      'admin',
      'resources',
      'add-ssh',
      'web-1',
      '--host',
      sshd.host,
      '--port',
      String(sshd.port),
      '--user',
      sshd.user,
      '--generate-key',
    ];
    const unconfirmed = await witness(addSsh);
    expect(unconfirmed.code).toBe(2);
    expect(unconfirmed.stderr).toMatch(/presents the ssh-ed25519 host key SHA256:/);
    expect(unconfirmed.stderr).toMatch(/pass --fingerprint SHA256/);
    const pinned = parsePublicKeyLine(sshd.hostKeyLine);
    if (!pinned) throw new Error('sshd host key line does not parse');
    const added = await ok([...addSsh, '--fingerprint', fingerprintOfKeyBlob(pinned.blob)]);
    expect(added.stdout).toMatch(/Added ssh resource web-1/);
    expect(added.stderr).toMatch(/append it to ~\/\.ssh\/authorized_keys/);
    const publicKey = added.stdout.trim().split('\n').at(-1) ?? '';
    expect(publicKey).toMatch(/^ssh-ed25519 \S+ witness-gateway:web-1$/);
    // Before the key is installed the test says the login fails, and exits 1.
    const beforeInstall = await witness(['admin', 'resources', 'test', 'web-1']);
    expect(beforeInstall.code).toBe(1);
    expect(beforeInstall.stdout).toMatch(/FAIL auth/);
    sshd.authorizeKey(publicKey);

    await ok(
      [
        'admin',
        'resources',
        'add-postgres',
        'orders-db',
        '--host',
        database.hostname,
        '--port',
        database.port,
        '--database',
        database.pathname.slice(1),
        '--user',
        decodeURIComponent(database.username),
        // The test cluster has no TLS; the README's default (prefer) would work too.
        '--tls',
        'disable',
        '--password-stdin',
      ],
      `${decodeURIComponent(database.password)}\n`,
    );
    const sshTest = await ok(['admin', 'resources', 'test', 'web-1']);
    expect(sshTest.stdout).toMatch(/^Reached web-1/);
    expect(sshTest.stdout).toMatch(/ok {3}host_key/);
    expect((await ok(['admin', 'resources', 'test', 'orders-db'])).stdout).toMatch(
      /^Reached orders-db/,
    );
    const listed = await ok(['resources']);
    expect(listed.stdout).toMatch(/web-1 +ssh/);
    expect(listed.stdout).toMatch(/orders-db +postgres/);

    const refused = await witness(['ssh', 'web-1', '--', 'uname', '-a']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'add a grant: witness admin grants add --user root --resource web-1',
    );
    expect(refused.stderr).not.toMatch(/ask an admin/i);

    await ok(['admin', 'grants', 'add', '--user', 'root', '--resource', 'web-1']);
    await ok(['admin', 'grants', 'add', '--user', 'root', '--resource', 'orders-db']);

    const connected = JSON.parse((await ok(['connect', 'web-1', '--json'])).stdout);
    expect(connected.ticket).toMatch(/^wtk_/);
    const uname = await ok(['ssh', 'web-1', '--', 'uname', '-a']);
    expect(uname.stdout).toMatch(/Linux/);
    const psql = await ok(['psql', 'orders-db', '--', '-At', '-c', 'select 40 + 2']);
    expect(psql.stdout.trim()).toBe('42');
    const recordings = await ok(['recordings', 'list']);
    expect(recordings.stdout).toMatch(/web-1/);
    expect(recordings.stdout).toMatch(/orders-db/);
  }, 120_000);
});
