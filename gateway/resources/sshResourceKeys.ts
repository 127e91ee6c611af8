/**
 * The keys of an SSH resource (issue #14): the login key the gateway holds (uploaded, or
 * generated here so no private key ever travels), and the target's host key, pinned only when
 * it matches the fingerprint an admin confirmed.
 */
import ssh2 from 'ssh2';
import { generateEd25519KeyPair } from '../../shared/ssh/sshKeyPair.ts';
import { GatewayError } from '../gatewayError.ts';
import type { ScannedHostKey } from '../proxy/ssh/scanHostKey.ts';
import { fingerprintOfKeyBlob, publicKeyLineOfBlob } from '../proxy/ssh/sshHostKey.ts';

export interface LoginKey {
  /** OpenSSH private key (PEM text): the resource's sealed credential. */
  privateKey: string;
  /** `ssh-ed25519 AAAA… witness-gateway:NAME`, for the target's authorized_keys. */
  publicKeyLine: string;
}

/** A fresh ed25519 login key; the comment names the resource, so the target's owner can tell. */
export function generateLoginKey(resourceName: string): LoginKey {
  const pair = generateEd25519KeyPair(`witness-gateway:${resourceName}`);
  return { privateKey: pair.private, publicKeyLine: pair.public.trim() };
}

/**
 * The authorized_keys line of an uploaded private key. A key ssh2 cannot read (malformed, or
 * encrypted without the right passphrase) is refused here, at the field, rather than at the
 * first session.
 */
export function publicKeyOfPrivateKey(privateKey: string, passphrase?: string): string {
  const key = ssh2.utils.parseKey(privateKey, passphrase);
  if (key instanceof Error) {
    const why = key.message;
    throw new GatewayError(
      'bad_request',
      `The private key cannot be read (${why}) — give an OpenSSH or PEM private key, with its passphrase if it has one.`,
      { issues: [{ path: 'secret.privateKey', message: `cannot be read: ${why}` }] },
    );
  }
  if (!key.isPrivateKey()) {
    throw new GatewayError('bad_request', 'That is a public key — give the private key.', {
      issues: [{ path: 'secret.privateKey', message: 'a public key, not a private key' }],
    });
  }
  return publicKeyLineOfBlob(key.getPublicSSH());
}

export type HostKeyScanner = (host: string, port: number) => Promise<ScannedHostKey>;

/**
 * The host key line to pin: the one `host:port` presents now, if its fingerprint is the one
 * the admin confirmed. A scan that fails or a different key refuses the write, at the field.
 */
export async function confirmedHostKey(
  target: { host: string; port: number; hostKey: string | null },
  confirmedFingerprint: string,
  scan: HostKeyScanner,
): Promise<string> {
  const where = `${target.host}:${target.port}`;
  let scanned: ScannedHostKey;
  try {
    scanned = await scan(target.host, target.port);
  } catch (error) {
    throw new GatewayError(
      'bad_request',
      `Could not read the host key of ${where} to pin it: ${(error as Error).message}`,
      { issues: [{ path: 'hostKeyFingerprint', message: 'the target could not be scanned' }] },
    );
  }
  if (scanned.fingerprint !== confirmedFingerprint) {
    throw new GatewayError(
      'conflict',
      `${where} presents the host key ${scanned.fingerprint}, not the ${confirmedFingerprint} you confirmed. ` +
        'Nothing was saved: scan again and compare it with what the server’s owner says.',
      {
        issues: [
          {
            path: 'hostKeyFingerprint',
            message: `the target presents ${scanned.fingerprint}`,
          },
        ],
      },
    );
  }
  if (target.hostKey !== null) {
    const given = ssh2.utils.parseKey(target.hostKey);
    const blob = given instanceof Error ? undefined : given.getPublicSSH();
    if (!blob || fingerprintOfKeyBlob(blob) !== confirmedFingerprint) {
      throw new GatewayError(
        'bad_request',
        'target.hostKey and hostKeyFingerprint name different keys — send one of them.',
        { issues: [{ path: 'target.hostKey', message: 'differs from hostKeyFingerprint' }] },
      );
    }
  }
  return scanned.keyLine;
}
