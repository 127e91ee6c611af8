import { createHash, createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadOrInitDataDir } from './dataDir.ts';

const DAY_MS = 24 * 60 * 60 * 1000;
const ALL_FILES = [
  'tls/ca.key',
  'tls/ca.crt',
  'tls/server.key',
  'tls/server.crt',
  'tls/client-ca.key',
  'tls/client-ca.crt',
  'recording-ed25519.pem',
  'master.key',
];
const KEY_FILES = [
  'tls/ca.key',
  'tls/server.key',
  'tls/client-ca.key',
  'recording-ed25519.pem',
  'master.key',
];

let parent: string;
let dir: string;
beforeEach(() => {
  parent = mkdtempSync(join(tmpdir(), 'witness-datadir-'));
  dir = join(parent, 'data');
});
afterEach(() => {
  rmSync(parent, { recursive: true, force: true });
});

const modeOf = (path: string) => statSync(path).mode & 0o777;

describe('loadOrInitDataDir on first start', () => {
  it('creates every file with mode 0600 inside directories with mode 0700', () => {
    const keys = loadOrInitDataDir(dir);

    expect([...keys.created].sort()).toEqual([...ALL_FILES].sort());
    expect(keys.renewed).toEqual([]);
    expect(modeOf(dir)).toBe(0o700);
    expect(modeOf(join(dir, 'tls'))).toBe(0o700);
    for (const name of ALL_FILES) expect(modeOf(join(dir, name)), name).toBe(0o600);
  });

  it('returns the material it wrote', () => {
    const keys = loadOrInitDataDir(dir);

    expect(readFileSync(join(dir, 'tls/ca.crt'), 'utf8')).toBe(keys.caCertPem);
    expect(keys.caFingerprint).toBe(new X509Certificate(keys.caCertPem).fingerprint256);
    // The database client CA is a CA of its own, not the pinned one (issue #15).
    expect(readFileSync(join(dir, 'tls/client-ca.crt'), 'utf8')).toBe(keys.clientCaCertPem);
    const clientCa = new X509Certificate(keys.clientCaCertPem);
    expect(clientCa.ca).toBe(true);
    expect(clientCa.subject).toMatch(/^CN=Witness Client CA [0-9a-f]{8}$/);
    expect(clientCa.fingerprint256).not.toBe(keys.caFingerprint);
    expect(keys.masterKey).toHaveLength(32);
    expect(Buffer.from(readFileSync(join(dir, 'master.key'), 'utf8'), 'base64')).toEqual(
      keys.masterKey,
    );
    expect(keys.recordingKey.privateKey.asymmetricKeyType).toBe('ed25519');
    const raw = Buffer.from(
      createPublicKey(keys.recordingKey.publicKeyPem).export({ format: 'jwk' }).x ?? '',
      'base64url',
    );
    expect(raw).toHaveLength(32);
    expect(keys.recordingKey.keyId).toBe(
      `ed25519:${createHash('sha256').update(raw).digest('hex').slice(0, 16)}`,
    );
  });

  it('serves the CA in the chain so a client can pin it on first use', async () => {
    const keys = loadOrInitDataDir(dir);
    const server = tls.createServer({ key: keys.serverKeyPem, cert: keys.serverChainPem }, (s) =>
      s.end(),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const chainFingerprints = await new Promise<string[]>((resolve, reject) => {
        // Trust-on-first-use: no CA yet, so the client inspects the chain instead of verifying.
        const socket = tls.connect(
          { host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false },
          () => {
            const leaf = socket.getPeerCertificate(true);
            socket.destroy();
            resolve([leaf.fingerprint256, leaf.issuerCertificate?.fingerprint256 ?? '']);
          },
        );
        socket.once('error', reject);
      });

      expect(chainFingerprints).toEqual([
        new X509Certificate(keys.serverCertPem).fingerprint256,
        keys.caFingerprint,
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('loadOrInitDataDir on later starts', () => {
  it('loads the same keys and creates nothing', () => {
    const first = loadOrInitDataDir(dir);
    const second = loadOrInitDataDir(dir);

    expect(second.created).toEqual([]);
    expect(second.renewed).toEqual([]);
    expect(second.caCertPem).toBe(first.caCertPem);
    expect(second.caKeyPem).toBe(first.caKeyPem);
    expect(second.caFingerprint).toBe(first.caFingerprint);
    expect(second.serverCertPem).toBe(first.serverCertPem);
    expect(second.serverKeyPem).toBe(first.serverKeyPem);
    expect(second.recordingKey.keyId).toBe(first.recordingKey.keyId);
    expect(second.recordingKey.publicKeyPem).toBe(first.recordingKey.publicKeyPem);
    expect(second.masterKey.equals(first.masterKey)).toBe(true);
  });

  it('re-issues the server certificate for a new host name and keeps the CA', () => {
    const first = loadOrInitDataDir(dir, { hostnames: ['gw1.example.test'] });
    const second = loadOrInitDataDir(dir, { hostnames: ['gw1.example.test', 'gw2.example.test'] });
    const third = loadOrInitDataDir(dir, { hostnames: ['gw2.example.test', 'gw1.example.test'] });

    expect(second.renewed.sort()).toEqual(['tls/server.crt', 'tls/server.key']);
    expect(second.serverCertPem).not.toBe(first.serverCertPem);
    expect(second.caFingerprint).toBe(first.caFingerprint);
    expect(new X509Certificate(second.serverCertPem).checkHost('gw2.example.test')).toBe(
      'gw2.example.test',
    );
    expect(readFileSync(join(dir, 'tls/server.crt'), 'utf8')).toBe(second.serverCertPem);
    expect(modeOf(join(dir, 'tls/server.key'))).toBe(0o600);
    expect(third.renewed).toEqual([]);
  });

  it('re-issues the server certificate within 30 days of expiry', () => {
    const start = new Date();
    const first = loadOrInitDataDir(dir, { now: start });
    const later = loadOrInitDataDir(dir, { now: new Date(start.getTime() + 300 * DAY_MS) });
    const nearExpiry = new Date(start.getTime() + 340 * DAY_MS);
    const renewed = loadOrInitDataDir(dir, { now: nearExpiry });

    expect(later.renewed).toEqual([]);
    expect(renewed.renewed.sort()).toEqual(['tls/server.crt', 'tls/server.key']);
    expect(Date.parse(new X509Certificate(renewed.serverCertPem).validTo)).toBeGreaterThan(
      nearExpiry.getTime() + 300 * DAY_MS,
    );
    expect(renewed.caCertPem).toBe(first.caCertPem);
  });

  it('repairs a server key that does not match its certificate', () => {
    loadOrInitDataDir(dir);
    const stray = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    writeFileSync(join(dir, 'tls/server.key'), stray.export({ type: 'pkcs8', format: 'pem' }), {
      mode: 0o600,
    });

    const keys = loadOrInitDataDir(dir);

    expect(keys.renewed.sort()).toEqual(['tls/server.crt', 'tls/server.key']);
    expect(keys.serverKeyPem).not.toBe(stray.export({ type: 'pkcs8', format: 'pem' }));
  });
});

describe('the master key', () => {
  const envKey = Buffer.alloc(32, 7).toString('base64');

  it('comes from WITNESS_MASTER_KEY when given, without creating master.key', () => {
    const keys = loadOrInitDataDir(dir, { masterKeyBase64: envKey });

    expect(keys.masterKey.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(keys.created).not.toContain('master.key');
    expect(existsSync(join(dir, 'master.key'))).toBe(false);
  });

  it('from the environment wins over an existing master.key', () => {
    const fromFile = loadOrInitDataDir(dir).masterKey;
    const keys = loadOrInitDataDir(dir, { masterKeyBase64: envKey });

    expect(keys.masterKey.equals(Buffer.alloc(32, 7))).toBe(true);
    expect(keys.masterKey.equals(fromFile)).toBe(false);
  });

  it('must be base64 of exactly 32 bytes, and errors do not echo it', () => {
    const short = Buffer.alloc(16, 1).toString('base64');
    expect(() => loadOrInitDataDir(dir, { masterKeyBase64: short })).toThrow(
      /WITNESS_MASTER_KEY decodes to 16 bytes.*exactly 32 bytes/,
    );
    const garbage = 'not*base64*at*all';
    let message = '';
    try {
      loadOrInitDataDir(dir, { masterKeyBase64: garbage });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/WITNESS_MASTER_KEY is not valid base64/);
    expect(message).not.toContain(garbage);
  });
});

describe('refusing unsafe or damaged files', () => {
  it.each(KEY_FILES)('refuses %s when other users can read it', (name) => {
    loadOrInitDataDir(dir);
    const path = join(dir, name);
    chmodSync(path, 0o644);

    expect(() => loadOrInitDataDir(dir)).toThrow(`chmod 600 ${path}`);

    chmodSync(path, 0o600);
    expect(loadOrInitDataDir(dir).created).toEqual([]);
  });

  it.each([
    ['tls/ca.crt', /ca\.crt is not a valid PEM certificate/],
    ['tls/ca.key', /ca\.key is not a valid PEM private key/],
    ['tls/server.crt', /server\.crt is not a valid PEM certificate/],
    ['recording-ed25519.pem', /recording-ed25519\.pem is not a valid PEM private key/],
    ['master.key', /master\.key is not valid base64/],
  ])('names %s when it is corrupt', (name, message) => {
    loadOrInitDataDir(dir);
    writeFileSync(join(dir, name), 'garbage!\n', { mode: 0o600 });

    expect(() => loadOrInitDataDir(dir)).toThrow(message);
  });

  it('refuses a recording key that is not Ed25519', () => {
    loadOrInitDataDir(dir);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    writeFileSync(join(dir, 'recording-ed25519.pem'), ec.export({ type: 'pkcs8', format: 'pem' }));

    expect(() => loadOrInitDataDir(dir)).toThrow(/must be Ed25519/);
  });

  it('never mints a new CA beside half of the old one', () => {
    const first = loadOrInitDataDir(dir);
    unlinkSync(join(dir, 'tls/ca.crt'));

    expect(() => loadOrInitDataDir(dir)).toThrow(/ca\.crt is missing but .*ca\.key exists/);
    expect(existsSync(join(dir, 'tls/ca.crt'))).toBe(false);
    expect(readFileSync(join(dir, 'tls/ca.key'), 'utf8')).toBe(first.caKeyPem);
  });
});
