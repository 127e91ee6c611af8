/**
 * A real OpenSSH `sshd` for tests: loopback only, a free port, a temp host key, a temp
 * authorized_keys holding a fresh client key, run in the foreground (`-D -e`) so it dies with
 * the test and logs to stderr. The login user is the one running the tests (root in CI and
 * containers — allowed with a key only), so no account is created.
 *
 * `describeWithSshd` follows postgresForTests.ts: without sshd the suite FAILS on CI (`CI`
 * set: CI installs openssh-server, so a missing one is a broken pipeline) and is otherwise
 * skipped with the reason printed and in the suite's name.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import ssh2, { type Client, type ConnectConfig } from 'ssh2';
import { describe, it } from 'vitest';
import { handleReplicaEvents } from '../../gateway/events/replicaEventHandlers.ts';
import { silentLogger } from '../../gateway/logger.ts';
import { MemoryRecorderFactory } from '../../gateway/proxy/ssh/fixtures/memoryRecorder.ts';
import { type RunningSshGateway, startSshGateway } from '../../gateway/proxy/ssh/index.ts';
import type { RecorderFactory } from '../../gateway/recorder/sessionRecorder.ts';
import { startTestGateway, type TestGateway } from './gatewayForTests.ts';

export interface RunningSshd {
  host: string;
  port: number;
  /** The server's host key, `ssh-ed25519 AAAA…` — what a resource pins. */
  hostKeyLine: string;
  /** OpenSSH private key allowed to log in as `user`. */
  clientPrivateKey: string;
  user: string;
  /** The listening sshd's process id (its reaped children are the sessions it served). */
  pid: number | undefined;
  /** Everything sshd wrote to stderr so far (its log). */
  log(): string;
  /** Appends a public key line to the login user's authorized_keys (a key the gateway made). */
  authorizeKey(publicKeyLine: string): void;
  stop(): Promise<void>;
}

const SSHD_CANDIDATES = ['/usr/sbin/sshd', '/usr/bin/sshd', '/usr/local/sbin/sshd'];
const HOST = '127.0.0.1';

function findSshd(): string | undefined {
  return SSHD_CANDIDATES.find((path) => existsSync(path));
}

function findOnPath(binary: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, binary))) return join(dir, binary);
  }
  return undefined;
}

/** Why no sshd can run here, or undefined when one can. */
export function sshdUnavailableReason(): string | undefined {
  if (!findSshd()) {
    return 'OpenSSH sshd is not installed (apt-get install openssh-server)';
  }
  if (!findOnPath('ssh-keygen')) {
    return 'ssh-keygen is not installed (apt-get install openssh-client)';
  }
  return undefined;
}

/** Why the OpenSSH client (`ssh`) cannot be used here, or undefined. */
export function sshClientUnavailableReason(): string | undefined {
  return findOnPath('ssh')
    ? undefined
    : 'the OpenSSH client is not installed (apt-get install openssh-client)';
}

/** `describe` for suites that need a real sshd; see the module comment for the no-sshd case. */
export function describeWithSshd(name: string, body: () => void): void {
  const reason = sshdUnavailableReason();
  if (reason === undefined) {
    describe(name, body);
  } else if (process.env.CI) {
    describe(name, () => {
      it('needs OpenSSH sshd, which CI must provide', () => {
        throw new Error(`sshd is not available: ${reason}`);
      });
    });
  } else {
    console.warn(`[test harness] skipping "${name}": ${reason}`);
    describe.skip(`${name} (skipped: ${reason})`, body);
  }
}

/**
 * `loginAs`: when the tests run as root, log in to the target as this other local user. sshd
 * runs a root login without post-authentication privilege separation, and then refuses the
 * SSH `signal` request ("session signalling requires privilege separation"); tests of signals
 * reaching the target need a non-root login (issue #14).
 */
