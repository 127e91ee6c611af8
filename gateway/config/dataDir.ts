import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  X509Certificate,
} from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  createCertificateAuthority,
  fingerprintOfCertificate,
  issueServerCertificate,
  normalizeServerNames,
  type PemCertificateAndKey,
} from './tlsCertificates.ts';

/**
 * The gateway's data directory holds the key material it cannot lose or leak:
 *
 *   tls/ca.crt, tls/ca.key           the CA desktops pin on enrollment (kept across restarts)
 *   tls/server.crt, tls/server.key   the listeners' certificate, re-issued from the CA when due
 *   tls/client-ca.crt, .key          signs database client certificates (`witness db login`,
 *                                    issue #15); the PostgreSQL listener trusts only it
 *   recording-ed25519.pem            signs recording checkpoints (its public key is pinned too)
 *   master.key                       encrypts target credentials at rest (unless given by env)
 *
 * Files are created once with 0600 and never overwritten in place; the only file ever replaced
 * is the server certificate pair, which any holder of the CA key can re-issue.
 */

export interface DataDirOptions {
  /**
   * Names clients use to reach the gateway (DNS names or IP literals). `localhost`,
   * `127.0.0.1` and `::1` are always in the server certificate.
   */
  hostnames?: string[];
  /** The current time, for certificate validity; defaults to the clock. */
  now?: Date;
  /** `WITNESS_MASTER_KEY`: base64 of 32 bytes. When given, `master.key` is neither read nor created. */
  masterKeyBase64?: string;
}

export interface RecordingKey {
  /** `ed25519:` + the first 16 hex characters of SHA-256 of the raw 32-byte public key. */
  keyId: string;
  privateKey: KeyObject;
  /** SPKI PEM; what desktops pin and `witness verify` checks signatures with. */
  publicKeyPem: string;
}

export interface GatewayKeyMaterial {
  caCertPem: string;
  caKeyPem: string;
  /** SHA-256 of the CA certificate, `AB:CD:…`; shown to operators and pinned by desktops. */
  caFingerprint: string;
  serverCertPem: string;
  serverKeyPem: string;
  /** Server certificate followed by the CA certificate, so clients receive the CA in the chain. */
  serverChainPem: string;
  /**
   * A CA apart from the pinned one, only for database client certificates (issue #15): the
   * listener's `ca` then accepts nothing but those, never a certificate the server CA signed.
   */
  clientCaCertPem: string;
  clientCaKeyPem: string;
  recordingKey: RecordingKey;
  masterKey: Buffer;
  /** Files (relative to the data directory) created by this call. */
  created: string[];
  /** Files replaced by this call: the server certificate pair when it was re-issued. */
  renewed: string[];
}

const FILES = {
  caCert: 'tls/ca.crt',
  caKey: 'tls/ca.key',
  serverCert: 'tls/server.crt',
  serverKey: 'tls/server.key',
  clientCaCert: 'tls/client-ca.crt',
  clientCaKey: 'tls/client-ca.key',
  recordingKey: 'recording-ed25519.pem',
  masterKey: 'master.key',
} as const;

/** Re-issue the server certificate this long before it expires. */
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;
const MASTER_KEY_BYTES = 32;

export function loadOrInitDataDir(dir: string, options: DataDirOptions = {}): GatewayKeyMaterial {
  const now = options.now ?? new Date();
  const files = new DataDirFiles(dir);
  files.ensureDirectory('.');
  files.ensureDirectory('tls');

  const ca = loadOrCreateCa(files, now);
  const clientCa = loadOrCreateCa(files, now, {
    cert: FILES.clientCaCert,
    key: FILES.clientCaKey,
    commonName: 'Witness Client CA',
  });
  const server = loadOrIssueServerCertificate(files, ca, options.hostnames ?? [], now);
  const recordingKey = loadOrCreateRecordingKey(files);
  const masterKey =
    options.masterKeyBase64 !== undefined
      ? decodeMasterKey(options.masterKeyBase64, 'WITNESS_MASTER_KEY')
      : loadOrCreateMasterKey(files);

  return {
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    caFingerprint: fingerprintOfCertificate(ca.certPem),
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
    serverChainPem: `${withTrailingNewline(server.certPem)}${withTrailingNewline(ca.certPem)}`,
    clientCaCertPem: clientCa.certPem,
    clientCaKeyPem: clientCa.keyPem,
    recordingKey,
    masterKey,
    created: files.created,
    renewed: files.renewed,
  };
}

interface CaFiles {
  cert: string;
  key: string;
  commonName?: string;
}

