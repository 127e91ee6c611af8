/**
 * The demo SSH target: a real OpenSSH `sshd`, run in the foreground as the current user, bound
 * to 127.0.0.1 only, with its own host key and one authorized client key kept in
 * `<dataDir>/demo/ssh/` (0600). The host key persists, so the resource's pinned key stays valid
 * across restarts; the client key becomes the resource's secret, which only the gateway reads.
 *
 * Logins: public key only, no password, no PAM; as root `PermitRootLogin prohibit-password`.
 * This mirrors test/harness/sshd.ts, which main/ may not import.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { LOOPBACK } from '../localPorts.ts';
import { findOnPath, killStaleProcess, rememberPid } from './processFiles.ts';

const SSHD_CANDIDATES = ['/usr/sbin/sshd', '/usr/bin/sshd', '/usr/local/sbin/sshd'];

export interface DemoSshTarget {
  kind: 'openssh' | 'in-process';
  host: string;
  port: number;
  username: string;
  /** `ssh-ed25519 AAAA…`, what the resource pins. */
  hostKeyLine: string;
  clientPrivateKey: string;
  stop(): Promise<void>;
}

/** Why OpenSSH sshd cannot run here, or undefined when it can. */
export function opensshUnavailableReason(): string | undefined {
  if (!SSHD_CANDIDATES.some((p) => existsSync(p))) {
    return 'OpenSSH sshd is not installed (apt-get install openssh-server)';
  }
  if (!findOnPath('ssh-keygen'))
    return 'ssh-keygen is not installed (apt-get install openssh-client)';
  return undefined;
}

/** The demo keys (generated on first use): host key line and client key. */
export function demoSshKeys(dir: string): {
  hostKeyFile: string;
  hostKeyLine: string;
  clientKeyFile: string;
  clientPrivateKey: string;
  clientPublicKey: string;
} {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hostKeyFile = path.join(dir, 'ssh_host_ed25519_key');
  const clientKeyFile = path.join(dir, 'client_ed25519');
  for (const [file, comment] of [
    [hostKeyFile, 'witness-demo-host'],
    [clientKeyFile, 'witness-demo-client'],
  ] as const) {
    if (!existsSync(file) || !existsSync(`${file}.pub`)) {
      rmSync(file, { force: true });
      rmSync(`${file}.pub`, { force: true });
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
    }
  }
  return {
    hostKeyFile,
    hostKeyLine: publicKeyLine(readFileSync(`${hostKeyFile}.pub`, 'utf8')),
    clientKeyFile,
    clientPrivateKey: readFileSync(clientKeyFile, 'utf8'),
    clientPublicKey: publicKeyLine(readFileSync(`${clientKeyFile}.pub`, 'utf8')),
  };
}

export async function startDemoSshd(dir: string, port: number): Promise<DemoSshTarget> {
  const sshd = SSHD_CANDIDATES.find((p) => existsSync(p));
  if (!sshd) throw new Error(opensshUnavailableReason());
  const keys = demoSshKeys(dir);
  const user = userInfo().username;
  const isRoot = process.getuid?.() === 0;
  if (isRoot && !existsSync('/run/sshd')) {
    // sshd's privilege-separation directory; the Debian package creates it at boot.
    mkdirSync('/run/sshd', { mode: 0o755 });
  }
  const pidFile = path.join(dir, 'sshd.pid');
  const configFile = path.join(dir, 'sshd_config');
  await killStaleProcess(pidFile, configFile);
  const authorizedKeys = path.join(dir, 'authorized_keys');
  writeFileSync(authorizedKeys, `${keys.clientPublicKey} witness-demo-client\n`, { mode: 0o600 });
  writeFileSync(
    configFile,
    [
      `ListenAddress ${LOOPBACK}:${port}`,
      `HostKey ${keys.hostKeyFile}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      isRoot ? 'PermitRootLogin prohibit-password' : '',
      // Only this machine's user, by key: the account list of the machine is not exposed.
      `AllowUsers ${user}`,
      'UsePAM no',
      // The data dir may sit under a home directory sshd's strict checks would refuse.
      'StrictModes no',
      'PidFile none',
      'PrintMotd no',
      'PrintLastLog no',
      'AcceptEnv LANG LC_* TZ',
      'LogLevel INFO',
      '',
    ]
      .filter((line, i, all) => line !== '' || i === all.length - 1)
      .join('\n'),
    { mode: 0o600 },
  );
  const child = spawn(sshd, ['-D', '-e', '-f', configFile], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    log = (log + text).slice(-8192);
  });
  await waitForListening(child, () => log, port);
  rememberPid(pidFile, child.pid);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  return {
    kind: 'openssh',
    host: LOOPBACK,
    port,
    username: user,
    hostKeyLine: keys.hostKeyLine,
    clientPrivateKey: keys.clientPrivateKey,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(pidFile, { force: true });
    },
  };
}

function waitForListening(child: ChildProcess, log: () => string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      finish(new Error(`sshd did not start within 10 s: ${log().trim() || 'no output'}`));
      if (child.exitCode === null) child.kill('SIGKILL');
    }, 10_000);
    const onData = () => {
      if (log().includes(`Server listening on ${LOOPBACK} port ${port}`)) finish();
    };
    const onExit = () => finish(new Error(`sshd exited: ${log().trim() || 'no output'}`));
    const finish = (error?: Error) => {
      clearTimeout(timer);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (error) reject(error);
      else resolve();
    };
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

function publicKeyLine(text: string): string {
  return text.trim().split(/\s+/).slice(0, 2).join(' ');
}