export async function startSshd(options: { loginAs?: string } = {}): Promise<RunningSshd> {
  const sshd = findSshd();
  if (!sshd) throw new Error('OpenSSH sshd is not installed: apt-get install openssh-server');
  const isRoot = process.getuid?.() === 0;
  const user = isRoot && options.loginAs ? options.loginAs : userInfo().username;
  if (isRoot && !existsSync('/run/sshd')) {
    // sshd's privilege-separation directory; the Debian package creates it at boot.
    mkdirSync('/run/sshd', { mode: 0o755 });
  }
  const dir = mkdtempSync(join(tmpdir(), 'witness-sshd-'));
  try {
    const hostKeyFile = join(dir, 'ssh_host_ed25519_key');
    const clientKeyFile = join(dir, 'client_ed25519');
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'witness-test-host',
      '-f',
      hostKeyFile,
    ]);
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      'witness-test-client',
      '-f',
      clientKeyFile,
    ]);
    const hostKeyLine = readFileSync(`${hostKeyFile}.pub`, 'utf8')
      .trim()
      .split(/\s+/)
      .slice(0, 2)
      .join(' ');
    const authorizedKeys = join(dir, 'authorized_keys');
    writeFileSync(authorizedKeys, readFileSync(`${clientKeyFile}.pub`), { mode: 0o600 });
    if (user !== userInfo().username) {
      // sshd reads the authorized keys as the user logging in.
      const { uid, gid } = userIds(user);
      chmodSync(dir, 0o755);
      chownSync(authorizedKeys, uid, gid);
    }

    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      const configFile = join(dir, 'sshd_config');
      writeFileSync(
        configFile,
        [
          `ListenAddress ${HOST}:${port}`,
          `HostKey ${hostKeyFile}`,
          `AuthorizedKeysFile ${authorizedKeys}`,
          'PubkeyAuthentication yes',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          isRoot ? 'PermitRootLogin prohibit-password' : '',
          // Without PAM sshd refuses locked accounts ('!' in /etc/shadow), which is what
          // service users such as `postgres` are; with it, key logins to them work.
          user === userInfo().username ? 'UsePAM no' : 'UsePAM yes',
          'StrictModes no',
          'PidFile none',
          'Subsystem sftp internal-sftp',
          // The gateway decides which variables pass (its allowlist); sshd accepts more so the
          // tests can see the gateway's filter at work.
          'AcceptEnv LANG LC_* TZ WITNESS_TEST_*',
          'PrintMotd no',
          'PrintLastLog no',
          'MaxStartups 100:30:200',
          'LogLevel INFO',
        ]
          .filter((line) => line !== '')
          .join('\n')
          .concat('\n'),
      );
      const child = spawn(sshd, ['-D', '-e', '-f', configFile], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let log = '';
      child.stderr?.on('data', (chunk: Buffer) => {
        log += chunk.toString();
      });
      const started = await waitForListening(child, () => log, port);
      if (started === 'listening') {
        const exited = new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) resolve();
          else child.once('exit', () => resolve());
        });
        return {
          host: HOST,
          port,
          hostKeyLine,
          clientPrivateKey: readFileSync(clientKeyFile, 'utf8'),
          user,
          pid: child.pid,
          log: () => log,
          authorizeKey(publicKeyLine) {
            appendFileSync(authorizedKeys, `${publicKeyLine.trim()}\n`);
          },
          async stop() {
            if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
              child.kill('SIGTERM');
            }
            await exited;
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      if (started === 'port-taken' && attempt < 5) continue;
      throw new Error(`sshd did not start: ${log.trim() || 'no output'}`);
    }
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function waitForListening(
  child: ChildProcess,
  log: () => string,
  port: number,
): Promise<'listening' | 'port-taken' | 'failed'> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      finish('failed');
      if (child.pid !== undefined && child.exitCode === null) child.kill('SIGKILL');
    }, 10_000);
    const onData = () => {
      if (log().includes(`Server listening on ${HOST} port ${port}`)) finish('listening');
    };
    const onExit = () =>
      finish(/Address already in use|Bind to port/.test(log()) ? 'port-taken' : 'failed');
    const finish = (result: 'listening' | 'port-taken' | 'failed') => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      resolve(result);
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** The uid and gid of a local user, from /etc/passwd. */
function userIds(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((entry) => entry.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`there is no local user ${name}`);
  return { uid: Number(uid), gid: Number(gid) };
}

/** A port that was free a moment ago (bind port 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

// ---------------------------------------------------------------------------------------------
// A gateway in this process, its SSH listener, and a real sshd behind it.

export interface SshTestBed {
  sshd: RunningSshd;
  gw: TestGateway;
  ssh: RunningSshGateway;
  /** Recorder used for new sessions; tests swap in the memory fake for fault injection. */
  recorders: { current: RecorderFactory };
  memory: MemoryRecorderFactory;
  adminToken: string;
  engineerToken: string;
  /** The resource behind sshd, with the right pinned key and the client key as credential. */
  resourceName: string;
  /** Creates a resource pointing at sshd (hostKey as given) plus a standing grant for the engineer. */
  addResource(
    name: string,
    options?: { hostKey?: string | null; maxSessionSeconds?: number },
  ): Promise<string>;
  /** POST /v1/sessions as the engineer. */
  newSession(resource?: string): Promise<{ sessionId: string; ticket: string; expiresAt: string }>;
  /** ssh2 Client logged in to the gateway with the ticket (password method). */
  connect(sessionId: string, ticket: string, extra?: Partial<ConnectConfig>): Promise<Client>;
  close(): Promise<void>;
}

const ENGINEER_PASSWORD = 'engineer-password-1';
const ADMIN_PASSWORD = 'admin-password-12';

