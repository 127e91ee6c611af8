/**
 * The gateway's own SSH host key: what clients pin (served as `sshHostKey` by `GET /v1/keys`,
 * written into a temporary known_hosts by `witness ssh`).
 *
 * Kept in the data directory as `ssh_host_ed25519_key`, OpenSSH private key format, mode 0600,
 * created once and never overwritten — a new key would make every pinned client refuse the
 * gateway. Generated in-process (shared/ssh/sshKeyPair.ts), because `ssh-keygen` may be
 * absent where the gateway runs.
 */
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { generateEd25519KeyPair } from '../../../shared/ssh/sshKeyPair.ts';

// ssh2 is CommonJS: Node's ESM loader exposes only its default export.
const ssh2Utils = ssh2.utils;

export const SSH_HOST_KEY_FILE = 'ssh_host_ed25519_key';

export interface SshHostKey {
  /** OpenSSH-format private key (PEM text), as ssh2's Server takes it in `hostKeys`. */
  privateKey: string;
  /** `ssh-ed25519 AAAA…`, the known_hosts form clients pin. */
  publicKeyLine: string;
  /** `SHA256:…` (unpadded base64), as `ssh-keygen -lf` and OpenSSH's prompts show it. */
  fingerprint: string;
}

/** Loads `ssh_host_ed25519_key` from `dataDir`, creating it (0600) on first start. */
export function loadOrCreateSshHostKey(dataDir: string): SshHostKey {
  const file = join(dataDir, SSH_HOST_KEY_FILE);
  if (!existsSync(file)) {
    const pair = generateEd25519KeyPair('witness-gateway');
    try {
      // 'wx': never overwrite a key another gateway process created in the meantime.
      writeFileSync(file, pair.private, { mode: 0o600, flag: 'wx' });
      chmodSync(file, 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  if (process.platform !== 'win32') {
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      throw new Error(
        `${file} holds the gateway's SSH host key but is accessible to other users (mode ${mode
          .toString(8)
          .padStart(
            4,
            '0',
          )}). Treat it as possibly leaked; if it was not, run \`chmod 600 ${file}\` and start again.`,
      );
    }
  }
  return sshHostKeyOf(readFileSync(file, 'utf8'), file);
}

/**
 * The host key as the listener and the API use it, from its OpenSSH private key text; `source`
 * names where the text came from (a file, the cluster's store) in the errors.
 */
export function sshHostKeyOf(privateKey: string, source: string): SshHostKey {
  const parsed = ssh2Utils.parseKey(privateKey);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error || key.getPrivatePEM() === null) {
    throw new Error(
      `${source} is not a valid OpenSSH private key${key instanceof Error ? ` (${key.message})` : ''}; restore it from a backup, or delete it to create a new one (every client will then have to re-pin the gateway).`,
    );
  }
  if (key.type !== 'ssh-ed25519') {
    throw new Error(
      `${source} holds a ${key.type} key; the gateway's SSH host key must be Ed25519`,
    );
  }
  const blob = key.getPublicSSH();
  return {
    privateKey,
    publicKeyLine: `${key.type} ${blob.toString('base64')}`,
    fingerprint: fingerprintOfKeyBlob(blob),
  };
}

/** `SHA256:<unpadded base64>` of an SSH public key blob (the wire encoding). */
export function fingerprintOfKeyBlob(blob: Uint8Array): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** A parsed OpenSSH public key line (`type base64 [comment]`). */
export interface PublicKeyLine {
  type: string;
  blob: Buffer;
}

/**
 * Parses `ssh-ed25519 AAAA… [comment]`, checking that the blob's own type field matches the
 * line's type. Returns undefined for anything else.
 */
export function parsePublicKeyLine(line: string): PublicKeyLine | undefined {
  const match = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s.*)?$/.exec(line.trim());
  if (!match) return undefined;
  const type = match[1]!;
  const blob = Buffer.from(match[2]!, 'base64');
  return keyTypeOfBlob(blob) === type ? { type, blob } : undefined;
}

/** The key type named at the start of an SSH public key blob (RFC 4253 §6.6). */
export function keyTypeOfBlob(blob: Uint8Array): string | undefined {
  if (blob.length < 4) return undefined;
  const length = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength).readUInt32BE(0);
  if (length === 0 || length > 64 || 4 + length > blob.length) return undefined;
  return Buffer.from(blob.subarray(4, 4 + length)).toString('latin1');
}

/** `type base64` for a key blob — the form stored as a resource's pinned host key. */
export function publicKeyLineOfBlob(blob: Uint8Array): string {
  const type = keyTypeOfBlob(blob) ?? 'unknown';
  return `${type} ${Buffer.from(blob).toString('base64')}`;
}
