/**
 * Admin helper for "scan and pin": connect to a target, take the host key it presents and hang
 * up before authenticating. The result is what an admin confirms (by its fingerprint) and then
 * stores as the resource's `hostKey`; the scan itself trusts nothing.
 */
import ssh2 from 'ssh2';

// ssh2 is CommonJS: Node's ESM loader exposes only its default export.
const { Client } = ssh2;

import { fingerprintOfKeyBlob, publicKeyLineOfBlob } from './sshHostKey.ts';

export interface ScannedHostKey {
  /** `ssh-ed25519 AAAA…`, the form stored on the resource. */
  keyLine: string;
  /** `SHA256:…`, for the admin to compare with what the server's owner says. */
  fingerprint: string;
}

/** Connects to `host:port` and returns the host key the server presents (never logs in). */
export function scanHostKey(
  host: string,
  port: number,
  options: { timeoutMs?: number } = {},
): Promise<ScannedHostKey> {
  return new Promise((resolve, reject) => {
    const client = new Client();
    let result: ScannedHostKey | undefined;
    const finish = (error?: Error) => {
      client.removeAllListeners();
      client.on('error', () => {});
      client.end();
      if (result) resolve(result);
      else
        reject(
          error ?? new Error(`${host}:${port} closed the connection before presenting a host key.`),
        );
    };
    client.on('error', (error) => finish(error.level === 'client-timeout' ? timeout() : error));
    client.on('close', () => finish());
    const timeout = () =>
      new Error(`${host}:${port} did not complete an SSH handshake in time; is it an SSH server?`);
    client.connect({
      host,
      port,
      username: 'witness-host-key-scan',
      readyTimeout: options.timeoutMs ?? 10_000,
      hostVerifier: (key: Buffer) => {
        result = { keyLine: publicKeyLineOfBlob(key), fingerprint: fingerprintOfKeyBlob(key) };
        // Refuse: the handshake stops here, before any authentication attempt.
        setImmediate(() => finish());
        return false;
      },
    });
  });
}