function loadOrCreateCa(
  files: DataDirFiles,
  now: Date,
  names: CaFiles = { cert: FILES.caCert, key: FILES.caKey },
): PemCertificateAndKey {
  const { cert: certFile, key: keyFile } = names;
  const hasCert = files.exists(certFile);
  const hasKey = files.exists(keyFile);
  if (!hasCert && !hasKey) {
    const ca = createCertificateAuthority({
      now,
      ...(names.commonName !== undefined && { commonName: names.commonName }),
    });
    files.create(keyFile, ca.keyPem);
    files.create(certFile, ca.certPem);
    return ca;
  }
  // Never mint a new CA next to a surviving half of the old one: every enrolled desktop pins
  // the CA, so a silent replacement would look exactly like an interception.
  if (!hasCert || !hasKey) {
    const present = hasCert ? certFile : keyFile;
    const missing = hasCert ? keyFile : certFile;
    throw new Error(
      `${files.path(missing)} is missing but ${files.path(present)} exists. Restore it from a backup; or, to start a new CA (every desktop must then pin the new fingerprint), move ${files.path(present)} away and start again.`,
    );
  }

  const keyPem = files.readPrivate(keyFile);
  const certPem = files.read(certFile);
  const cert = parseCertificateFile(certPem, files.path(certFile));
  const key = parsePrivateKeyFile(keyPem, files.path(keyFile));
  if (!cert.ca) throw new Error(`${files.path(certFile)} is not a CA certificate`);
  if (!cert.checkPrivateKey(key)) {
    throw new Error(
      `${files.path(keyFile)} does not belong to ${files.path(certFile)}; restore the matching pair from a backup`,
    );
  }
  const notAfter = new Date(cert.validTo);
  if (notAfter.getTime() <= now.getTime()) {
    throw new Error(
      `The gateway CA in ${files.path(certFile)} expired at ${notAfter.toISOString()}. Move ${files.path('tls')} away to create a new CA; every desktop must then pin the new fingerprint.`,
    );
  }
  return { certPem, keyPem };
}

function loadOrIssueServerCertificate(
  files: DataDirFiles,
  ca: PemCertificateAndKey,
  hostnames: string[],
  now: Date,
): PemCertificateAndKey {
  const request = { hostnames, ipAddresses: [], now };
  const hasCert = files.exists(FILES.serverCert);
  const hasKey = files.exists(FILES.serverKey);
  if (!hasCert && !hasKey) {
    const server = issueServerCertificate(ca, request);
    files.create(FILES.serverKey, server.keyPem);
    files.create(FILES.serverCert, server.certPem);
    return server;
  }

  if (hasCert && hasKey) {
    const keyPem = files.readPrivate(FILES.serverKey);
    const certPem = files.read(FILES.serverCert);
    const cert = parseCertificateFile(certPem, files.path(FILES.serverCert));
    const key = parsePrivateKeyFile(keyPem, files.path(FILES.serverKey));
    const caCert = new X509Certificate(ca.certPem);
    const stillGood =
      cert.checkPrivateKey(key) &&
      cert.checkIssued(caCert) &&
      cert.verify(caCert.publicKey) &&
      new Date(cert.validFrom).getTime() <= now.getTime() &&
      new Date(cert.validTo).getTime() - now.getTime() > RENEW_BEFORE_MS &&
      coversNames(cert, normalizeServerNames(request));
    if (stillGood) return { certPem, keyPem };
  } else if (hasKey) {
    files.readPrivate(FILES.serverKey); // refuse a leaked key even though it is about to be replaced
  }

  // Key first: a crash between the two renames leaves a key that does not match the
  // certificate, which the checkPrivateKey above catches and repairs on the next start.
  const server = issueServerCertificate(ca, request);
  files.replace(FILES.serverKey, server.keyPem);
  files.replace(FILES.serverCert, server.certPem);
  return server;
}

function coversNames(
  cert: X509Certificate,
  names: { hostnames: string[]; ipAddresses: string[] },
): boolean {
  // Literal comparison (no wildcard expansion, no CN fallback): the certificate must list
  // exactly the names operators asked for, so a later narrower request does not pass on a
  // wildcard it never asked for.
  return (
    names.hostnames.every(
      (name) => cert.checkHost(name, { subject: 'never', wildcards: false }) !== undefined,
    ) && names.ipAddresses.every((ip) => cert.checkIP(ip) !== undefined)
  );
}

