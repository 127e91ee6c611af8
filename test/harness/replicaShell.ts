/**
 * An SSH shell opened with a session ticket straight to a replica's (or the balancer's) SSH port,
 * for the replica tests (issue #17): the test picks which replica carries the session by the
 * address it dials, which `witness ssh` (always the advertised balancer) cannot.
 */
import ssh2 from 'ssh2';
import type { HostPort } from './replicaCluster.ts';

export interface Shell {
  client: ssh2.Client;
  /** Everything the session printed so far, stdout and stderr. */
  output(): string;
  /** Runs a line in the shell. */
  type(line: string): void;
  closed: Promise<void>;
}

/** Logs in with the ticket (password), pinning `hostKey`, and opens a shell. */
export function openShell(
  at: HostPort,
  session: { sessionId: string; ticket: string },
  hostKey: string,
): Promise<Shell> {
  return new Promise<Shell>((resolve, reject) => {
    const client = new ssh2.Client();
    let output = '';
    client.once('error', reject);
    client.once('ready', () => {
      client.shell(false, (error, stream) => {
        if (error) return reject(error);
        stream.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        stream.stderr.on('data', (chunk: Buffer) => {
          output += chunk.toString();
        });
        const closed = new Promise<void>((done) => stream.once('close', () => done()));
        resolve({
          client,
          output: () => output,
          type: (line) => stream.write(`${line}\n`),
          closed,
        });
      });
    });
    client.connect({
      host: at.host,
      port: at.port,
      username: session.sessionId,
      password: session.ticket,
      readyTimeout: 15_000,
      // The gateway's host key as GET /v1/keys published it: the same on every replica.
      hostVerifier: (key: Buffer) => `ssh-ed25519 ${key.toString('base64')}` === hostKey,
    });
  });
}
