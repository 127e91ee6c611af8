import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { itNeeding } from '../../../test/harness/needs.ts';
import {
  fingerprintOfKeyBlob,
  keyTypeOfBlob,
  loadOrCreateSshHostKey,
  parsePublicKeyLine,
  SSH_HOST_KEY_FILE,
} from './sshHostKey.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'witness-hostkey-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function hasSshKeygen(): boolean {
  try {
    execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

describe('the gateway SSH host key', () => {
  it('is created once (0600, OpenSSH format) and loaded unchanged afterwards', () => {
    const created = loadOrCreateSshHostKey(dir);
    const file = path.join(dir, SSH_HOST_KEY_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toContain('-----BEGIN OPENSSH PRIVATE KEY-----');
    expect(created.publicKeyLine).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5[A-Za-z0-9+/=]+$/);
    expect(created.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(loadOrCreateSshHostKey(dir)).toEqual(created);
    // ssh2's Server accepts it.
    expect(() => new ssh2.Server({ hostKeys: [created.privateKey] })).not.toThrow();
  });

  const sshKeygenMissing = hasSshKeygen()
    ? undefined
    : 'ssh-keygen is not installed (apt-get install openssh-client)';
  itNeeding(sshKeygenMissing)('has the fingerprint and public key ssh-keygen computes', () => {
    const key = loadOrCreateSshHostKey(dir);
    const file = path.join(dir, SSH_HOST_KEY_FILE);
    const listed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], {
      encoding: 'utf8',
    });
    expect(listed).toContain(key.fingerprint);
    const publicKey = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' });
    expect(publicKey.trim().split(' ').slice(0, 2).join(' ')).toBe(key.publicKeyLine);
  });

  it('refuses a key file other users can read, and a key that is not Ed25519', () => {
    loadOrCreateSshHostKey(dir);
    const file = path.join(dir, SSH_HOST_KEY_FILE);
    chmodSync(file, 0o644);
    expect(() => loadOrCreateSshHostKey(dir)).toThrow(/accessible to other users.*chmod 600/);
    rmSync(file);
    writeFileSync(file, ssh2.utils.generateKeyPairSync('ecdsa', { bits: 256 }).private, {
      mode: 0o600,
    });
    expect(() => loadOrCreateSshHostKey(dir)).toThrow(/must be Ed25519/);
    writeFileSync(file, 'not a key', { mode: 0o600 });
    expect(() => loadOrCreateSshHostKey(dir)).toThrow(/not a valid OpenSSH private key/);
  });

  it('parses public key lines and checks the type inside the blob', () => {
    const { public: line } = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'a b c' });
    const parsed = parsePublicKeyLine(line);
    expect(parsed?.type).toBe('ssh-ed25519');
    expect(keyTypeOfBlob(parsed!.blob)).toBe('ssh-ed25519');
    expect(fingerprintOfKeyBlob(parsed!.blob)).toMatch(/^SHA256:/);
    const [, base64] = line.split(' ');
    expect(parsePublicKeyLine(`ssh-rsa ${base64}`)).toBeUndefined();
    expect(parsePublicKeyLine('ssh-ed25519')).toBeUndefined();
    expect(parsePublicKeyLine('garbage !!!')).toBeUndefined();
    expect(keyTypeOfBlob(Buffer.from([0, 0, 0, 200, 1]))).toBeUndefined();
  });
});
