import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
  X509Certificate,
} from 'node:crypto';
import { isIP } from 'node:net';

/**
 * The gateway's own TLS PKI: a private CA (pinned by desktops on enrollment) and a server
 * certificate it signs for the API and the PostgreSQL listener.
 *
 * Certificates are DER-encoded here and signed with node:crypto rather than through
 * @peculiar/x509: that library imports tsyringe, which throws at import time unless a Reflect
 * metadata polyfill (reflect-metadata) was loaded first, and none is a dependency. This module
 * only *writes* DER for certificates it builds itself; every certificate it reads is parsed by
 * OpenSSL through Node's X509Certificate, so no hand-written parser meets untrusted input.
 */

export interface PemCertificateAndKey {
  certPem: string;
  /** PKCS#8 PEM, accepted as `key` by `tls.createServer`. */
  keyPem: string;
}

export interface CertificateAuthorityOptions {
  /** Start of validity; defaults to the current time. */
  now?: Date;
  /** The CA's name before its random suffix; default `Witness Gateway CA`. */
  commonName?: string;
}

/** A client certificate for a key the client made (issue #15: `witness db login`). */
export interface ClientCertificateRequest {
  /** The client's public key (SPKI PEM); its private key never reaches the gateway. */
  publicKeyPem: string;
  /** The subject's common name: for people reading logs, never for deciding anything. */
  commonName: string;
  /** uniformResourceIdentifier SANs: what the listener decides on. */
  uris: string[];
  /** End of validity (never past the CA's own). */
  notAfter: Date;
  /** Start of validity; defaults to the current time. */
  now?: Date;
}