export async function startSshTestBed(
  options: { allowDirectTcpip?: boolean } = {},
): Promise<SshTestBed> {
  const sshd = await startSshd();
  let gw: TestGateway | undefined;
  try {
    gw = await startTestGateway();
    const services = gw.gateway.services;
    const memory = new MemoryRecorderFactory();
    const recorders = { current: services.recorder as RecorderFactory };
    const ssh = await startSshGateway({
      dataDir: gw.dataDir,
      listen: { host: '127.0.0.1', port: 0 },
      sessions: services.sessions,
      resources: services.resources,
      store: services.store,
      recorders: { start: (session) => recorders.current.start(session) },
      clock: gw.clock,
      log: {
        info: (message, fields) =>
          gw?.logLines.push(JSON.stringify({ level: 'info', message, ...fields })),
        warn: (message, fields) =>
          gw?.logLines.push(JSON.stringify({ level: 'warn', message, ...fields })),
        error: (message, fields) =>
          gw?.logLines.push(JSON.stringify({ level: 'error', message, ...fields })),
      },
      allowDirectTcpip: options.allowDirectTcpip ?? false,
    });
    // What gateway/index.ts does with `serve --ssh`: session endpoints name the listener,
    // /v1/keys serves its host key. (This bed runs its own listener so tests can swap the
    // recorder for a failing one.)
    services.listeners.ssh = ssh.address;
    services.keys.sshHostKey = ssh.hostKey.publicKeyLine;
    // Its own registry hears the bus as the gateway's does: a terminate or revoke is announced
    // there (issue #17), and the row poll is only a slow safety net.
    const stopHearing = handleReplicaEvents(services.bus, {
      liveSessions: ssh.liveSessions,
      liveWatches: services.liveWatches,
      requestEvents: services.requestEvents,
      store: services.store,
      instanceId: services.instanceId,
      log: silentLogger,
    });

    const testGateway = gw;
    await testGateway.createUser('root-admin', 'admin', ADMIN_PASSWORD);
    const engineerId = await testGateway.createUser('alice', 'engineer', ENGINEER_PASSWORD);
    const adminToken = await testGateway.login('root-admin', ADMIN_PASSWORD);
    const engineerToken = await testGateway.login('alice', ENGINEER_PASSWORD);

    const addResource: SshTestBed['addResource'] = async (name, resourceOptions = {}) => {
      const created = await testGateway.request('POST', '/v1/resources', {
        token: adminToken,
        body: {
          name,
          target: {
            kind: 'ssh',
            host: sshd.host,
            port: sshd.port,
            username: sshd.user,
            hostKey:
              resourceOptions.hostKey === undefined ? sshd.hostKeyLine : resourceOptions.hostKey,
          },
          secret: { privateKey: sshd.clientPrivateKey },
        },
      });
      if (created.status !== 201) throw new Error(`creating ${name} failed: ${created.text}`);
      const grant = await testGateway.request('POST', '/v1/grants', {
        token: adminToken,
        body: {
          subject: { kind: 'user', userId: engineerId },
          target: { kind: 'resource', resourceId: created.json.id },
          maxSessionSeconds: resourceOptions.maxSessionSeconds ?? 3600,
        },
      });
      if (grant.status !== 201) throw new Error(`granting ${name} failed: ${grant.text}`);
      return created.json.id as string;
    };
    await addResource('web-1');

    return {
      sshd,
      gw: testGateway,
      ssh,
      recorders,
      memory,
      adminToken,
      engineerToken,
      resourceName: 'web-1',
      addResource,
      async newSession(resource = 'web-1') {
        const resources = await testGateway.request('GET', '/v1/resources', {
          token: engineerToken,
        });
        const found = resources.json.resources.find((r: { name: string }) => r.name === resource);
        if (!found) throw new Error(`no resource ${resource}`);
        const created = await testGateway.request('POST', '/v1/sessions', {
          token: engineerToken,
          body: { resourceId: found.id },
        });
        if (created.status !== 201)
          throw new Error(`session for ${resource} failed: ${created.text}`);
        return created.json;
      },
      connect(sessionId, ticket, extra = {}) {
        return new Promise((resolve, reject) => {
          const client = new ssh2.Client();
          client.once('ready', () => resolve(client));
          client.once('error', reject);
          client.connect({
            host: ssh.address.host,
            port: ssh.address.port,
            username: sessionId,
            password: ticket,
            hostVerifier: (key: Buffer) =>
              `ssh-ed25519 ${key.toString('base64')}` === ssh.hostKey.publicKeyLine,
            readyTimeout: 10_000,
            ...extra,
          });
        });
      },
      async close() {
        stopHearing();
        await ssh.close();
        await testGateway.close();
        await sshd.stop();
      },
    };
  } catch (error) {
    await gw?.close();
    await sshd.stop();
    throw error;
  }
}