function loadOrCreateRecordingKey(files: DataDirFiles): RecordingKey {
  let privateKey: KeyObject;
  if (files.exists(FILES.recordingKey)) {
    const pem = files.readPrivate(FILES.recordingKey);
    privateKey = parsePrivateKeyFile(pem, files.path(FILES.recordingKey));
    if (privateKey.asymmetricKeyType !== 'ed25519') {
      throw new Error(
        `${files.path(FILES.recordingKey)} holds a ${privateKey.asymmetricKeyType} key; the recording key must be Ed25519`,
      );
    }
  } else {
    privateKey = generateKeyPairSync('ed25519').privateKey;
    files.create(
      FILES.recordingKey,
      privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    );
  }
  return recordingKeyOf(privateKey);
}

/** The recording key as the recorder and the API use it, from its Ed25519 private key. */
export function recordingKeyOf(privateKey: KeyObject): RecordingKey {
  const publicKey = createPublicKey(privateKey);
  const rawPublicKey = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
  return {
    keyId: `ed25519:${createHash('sha256').update(rawPublicKey).digest('hex').slice(0, 16)}`,
    privateKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

function loadOrCreateMasterKey(files: DataDirFiles): Buffer {
  if (files.exists(FILES.masterKey)) {
    return decodeMasterKey(files.readPrivate(FILES.masterKey), files.path(FILES.masterKey));
  }
  const masterKey = randomBytes(MASTER_KEY_BYTES);
  files.create(FILES.masterKey, `${masterKey.toString('base64')}\n`);
  return masterKey;
}

/** Strict base64 of exactly 32 bytes; the error never echoes the value, which is a secret. */
export function decodeMasterKey(text: string, source: string): Buffer {
  const trimmed = text.trim();
  if (trimmed === '') {
    throw new Error(
      `${source} is empty; it must be base64 of ${MASTER_KEY_BYTES} random bytes (generate one with \`openssl rand -base64 32\`)`,
    );
  }
  const key = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.toString('base64') !== trimmed) {
    throw new Error(
      `${source} is not valid base64; it must be base64 of ${MASTER_KEY_BYTES} random bytes (generate one with \`openssl rand -base64 32\`)`,
    );
  }
  if (key.length !== MASTER_KEY_BYTES) {
    throw new Error(
      `${source} decodes to ${key.length} bytes; it must be base64 of exactly ${MASTER_KEY_BYTES} bytes (generate one with \`openssl rand -base64 32\`)`,
    );
  }
  return key;
}

function parseCertificateFile(pem: string, path: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new Error(`${path} is not a valid PEM certificate; restore it from a backup`, {
      cause: error,
    });
  }
}

function parsePrivateKeyFile(pem: string, path: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (error) {
    throw new Error(`${path} is not a valid PEM private key; restore it from a backup`, {
      cause: error,
    });
  }
}

function withTrailingNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** File access inside the data directory, recording what this run created or replaced. */
class DataDirFiles {
  readonly created: string[] = [];
  readonly renewed: string[] = [];

  constructor(private readonly dir: string) {}

  path(name: string): string {
    return join(this.dir, name);
  }

  exists(name: string): boolean {
    return existsSync(this.path(name));
  }

  ensureDirectory(name: string): void {
    const path = this.path(name);
    if (existsSync(path)) {
      if (!statSync(path).isDirectory()) throw new Error(`${path} exists and is not a directory`);
      return;
    }
    mkdirSync(path, { recursive: true, mode: 0o700 });
    chmodSync(path, 0o700); // mkdir's mode is filtered through the umask
  }

  read(name: string): string {
    return readFileSync(this.path(name), 'utf8');
  }

  /** Reads a file holding a secret, refusing it if other users could have read or changed it. */
  readPrivate(name: string): string {
    const path = this.path(name);
    // POSIX mode bits say nothing about Windows ACLs.
    if (process.platform !== 'win32') {
      const mode = statSync(path).mode & 0o777;
      if ((mode & 0o077) !== 0) {
        throw new Error(
          `${path} holds a secret but is accessible to other users (mode ${mode.toString(8).padStart(4, '0')}). Treat it as possibly leaked; if it was not, run \`chmod 600 ${path}\` and start again.`,
        );
      }
    }
    return this.read(name);
  }

  create(name: string, content: string): void {
    try {
      // 'wx' fails if the file exists: an existing key is never overwritten.
      writeFileSync(this.path(name), content, { mode: 0o600, flag: 'wx' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new Error(
          `${this.path(name)} appeared while the gateway was creating it; is another gateway using ${this.dir}? Start again.`,
          { cause: error },
        );
      }
      throw error;
    }
    this.created.push(name);
  }

  /** Atomically replaces a file: a reader sees the old content or the new, never a mix. */
  replace(name: string, content: string): void {
    const path = this.path(name);
    const temporary = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const existed = existsSync(path);
    writeFileSync(temporary, content, { mode: 0o600, flag: 'wx' });
    renameSync(temporary, path);
    (existed ? this.renewed : this.created).push(name);
  }
}
