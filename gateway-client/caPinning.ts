/**
 * Trust on first use for the gateway's TLS CA (DESIGN.md, "Enroll and log in").
 *
 * The gateway signs its server certificate with its own CA and sends that CA in the chain. On
 * first contact we read the chain without verifying it, show the CA's SHA-256 fingerprint so
 * the person can compare it with the one their admin gave them (or the enrollment link
 * carries), and pin the CA. From then on the client trusts only that CA (`GatewayClient`), and
 * a different CA is refused with `CaMismatchError` until the person re-pins deliberately.
 */
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import tls from 'node:tls';
import { describeConnectionError } from './gatewayClient.ts';
import { normalizeGatewayUrl } from './gatewayUrl.ts';

export interface PresentedCa {
  caPem: string;
  /** Node's `fingerprint256` format: upper-case hex pairs joined by ':'. */
  fingerprint: string;
}

/** The gateway presents a different CA from the pinned one. */
export class CaMismatchError extends Error {
  override readonly name = 'CaMismatchError';
  constructor(
    readonly baseUrl: string,
    readonly presentedFingerprint: string,
    readonly pinnedFingerprint: string,
  ) {
    super(
      `The gateway at ${baseUrl} now presents a CA certificate with fingerprint\n` +
        `  ${presentedFingerprint}\n` +
        `but\n  ${pinnedFingerprint}\nwas pinned. This can mean someone is intercepting the ` +
        `connection, or that the gateway was re-installed with a new CA. Nothing was sent to it.\n` +
        `If you know it was re-installed, check the new fingerprint with your admin, then re-pin ` +
        `deliberately: \`witness logout --forget ${baseUrl}\`, then \`witness login ${baseUrl}\`.`,
    );
  }
}

/** The gateway's TLS chain does not let us find (or trust) its CA. */
export class CaDiscoveryError extends Error {
  override readonly name = 'CaDiscoveryError';
}

/**
 * Canonical fingerprint form: accepts upper/lower case, with or without colons, optionally
 * prefixed with `SHA256:`; returns upper-case pairs joined by ':'. Null if it is not one.
 */
export function normalizeFingerprint(input: string): string | null {
  const hex = input
    .trim()
    .replace(/^sha-?256:?/i, '')
    .replace(/[\s:]/g, '')
    .toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return null;
  return hex.match(/../g)!.join(':');
}

export function fingerprintsEqual(a: string, b: string): boolean {
  const na = normalizeFingerprint(a);
  return na !== null && na === normalizeFingerprint(b);
}

/**
 * Connects with TLS *without* verification, follows the presented chain from the server
 * certificate to its self-signed root and returns that root. Checks what can be checked
 * without trust: every link is signed by the next one and the root is a CA, so the returned
 * CA really is the one that vouches for this server's certificate.
 */
export async function fetchPresentedCa(
  baseUrl: string,
  options: { timeoutMs?: number } = {},
): Promise<PresentedCa> {
  const url = new URL(normalizeGatewayUrl(baseUrl));
  const canonical = normalizeGatewayUrl(baseUrl);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(url.port || 443);
  const timeoutMs = options.timeoutMs ?? 15_000;

  const chain = await new Promise<tls.DetailedPeerCertificate>((resolve, reject) => {
    const socket = tls.connect({
      host,
      port,
      // SNI must be a DNS name, never an IP address (RFC 6066 §3).
      ...(tlsServername(host) ? { servername: host } : {}),
      // Verification is the point of pinning, not of this probe: we only read the chain here
      // and never send anything over this connection.
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        describeConnectionError(
          canonical,
          Object.assign(new Error('TLS handshake timed out'), { code: 'ETIMEDOUT' }),
        ),
      );
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      const peer = socket.getPeerCertificate(true);
      socket.end();
      resolve(peer);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(describeConnectionError(canonical, error));
    });
  });

  if (!chain?.raw) {
    throw new CaDiscoveryError(`the gateway at ${canonical} presented no TLS certificate`);
  }
  const certs: X509Certificate[] = [];
  let node: tls.DetailedPeerCertificate | undefined = chain;
  const seen = new Set<string>();
  while (node?.raw && !seen.has(node.fingerprint256)) {
    seen.add(node.fingerprint256);
    certs.push(new X509Certificate(node.raw));
    node = node.issuerCertificate;
  }
  const root = certs.at(-1)!;
  const leaf = certs[0]!;
  if (certs.length < 2 || !isSelfSigned(root)) {
    throw new CaDiscoveryError(
      `the gateway at ${canonical} did not send its CA certificate in the TLS chain ` +
        `(the chain ends at "${root.subject.replaceAll('\n', ', ')}", which is not a self-signed ` +
        `CA), so it cannot be pinned — the gateway must send server certificate + CA`,
    );
  }
  for (let i = 0; i + 1 < certs.length; i++) {
    const child = certs[i]!;
    const parent = certs[i + 1]!;
    if (!child.checkIssued(parent) || !child.verify(parent.publicKey)) {
      throw new CaDiscoveryError(
        `the TLS chain of the gateway at ${canonical} is broken: "${child.subject}" is not ` +
          `signed by "${parent.subject}"`,
      );
    }
  }
  if (!root.ca) {
    throw new CaDiscoveryError(
      `the root of the gateway's TLS chain at ${canonical} is not a CA certificate ` +
        '(basicConstraints CA:TRUE missing), so it cannot be pinned',
    );
  }
  // The host-name check the client will make later, done now so a wrong URL fails before
  // anyone is asked to trust anything.
  const hostOk = tlsServername(host) ? leaf.checkHost(host) : leaf.checkIP(host);
  if (!hostOk) {
    throw new CaDiscoveryError(
      `the gateway's TLS certificate is not valid for ${host} (it names ` +
        `${leaf.subjectAltName ?? leaf.subject}) — use the host name the certificate was issued for`,
    );
  }
  return { caPem: root.toString(), fingerprint: root.fingerprint256 };
}

/**
 * Confirms that the gateway still presents the pinned CA. Resolves with what it presents,
 * rejects with `CaMismatchError` when the CA changed.
 */
export async function checkPinnedCa(
  baseUrl: string,
  pinnedFingerprint: string,
  options: { timeoutMs?: number } = {},
): Promise<PresentedCa> {
  const presented = await fetchPresentedCa(baseUrl, options);
  if (!fingerprintsEqual(presented.fingerprint, pinnedFingerprint)) {
    throw new CaMismatchError(
      normalizeGatewayUrl(baseUrl),
      presented.fingerprint,
      normalizeFingerprint(pinnedFingerprint) ?? pinnedFingerprint,
    );
  }
  return presented;
}

/** SHA-256 fingerprint of a PEM certificate, in `fingerprint256` form. */
export function fingerprintOfPem(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

function isSelfSigned(cert: X509Certificate): boolean {
  return cert.checkIssued(cert) && cert.verify(cert.publicKey);
}

/** SNI and DNS-name checks apply to host names; IP addresses are matched as IPs. */
function tlsServername(host: string): boolean {
  return isIP(host) === 0;
}