export interface ServerCertificateRequest {
  /** DNS names (`gateway.example.com`, `*.example.com`); `localhost` is always added. */
  hostnames: string[];
  /** IPv4/IPv6 literals; `127.0.0.1` and `::1` are always added. */
  ipAddresses: string[];
  /** Start of validity; defaults to the current time. */
  now?: Date;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const CA_VALIDITY_DAYS = 3650;
/** Browsers reject server certificates valid for more than 398 days; a year stays inside. */
const SERVER_VALIDITY_DAYS = 365;
/** Back-date notBefore so a client whose clock is slightly behind still accepts a fresh cert. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

const ALWAYS_HOSTNAMES = ['localhost'];
const ALWAYS_IP_ADDRESSES = ['127.0.0.1', '::1'];

export function createCertificateAuthority(
  options: CertificateAuthorityOptions = {},
): PemCertificateAndKey {
  const now = options.now ?? new Date();
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  // A random suffix keeps two gateways' CAs apart in a trust store or an error message; they
  // would otherwise share an issuer name and confuse chain building.
  const name = encodeCommonName(
    `${options.commonName ?? 'Witness Gateway CA'} ${randomBytes(4).toString('hex')}`,
  );
  const certDer = buildCertificate({
    issuerName: name,
    subjectName: name,
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    subjectPublicKey: publicKey,
    signingKey: privateKey,
    extensions: [
      // pathLenConstraint 0: this CA signs only leaf certificates, never another CA.
      extension(OID.basicConstraints, true, derSequence(derBoolean(true), derInteger(0))),
      extension(OID.keyUsage, true, encodeKeyUsage([KEY_USAGE.keyCertSign, KEY_USAGE.cRLSign])),
      extension(OID.subjectKeyIdentifier, false, derOctetString(keyIdentifier(publicKey))),
    ],
  });
  return { certPem: toPem('CERTIFICATE', certDer), keyPem: exportPkcs8Pem(privateKey) };
}

export function issueServerCertificate(
  ca: PemCertificateAndKey,
  request: ServerCertificateRequest,
): PemCertificateAndKey {
  const now = request.now ?? new Date();
  const caCert = parseCertificate(ca.certPem, 'CA certificate');
  const caKey = parseCaKey(ca.keyPem);
  if (!caCert.ca) throw new Error('The CA certificate is not a CA (basicConstraints CA:FALSE)');
  if (!caCert.checkPrivateKey(caKey)) {
    throw new Error('The CA private key does not belong to the CA certificate');
  }
  const caNotAfter = new Date(caCert.validTo);
  if (caNotAfter.getTime() <= now.getTime()) {
    throw new Error(
      `The gateway CA expired at ${caNotAfter.toISOString()}; create a new CA and have clients pin its fingerprint again`,
    );
  }

  const names = normalizeServerNames(request);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const notAfter = Math.min(now.getTime() + SERVER_VALIDITY_DAYS * DAY_MS, caNotAfter.getTime());
  const generalNames = [
    ...names.hostnames.map((name) => derTagged(0x82, Buffer.from(name, 'ascii'))),
    ...names.ipAddresses.map((ip) => derTagged(0x87, ipAddressBytes(ip))),
  ];
  const certDer = buildCertificate({
    issuerName: subjectNameDer(caCert),
    subjectName: encodeCommonName('Witness Gateway'),
    notBefore: new Date(now.getTime() - CLOCK_SKEW_MS),
    notAfter: new Date(notAfter),
    subjectPublicKey: publicKey,
    signingKey: caKey,
    extensions: [
      extension(OID.basicConstraints, true, derSequence()),
      // ECDHE key exchange only needs the leaf key to sign (RFC 5480 §3, RFC 8446 §4.4.3).
      extension(OID.keyUsage, true, encodeKeyUsage([KEY_USAGE.digitalSignature])),
      extension(OID.extKeyUsage, false, derSequence(derOid(OID.serverAuth))),
      extension(OID.subjectAltName, false, derSequence(...generalNames)),
      extension(OID.subjectKeyIdentifier, false, derOctetString(keyIdentifier(publicKey))),
      extension(
        OID.authorityKeyIdentifier,
        false,
        derSequence(derTagged(0x80, keyIdentifier(caCert.publicKey))),
      ),
    ],
  });
  return { certPem: toPem('CERTIFICATE', certDer), keyPem: exportPkcs8Pem(privateKey) };
}

/**
 * Signs a TLS client certificate for `request.publicKeyPem`. The key is parsed by OpenSSL
 * (createPublicKey) and only EC P-256/P-384 and RSA ≥ 2048 keys are accepted: what libpq and
 * Node can present, with no weak keys.
 */
export function issueClientCertificate(
  ca: PemCertificateAndKey,
  request: ClientCertificateRequest,
): { certPem: string; notBefore: Date; notAfter: Date } {
  const now = request.now ?? new Date();
  const caCert = parseCertificate(ca.certPem, 'client CA certificate');
  const caKey = parseCaKey(ca.keyPem);
  const subjectPublicKey = parseClientPublicKey(request.publicKeyPem);
  const notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = new Date(
    Math.min(request.notAfter.getTime(), new Date(caCert.validTo).getTime()),
  );
  if (notAfter.getTime() <= now.getTime()) {
    throw new Error('The certificate would already have expired; ask for a later end');
  }
  const certDer = buildCertificate({
    issuerName: subjectNameDer(caCert),
    subjectName: encodeCommonName(request.commonName),
    notBefore,
    notAfter,
    subjectPublicKey,
    signingKey: caKey,
    extensions: [
      extension(OID.basicConstraints, true, derSequence()),
      extension(OID.keyUsage, true, encodeKeyUsage([KEY_USAGE.digitalSignature])),
      // clientAuth only: the certificate cannot pass as a server's (RFC 5280 §4.2.1.12).
      extension(OID.extKeyUsage, false, derSequence(derOid(OID.clientAuth))),
      extension(
        OID.subjectAltName,
        false,
        derSequence(...request.uris.map((uri) => derTagged(0x86, Buffer.from(uri, 'ascii')))),
      ),
      extension(
        OID.authorityKeyIdentifier,
        false,
        derSequence(derTagged(0x80, keyIdentifier(caCert.publicKey))),
      ),
    ],
  });
  return { certPem: toPem('CERTIFICATE', certDer), notBefore, notAfter };
}

function parseClientPublicKey(pem: string): KeyObject {
  // createPublicKey would also derive a public key from a private key or a certificate; only
  // an SPKI block is taken, so a client that sent its private key by mistake hears about it.
  if (/PRIVATE KEY/.test(pem)) throw new Error('Send the public key only, never the private key');
  if (!/^\s*-----BEGIN PUBLIC KEY-----/.test(pem)) {
    throw new Error('The public key must be a PEM "PUBLIC KEY" (SPKI) block');
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new Error('The public key is not a valid PEM public key (SPKI)', { cause: error });
  }
  const details = key.asymmetricKeyDetails;
  const ok =
    (key.asymmetricKeyType === 'ec' &&
      (details?.namedCurve === 'prime256v1' || details?.namedCurve === 'secp384r1')) ||
    (key.asymmetricKeyType === 'rsa' && (details?.modulusLength ?? 0) >= 2048);
  if (!ok) {
    throw new Error('The public key must be ECDSA P-256 or P-384, or RSA of at least 2048 bits');
  }
  return key;
}

/** SHA-256 of the DER, `AB:CD:…`, the same text as Node's `X509Certificate.fingerprint256`. */
export function fingerprintOfCertificate(pem: string): string {
  return parseCertificate(pem, 'certificate').fingerprint256;
}

/** The names a server certificate for `request` carries: lower-cased, deduplicated, validated. */
export function normalizeServerNames(
  request: Pick<ServerCertificateRequest, 'hostnames' | 'ipAddresses'>,
): {
  hostnames: string[];
  ipAddresses: string[];
} {
  const hostnames = new Set<string>(ALWAYS_HOSTNAMES);
  const ipAddresses = new Set<string>(ALWAYS_IP_ADDRESSES);
  for (const raw of request.hostnames) {
    const name = raw.trim().toLowerCase().replace(/\.$/, '');
    // An IP literal given as a host name belongs in an iPAddress SAN: clients never match
    // an IP against dNSName entries (RFC 6125 §3.1.3.2).
    if (isIP(name) !== 0) {
      ipAddresses.add(name);
      continue;
    }
    if (!isValidDnsName(name)) {
      throw new Error(
        `"${raw}" is not a valid host name for the gateway certificate; use a DNS name such as gateway.example.com`,
      );
    }
    hostnames.add(name);
  }
  for (const raw of request.ipAddresses) {
    const ip = raw.trim().toLowerCase();
    if (isIP(ip) === 0 || ip.includes('%')) {
      throw new Error(
        `"${raw}" is not an IP address for the gateway certificate; use e.g. 10.0.0.5 or fd00::5 (no zone id)`,
      );
    }
    ipAddresses.add(ip);
  }
  return { hostnames: [...hostnames], ipAddresses: [...ipAddresses] };
}

function isValidDnsName(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  const labels = name.split('.');
  return labels.every(
    (label, index) =>
      (index === 0 && label === '*' && labels.length > 2) ||
      /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(label),
  );
}

function parseCertificate(pem: string, what: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new Error(`The ${what} is not a valid PEM certificate`, { cause: error });
  }
}

function parseCaKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new Error('The CA private key is not a valid PEM private key', { cause: error });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('The CA private key must be an ECDSA P-256 key');
  }
  return key;
}

function exportPkcs8Pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

function toPem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

// ---------------------------------------------------------------------------------------------
// Certificate assembly (RFC 5280 §4.1) and the DER it needs (ITU-T X.690 §8, §10).

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

const KEY_USAGE = { digitalSignature: 0, keyCertSign: 5, cRLSign: 6 } as const;

interface CertificateFields {
  issuerName: Buffer;
  subjectName: Buffer;
  notBefore: Date;
  notAfter: Date;
  subjectPublicKey: KeyObject;
  signingKey: KeyObject;
  extensions: Buffer[];
}

function buildCertificate(fields: CertificateFields): Buffer {
  // RFC 5758 §3.2: the parameters of ecdsa-with-SHA256 MUST be absent.
  const signatureAlgorithm = derSequence(derOid(OID.ecdsaWithSha256));
  const tbsCertificate = derSequence(
    derTagged(0xa0, derInteger(2)), // version v3
    derInteger(serialNumber()),
    signatureAlgorithm,
    fields.issuerName,
    derSequence(derTime(fields.notBefore), derTime(fields.notAfter)),
    fields.subjectName,
    fields.subjectPublicKey.export({ type: 'spki', format: 'der' }),
    derTagged(0xa3, derSequence(...fields.extensions)),
  );
  // node:crypto emits ECDSA signatures as DER Ecdsa-Sig-Value, the form X.509 carries.
  const signature = sign('sha256', tbsCertificate, fields.signingKey);
  return derSequence(tbsCertificate, signatureAlgorithm, derBitString(signature));
}

/** 128 random bits, positive and non-zero as RFC 5280 §4.1.2.2 requires. */
function serialNumber(): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  return serial;
}

function encodeCommonName(commonName: string): Buffer {
  return derSequence(
    derSet(derSequence(derOid(OID.commonName), derTagged(0x0c, Buffer.from(commonName, 'utf8')))),
  );
}

