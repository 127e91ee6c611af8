/**
 * The gateway's own SSH connection to a target, made with the credential stored on the resource
 * (the client never sees it) and accepted only if the target presents the pinned host key.
 *
 * Every refusal is an `UpstreamRefusal` whose message is shown to the person as is (on the
 * stderr of their session), so it says what happened and who can fix it.
 */
import { timingSafeEqual } from 'node:crypto';
import ssh2, { type Client, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';
// The credential as the catalog opens it (resourceCatalog.ts's TargetCredential), named from the
// shared schema so the catalog's connection test does not close an import circle through here.
import type { ResourceSecretInput as TargetCredential } from '../../../shared/api/apiSchemas.ts';
import { fingerprintOfKeyBlob, parsePublicKeyLine } from './sshHostKey.ts';

export interface UpstreamTarget {
  /** Resource name, for messages. */
  name: string;
  host: string;
  port: number;
  username: string;
  /** Pinned host key (OpenSSH public key line); sessions are refused while it is null. */
  hostKey: string | null;
}

/**
 * Which step of reaching the target failed, for an admin's "test connection" (issue #14):
 * `host_key` (none pinned, a different one presented, or no SSH handshake) or `auth`.
 */
export type UpstreamStep = 'tcp' | 'host_key' | 'auth';

export class UpstreamRefusal extends Error {
  override readonly name = 'UpstreamRefusal';
  constructor(
    message: string,
    readonly step: UpstreamStep = 'tcp',
    /** On a host key mismatch: both fingerprints. */
    readonly hostKey?: { presented: string | null; pinned: string | null },
  ) {
    super(message);
  }
}

export interface UpstreamOptions {
  /** How long the TCP connect + SSH handshake + login may take. */
  readyTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** Called once the target presented the pinned host key (the test times its steps). */
  onHostKeyAccepted?: () => void;
}

const DEFAULT_READY_TIMEOUT_MS = 15_000;

/**
 * With a pinned key of one type, offer only that type's signature algorithms: a server with
 * several host keys then presents the pinned one, as OpenSSH does with a known_hosts entry.
 */
function hostKeyAlgorithmsFor(type: string): ServerHostKeyAlgorithm[] | undefined {
  switch (type) {
    case 'ssh-ed25519':
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521':
      return [type];
    case 'ssh-rsa':
      return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
    default:
      return undefined;
  }
}

/** Connects and logs in to the target; resolves the ready ssh2 Client or rejects with a refusal. */
export function connectUpstream(
  target: UpstreamTarget,
  credential: TargetCredential | null,
  options: UpstreamOptions = {},
): Promise<Client> {
  if (!target.hostKey) {
    return Promise.reject(
      new UpstreamRefusal(
        `${target.name} has no pinned SSH host key, so Witness will not connect to it — an admin ` +
          'must scan and pin (or paste) its host key on the resource first.',
        'host_key',
        { presented: null, pinned: null },
      ),
    );
  }
  const pinned = parsePublicKeyLine(target.hostKey);
  if (!pinned) {
    return Promise.reject(
      new UpstreamRefusal(
        `The pinned host key of ${target.name} is not a valid OpenSSH public key; an admin must re-pin it.`,
        'host_key',
      ),
    );
  }
  if (!credential || (!credential.privateKey && !credential.password)) {
    return Promise.reject(
      new UpstreamRefusal(
        `${target.name} has no stored credential to log in with; an admin must add a private key or password to the resource.`,
        'auth',
      ),
    );
  }

  return new Promise<Client>((resolve, reject) => {
    const client = new ssh2.Client();
    let presented: Buffer | undefined;
    let settled = false;
    const fail = (refusal: UpstreamRefusal) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(refusal);
    };
    client.once('ready', () => {
      if (settled) {
        client.end();
        return;
      }
      settled = true;
      resolve(client);
    });
    client.on('error', (error: Error & { level?: string; code?: string }) => {
      if (presented && !sameKey(presented, pinned.blob)) {
        fail(
          new UpstreamRefusal(
            `The host key of ${target.name} changed: it presents ${fingerprintOfKeyBlob(presented)}, ` +
              `but ${fingerprintOfKeyBlob(pinned.blob)} is pinned. This can mean someone is intercepting ` +
              'the connection, or the server was reinstalled; an admin must verify the new key and ' +
              're-pin it. Nothing was sent to the target.',
            'host_key',
            {
              presented: fingerprintOfKeyBlob(presented),
              pinned: fingerprintOfKeyBlob(pinned.blob),
            },
          ),
        );
        return;
      }
      // Before the host key was seen the SSH handshake itself failed; after it, the login.
      const step: UpstreamStep =
        error.level === 'client-authentication' || presented
          ? 'auth'
          : error.level === 'client-socket'
            ? 'tcp'
            : 'host_key';
      fail(new UpstreamRefusal(describeConnectError(target, error), step));
    });
    // A connection that closes before 'ready' without an 'error' (the server hung up).
    client.once('close', () =>
      fail(
        new UpstreamRefusal(
          `${target.name} closed the connection before the login finished.`,
          presented ? 'auth' : 'host_key',
        ),
      ),
    );
    client.on('keyboard-interactive', (_name, _instructions, _lang, prompts, finish) => {
      // Password-only servers often ask through keyboard-interactive; answer with the stored
      // password, and only when it looks like a password prompt.
      const answers = prompts.map((p) =>
        credential.password !== undefined && /password/i.test(p.prompt) ? credential.password : '',
      );
      finish(answers);
    });

    const config: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.username,
      readyTimeout: options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS,
      keepaliveInterval: options.keepaliveIntervalMs ?? 15_000,
      keepaliveCountMax: 3,
      tryKeyboard: credential.password !== undefined,
      hostVerifier: (key: Buffer) => {
        presented = Buffer.from(key);
        const accepted = sameKey(presented, pinned.blob);
        if (accepted) options.onHostKeyAccepted?.();
        return accepted;
      },
      ...(credential.privateKey !== undefined && { privateKey: credential.privateKey }),
      ...(credential.passphrase !== undefined && { passphrase: credential.passphrase }),
      ...(credential.password !== undefined && { password: credential.password }),
    };
    const serverHostKey = hostKeyAlgorithmsFor(pinned.type);
    if (serverHostKey) config.algorithms = { serverHostKey };
    try {
      client.connect(config);
    } catch (error) {
      // ssh2 throws synchronously for a key it cannot parse or decrypt.
      fail(
        new UpstreamRefusal(
          `The stored private key of ${target.name} cannot be used (${(error as Error).message}); an admin must replace it.`,
          'auth',
        ),
      );
    }
  });
}

function sameKey(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function describeConnectError(
  target: UpstreamTarget,
  error: Error & { level?: string; code?: string },
): string {
  const where = `${target.host}:${target.port}`;
  if (error.level === 'client-authentication') {
    return `Witness could not log in to ${target.name} as ${target.username}: the target refused the stored credential. Ask an admin to check it.`;
  }
  if (error.level === 'client-timeout') {
    return `Witness could not reach ${target.name} (${where}) in time — try again later, or ask an admin to check the target.`;
  }
  if (
    error.code === 'ECONNREFUSED' ||
    error.code === 'EHOSTUNREACH' ||
    error.code === 'ENOTFOUND'
  ) {
    return `Witness could not reach ${target.name} (${where}): ${error.code} — try again later, or ask an admin to check the target.`;
  }
  return `Witness could not connect to ${target.name} (${where}): ${error.message}.`;
}
