/**
 * Reproduces ssh2 1.17's server-channel window bugs (see serverChannelWindowing.ts) with a real
 * ssh2 Server and Client on loopback, and checks the fix: every stdout and stderr byte arrives
 * exactly once, whatever the window does.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import ssh2, { type Client, type ServerChannel } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../../shared/ssh/sshKeyPair.ts';
import { fixServerChannelWindowing } from './serverChannelWindowing.ts';

const hostKey = generateEd25519KeyPair().private;

interface Harness {
  client: Client;
  close(): Promise<void>;
}

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** A server whose exec runs `script` on the accepted channel; a client logged in to it. */
async function start(script: (channel: ServerChannel) => void): Promise<Harness> {
  const server = new ssh2.Server({ hostKeys: [hostKey] }, (connection) => {
    connection.on('error', () => {});
    connection.on('authentication', (ctx) => ctx.accept());
    connection.on('session', (accept) => {
      const session = accept();
      session.on('exec', (acceptExec) => script(acceptExec()));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: (server.address() as AddressInfo).port,
      username: 'test',
      password: 'test',
    });
  });
  return {
    client,
    close: async () => {
      client.end();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Runs the exec, reading stdout slowly so the server keeps running out of window. */
function readAll(client: Client): Promise<{ stdout: Buffer; stderr: Buffer }> {
  return new Promise((resolve, reject) => {
    client.exec('x', (error, channel) => {
      if (error) return reject(error);
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      channel.on('data', (chunk: Buffer) => {
        stdout.push(chunk);
        channel.pause();
        setTimeout(() => channel.resume(), 1);
      });
      channel.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      channel.on('close', () =>
        resolve({ stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr) }),
      );
    });
  });
}

const digest = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('ssh2 server channel windowing, fixed', () => {
  it('sends stderr written while stdout waits for window, once stdout is through', async () => {
    const out = randomBytes(5 * 1024 * 1024);
    harness = await start((channel) => {
      fixServerChannelWindowing(channel);
      channel.write(out); // more than the 2 MiB window: parks the rest
      channel.stderr.write('stderr while stdout waits\n', () => {
        channel.exit(0);
        channel.end();
      });
    });
    const { stdout, stderr } = await readAll(harness.client);
    expect(digest(stdout)).toBe(digest(out));
    expect(stderr.toString()).toBe('stderr while stdout waits\n');
  }, 20_000);

  it('does not re-send a stdout chunk that waited once, when stderr waits later', async () => {
    const out = randomBytes(3 * 1024 * 1024);
    const err = randomBytes(3 * 1024 * 1024);
    harness = await start((channel) => {
      fixServerChannelWindowing(channel);
      channel.write(out, () => {
        // stdout is through (its chunk once waited); now stderr must wait for window.
        channel.stderr.write(err, () => {
          channel.exit(0);
          channel.end();
        });
      });
    });
    const { stdout, stderr } = await readAll(harness.client);
    expect(stdout.length).toBe(out.length);
    expect(digest(stdout)).toBe(digest(out));
    expect(digest(stderr)).toBe(digest(err));
  }, 20_000);
});
