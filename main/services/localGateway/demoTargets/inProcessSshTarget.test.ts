/**
 * The built-in demo SSH server (the fallback for machines without sshd), driven by a real ssh2
 * client on loopback: only the demo key logs in, the host key is the one the resource pins, and
 * the shell runs commands and reports their exit status.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2, { type Client } from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../../../shared/ssh/sshKeyPair.ts';
import { freePort } from '../localPorts.ts';
import type { DemoSshTarget } from './demoSshd.ts';
import { startInProcessSshTarget } from './inProcessSshTarget.ts';

function connect(target: DemoSshTarget, privateKey: string | Buffer): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    client.once('ready', () => resolve(client));
    client.once('error', reject);
    client.connect({
      host: target.host,
      port: target.port,
      username: target.username,
      privateKey,
      hostVerifier: (key: Buffer) => `ssh-ed25519 ${key.toString('base64')}` === target.hostKeyLine,
      readyTimeout: 10_000,
    });
  });
}

describe('built-in demo SSH target', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-inproc-ssh-'));
  let target: DemoSshTarget;

  beforeAll(async () => {
    target = await startInProcessSshTarget(dir, await freePort());
  });
  afterAll(async () => {
    await target?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('pins an ed25519 host key and keeps its keys across restarts', async () => {
    expect(target.kind).toBe('in-process');
    expect(target.hostKeyLine).toMatch(/^ssh-ed25519 [A-Za-z0-9+/=]+$/);
    const again = await startInProcessSshTarget(dir, await freePort());
    try {
      expect(again.hostKeyLine).toBe(target.hostKeyLine);
      expect(again.clientPrivateKey).toBe(target.clientPrivateKey);
    } finally {
      await again.stop();
    }
  });

  it('refuses any other key', async () => {
    const other = generateEd25519KeyPair();
    await expect(connect(target, other.private)).rejects.toThrow(/authentication/i);
  });

  it('runs a shell in a pty and reports the exit status', async () => {
    const client = await connect(target, target.clientPrivateKey);
    try {
      const { output, code } = await new Promise<{ output: string; code: number | null }>(
        (resolve, reject) => {
          client.shell({ term: 'xterm-256color', cols: 80, rows: 24 }, (error, channel) => {
            if (error) return reject(error);
            let output = '';
            let code: number | null = null;
            channel.on('data', (chunk: Buffer) => {
              output += chunk.toString();
            });
            channel.stderr.on('data', (chunk: Buffer) => {
              output += chunk.toString();
            });
            channel.on('exit', (exitCode: number | null) => {
              code = exitCode;
            });
            channel.on('close', () => resolve({ output, code }));
            channel.write('echo $((6*7)); exit 5\n');
          });
        },
      );
      expect(output).toMatch(/42/);
      expect(code).toBe(5);
    } finally {
      client.end();
    }
  }, 20_000);
});