function extension(oid: string, critical: boolean, value: Buffer): Buffer {
  // DER omits a BOOLEAN that equals its DEFAULT (critical DEFAULT FALSE).
  return critical
    ? derSequence(derOid(oid), derBoolean(true), derOctetString(value))
    : derSequence(derOid(oid), derOctetString(value));
}

/** A named BIT STRING: bit 0 is the most significant, trailing zero bits dropped (X.690 §11.2.2). */
function encodeKeyUsage(bits: number[]): Buffer {
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return derTagged(0x03, Buffer.concat([Buffer.from([7 - (highest & 7)]), bytes]));
}

/** RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING's bits. */
function keyIdentifier(publicKey: KeyObject): Buffer {
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  const [, bitString] = derChildren(spki, readDer(spki, 0));
  if (!bitString) throw new Error('Malformed SubjectPublicKeyInfo');
  return createHash('sha1')
    .update(spki.subarray(bitString.contentStart + 1, bitString.end))
    .digest();
}

/**
 * The issuer of a certificate we sign must equal the CA's subject byte for byte, so it is
 * copied from the CA certificate (already parsed by OpenSSL, so its structure is sound).
 */
function subjectNameDer(caCert: X509Certificate): Buffer {
  const der = caCert.raw;
  const [tbs] = derChildren(der, readDer(der, 0));
  if (!tbs) throw new Error('Malformed CA certificate');
  const fields = derChildren(der, tbs);
  const first = fields[0]?.tag === 0xa0 ? 1 : 0; // skip the optional [0] version
  const subject = fields[first + 4];
  if (!subject) throw new Error('Malformed CA certificate');
  return der.subarray(subject.start, subject.end);
}

function ipAddressBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  let text = ip;
  const embeddedV4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (embeddedV4) {
    const [a, b, c, d] = embeddedV4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, embeddedV4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  const bytes = Buffer.alloc(16);
  groups.forEach((group, index) => {
    bytes.writeUInt16BE(Number.parseInt(group, 16), index * 2);
  });
  return bytes;
}

function derLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function derTagged(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

function derSequence(...items: Buffer[]): Buffer {
  return derTagged(0x30, Buffer.concat(items));
}

function derSet(...items: Buffer[]): Buffer {
  return derTagged(0x31, Buffer.concat(items));
}

function derBoolean(value: boolean): Buffer {
  return derTagged(0x01, Buffer.from([value ? 0xff : 0x00]));
}

/** A non-negative INTEGER from a number or unsigned big-endian bytes, minimally encoded. */
function derInteger(value: number | Buffer): Buffer {
  let bytes = typeof value === 'number' ? Buffer.from([value]) : value;
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return derTagged(0x02, bytes);
}

function derOctetString(content: Buffer): Buffer {
  return derTagged(0x04, content);
}

function derBitString(content: Buffer): Buffer {
  return derTagged(0x03, Buffer.concat([Buffer.from([0]), content]));
}

function derOid(oid: string): Buffer {
  const [first = 0, second = 0, ...rest] = oid.split('.').map(Number);
  const bytes: number[] = [first * 40 + second];
  for (const arc of rest) {
    const base128: number[] = [arc & 0x7f];
    for (let value = arc >>> 7; value > 0; value >>>= 7) base128.unshift((value & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return derTagged(0x06, Buffer.from(bytes));
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
function derTime(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return date.getUTCFullYear() < 2050
    ? derTagged(0x17, Buffer.from(digits.slice(2), 'ascii'))
    : derTagged(0x18, Buffer.from(digits, 'ascii'));
}

interface DerElement {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

function readDer(der: Buffer, offset: number): DerElement {
  const tag = der[offset];
  const first = der[offset + 1];
  if (tag === undefined || first === undefined) throw new Error('Truncated DER');
  let length = first;
  let contentStart = offset + 2;
  if (first & 0x80) {
    const count = first & 0x7f;
    if (count === 0 || count > 4) throw new Error('Unsupported DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (der[contentStart + i] ?? 0);
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) throw new Error('Truncated DER');
  return { tag, start: offset, contentStart, end };
}

function derChildren(der: Buffer, parent: DerElement): DerElement[] {
  const children: DerElement[] = [];
  for (let offset = parent.contentStart; offset < parent.end; ) {
    const child = readDer(der, offset);
    children.push(child);
    offset = child.end;
  }
  return children;
}
