/**
 * Fallback demo SSH target for machines without OpenSSH's sshd: an ssh2 Server in this process
 * on 127.0.0.1, public-key login with the demo client key only, whose shell is the user's own
 * shell in a pseudo-terminal made by util-linux `script -qefc "$SHELL" /dev/null` (Linux; -e
 * passes the shell's exit status on).
 * Where `script` is missing the shell runs without a pty (no line editing), and a terminal
 * resize cannot reach it — the status note says which.
 *
 * Keys are generated with ssh2 (no ssh-keygen needed) and kept 0600 in the demo dir.
 */

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { userInfo } from 'node:os';
import path from 'node:path';
import ssh2, { type Connection, type ServerChannel } from 'ssh2';
import { generateEd25519KeyPair } from '../../../../shared/ssh/sshKeyPair.ts';
import { LOOPBACK } from '../localPorts.ts';
import type { DemoSshTarget } from './demoSshd.ts';
import { findOnPath } from './processFiles.ts';

export function inProcessShellNote(): string {
  return findOnPath('script') && process.platform === 'linux'
    ? 'built-in SSH server (OpenSSH sshd is not installed): your shell in a pty via `script`; resizing is not passed on'
    : 'built-in SSH server (OpenSSH sshd is not installed): your shell without a pty (no line editing)';
}

export async function startInProcessSshTarget(dir: string, port: number): Promise<DemoSshTarget> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const hostKey = keyPair(path.join(dir, 'inprocess_host_key'));
  const clientKey = keyPair(path.join(dir, 'inprocess_client_key'));
  const allowed = ssh2.utils.parseKey(clientKey.publicKey);
  if (allowed instanceof Error) throw allowed;
  const allowedBlob = allowed.getPublicSSH();
  const username = userInfo().username;
  const connections = new Set<Connection>();

  const server = new ssh2.Server({ hostKeys: [hostKey.privateKey] }, (client) => {
    connections.add(client);
    client.on('close', () => connections.delete(client));
    client.on('error', () => {});
    client.on('authentication', (ctx) => {
      if (
        ctx.method === 'publickey' &&
        ctx.username === username &&
        ctx.key.data.equals(allowedBlob) &&
        (ctx.signature === undefined ||
          allowed.verify(ctx.blob ?? Buffer.alloc(0), ctx.signature, ctx.hashAlgo) === true)
      ) {
        ctx.accept();
      } else {
        ctx.reject(['publickey']);
      }
    });
    client.on('session', (accept) => {
      const session = accept();
      let pty = { cols: 80, rows: 24, term: 'xterm-256color' };
      session.on('pty', (acceptPty, _reject, info) => {
        pty = { cols: info.cols, rows: info.rows, term: info.term };
        acceptPty?.();
      });
      session.on('window-change', (acceptChange) => acceptChange?.());
      session.on('env', (acceptEnv) => acceptEnv?.());
      session.on('shell', (acceptShell) => runShell(acceptShell(), pty, undefined));
      session.on('exec', (acceptExec, _reject, info) => runShell(acceptExec(), pty, info.command));
    });
  });
  server.on('error', () => {});
  const tcp = createServer((socket) => server.injectSocket(socket));
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(port, LOOPBACK, () => resolve());
  });
  const address = tcp.address() as AddressInfo;
  const hostBlob = ssh2.utils.parseKey(hostKey.publicKey);
  if (hostBlob instanceof Error) throw hostBlob;
  return {
    kind: 'in-process',
    host: LOOPBACK,
    port: address.port,
    username,
    hostKeyLine: `${hostBlob.type} ${hostBlob.getPublicSSH().toString('base64')}`,
    clientPrivateKey: clientKey.privateKey,
    async stop() {
      for (const connection of connections) connection.end();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}

function runShell(
  channel: ServerChannel,
  pty: { cols: number; rows: number; term: string },
  command: string | undefined,
): void {
  const shell = process.env.SHELL || '/bin/sh';
  const env = {
    ...process.env,
    TERM: pty.term,
    COLUMNS: String(pty.cols),
    LINES: String(pty.rows),
  };
  const usePty = command === undefined && process.platform === 'linux' && findOnPath('script');
  const child = usePty
    ? spawn('script', ['-qefc', shell, '/dev/null'], { env, cwd: userInfo().homedir })
    : spawn(shell, command === undefined ? ['-i'] : ['-c', command], {
        env,
        cwd: userInfo().homedir,
      });
  child.stdout?.pipe(channel, { end: false });
  child.stderr?.pipe(channel.stderr, { end: false });
  channel.pipe(child.stdin!);
  child.stdin?.on('error', () => {});
  channel.on('error', () => {});
  child.once('close', (code, signal) => {
    try {
      if (code !== null) channel.exit(code);
      else if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
    } catch {
      // The client went away first.
    }
    channel.end();
  });
  channel.once('close', () => {
    if (child.exitCode === null) child.kill('SIGHUP');
  });
}

function keyPair(file: string): { privateKey: string; publicKey: string } {
  if (existsSync(file) && existsSync(`${file}.pub`)) {
    return {
      privateKey: readFileSync(file, 'utf8'),
      publicKey: readFileSync(`${file}.pub`, 'utf8'),
    };
  }
  const pair = generateEd25519KeyPair();
  writeFileSync(file, pair.private, { mode: 0o600 });
  writeFileSync(`${file}.pub`, pair.public, { mode: 0o600 });
  return { privateKey: pair.private, publicKey: pair.public };
}
