import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  fingerprintOfCertificate,
  issueClientCertificate,
  issueServerCertificate,
} from './tlsCertificates.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

const servers: tls.Server[] = [];
afterEach(async () => {
  await Promise.all(
    servers.splice(0).map((server) => new Promise<void>((done) => server.close(() => done()))),
  );
});

async function startTlsServer(key: string, cert: string): Promise<number> {
  const server = tls.createServer({ key, cert }, (socket) => socket.end('hello'));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Resolves with the peer certificate after a verified handshake, rejects with the TLS error. */
function handshake(port: number, options: tls.ConnectionOptions): Promise<tls.PeerCertificate> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...options }, () => {
      const peer = socket.getPeerCertificate();
      socket.destroy();
      resolve(peer);
    });
    socket.once('error', reject);
  });
}

describe('createCertificateAuthority', () => {
  it('creates a self-signed ECDSA P-256 CA valid for about ten years', () => {
    const now = new Date('2030-03-01T12:00:00Z');
    const ca = createCertificateAuthority({ now });
    const cert = new X509Certificate(ca.certPem);

    expect(cert.ca).toBe(true);
    expect(cert.subject).toMatch(/^CN=Witness Gateway CA [0-9a-f]{8}$/);
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.checkPrivateKey(createPrivateKey(ca.keyPem))).toBe(true);
    expect(ca.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/); // PKCS#8, not SEC1
    const lifetimeDays = (Date.parse(cert.validTo) - now.getTime()) / DAY_MS;
    expect(lifetimeDays).toBeGreaterThan(3640);
    expect(lifetimeDays).toBeLessThan(3660);
    expect(Date.parse(cert.validFrom)).toBeLessThanOrEqual(now.getTime());
  });

  it('gives every CA its own name', () => {
    const first = new X509Certificate(createCertificateAuthority().certPem);
    const second = new X509Certificate(createCertificateAuthority().certPem);
    expect(first.subject).not.toBe(second.subject);
  });
});

describe('issueServerCertificate', () => {
  const ca = createCertificateAuthority();

  it('serves TLS that a client pinning the CA accepts for localhost', async () => {
    const server = issueServerCertificate(ca, { hostnames: [], ipAddresses: [] });
    const port = await startTlsServer(server.keyPem, server.certPem);

    const peer = await handshake(port, { ca: ca.certPem, servername: 'localhost' });

    expect(peer.fingerprint256).toBe(fingerprintOfCertificate(server.certPem));
  });

  it('is accepted when the client connects to 127.0.0.1 by address', async () => {
    const server = issueServerCertificate(ca, { hostnames: [], ipAddresses: [] });
    const port = await startTlsServer(server.keyPem, server.certPem);

    // Without servername the client checks the IP address against the iPAddress SANs.
    await expect(handshake(port, { ca: ca.certPem })).resolves.toBeDefined();
  });

  it('is rejected by a client that trusts a different CA', async () => {
    const server = issueServerCertificate(ca, { hostnames: [], ipAddresses: [] });
    const port = await startTlsServer(server.keyPem, server.certPem);
    const otherCa = createCertificateAuthority();

    await expect(
      handshake(port, { ca: otherCa.certPem, servername: 'localhost' }),
    ).rejects.toMatchObject({ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
  });

  it('covers requested host names and nothing else', async () => {
    const server = issueServerCertificate(ca, {
      hostnames: ['Gateway.Example.Test'],
      ipAddresses: [],
    });
    const port = await startTlsServer(server.keyPem, server.certPem);

    await expect(
      handshake(port, { ca: ca.certPem, servername: 'gateway.example.test' }),
    ).resolves.toBeDefined();
    await expect(
      handshake(port, { ca: ca.certPem, servername: 'evil.example.test' }),
    ).rejects.toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('carries IPv4 and IPv6 SANs, moving IP literals given as host names there', () => {
    const server = issueServerCertificate(ca, {
      hostnames: ['10.0.0.7'],
      ipAddresses: ['2001:db8::1', '::ffff:192.0.2.1'],
    });
    const cert = new X509Certificate(server.certPem);

    for (const ip of ['127.0.0.1', '::1', '10.0.0.7', '2001:db8::1', '::ffff:192.0.2.1']) {
      expect(cert.checkIP(ip), ip).toBe(ip);
    }
    expect(cert.checkIP('10.0.0.8')).toBeUndefined();
    expect(cert.subjectAltName).not.toContain('DNS:10.0.0.7');
  });

  it('is a leaf for server authentication, signed by the CA', () => {
    const server = issueServerCertificate(ca, { hostnames: [], ipAddresses: [] });
    const cert = new X509Certificate(server.certPem);
    const caCert = new X509Certificate(ca.certPem);

    expect(cert.ca).toBe(false);
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.1']); // extKeyUsage: serverAuth only
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(cert.checkPrivateKey(createPrivateKey(server.keyPem))).toBe(true);
  });

  it('is valid for about a year, but never beyond the CA', () => {
    const now = new Date('2031-06-01T00:00:00Z');
    const yearly = new X509Certificate(
      issueServerCertificate(createCertificateAuthority({ now }), {
        hostnames: [],
        ipAddresses: [],
        now,
      }).certPem,
    );
    expect((Date.parse(yearly.validTo) - now.getTime()) / DAY_MS).toBeCloseTo(365, 0);

    const oldCa = createCertificateAuthority({ now: new Date(now.getTime() - 3600 * DAY_MS) });
    const capped = new X509Certificate(
      issueServerCertificate(oldCa, { hostnames: [], ipAddresses: [], now }).certPem,
    );
    expect(capped.validTo).toBe(new X509Certificate(oldCa.certPem).validTo);
  });

  it('refuses an expired CA, a mismatched CA key and invalid names', () => {
    const now = new Date();
    const expired = createCertificateAuthority({ now: new Date(now.getTime() - 3651 * DAY_MS) });
    expect(() => issueServerCertificate(expired, { hostnames: [], ipAddresses: [] })).toThrow(
      /CA expired/,
    );

    const other = createCertificateAuthority();
    expect(() =>
      issueServerCertificate(
        { certPem: ca.certPem, keyPem: other.keyPem },
        { hostnames: [], ipAddresses: [] },
      ),
    ).toThrow(/does not belong/);

    for (const hostname of ['bad_host', 'a..b', '-x.example', `${'a'.repeat(64)}.example`]) {
      expect(() => issueServerCertificate(ca, { hostnames: [hostname], ipAddresses: [] })).toThrow(
        /not a valid host name/,
      );
    }
    expect(() =>
      issueServerCertificate(ca, { hostnames: [], ipAddresses: ['fe80::1%eth0'] }),
    ).toThrow(/not an IP address/);
  });
});

describe('fingerprintOfCertificate', () => {
  it("matches Node's fingerprint256", () => {
    const { certPem } = createCertificateAuthority();

    const fingerprint = fingerprintOfCertificate(certPem);

    expect(fingerprint).toBe(new X509Certificate(certPem).fingerprint256);
    expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('rejects text that is not a certificate', () => {
    expect(() => fingerprintOfCertificate('not a certificate')).toThrow(/not a valid PEM/);
  });
});

describe('issueClientCertificate (issue #15: database certificates)', () => {
  const clientCa = createCertificateAuthority({ commonName: 'Witness Client CA' });
  const serverCa = createCertificateAuthority();
  const server = issueServerCertificate(serverCa, { hostnames: [], ipAddresses: [] });
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const issue = (overrides: Partial<Parameters<typeof issueClientCertificate>[1]> = {}) =>
    issueClientCertificate(clientCa, {
      publicKeyPem,
      commonName: 'alice',
      uris: ['urn:witness:user:usr_a', 'urn:witness:resource:res_b'],
      notAfter: new Date(Date.now() + 3600_000),
      ...overrides,
    });

  it('signs the client key for clientAuth only, with the URIs and the asked end', () => {
    const notAfter = new Date(Date.now() + 1800_000);
    const issued = issue({ notAfter });
    const cert = new X509Certificate(issued.certPem);
    expect(cert.verify(new X509Certificate(clientCa.certPem).publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(cert.ca).toBe(false);
    expect(cert.subject).toBe('CN=alice');
    expect(cert.subjectAltName).toBe('URI:urn:witness:user:usr_a, URI:urn:witness:resource:res_b');
    expect(cert.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    // X.509 keeps whole seconds.
    expect(Math.abs(Date.parse(cert.validTo) - notAfter.getTime())).toBeLessThan(1000);
    expect(issued.notAfter).toEqual(notAfter);
  });

  it('is accepted by a TLS server that trusts the client CA, and by no other', async () => {
    const port = await new Promise<number>((resolve) => {
      const tlsServer = tls.createServer(
        {
          key: server.keyPem,
          cert: server.certPem,
          ca: clientCa.certPem,
          requestCert: true,
          rejectUnauthorized: false,
        },
        (socket) => socket.end(socket.authorized ? 'ok' : String(socket.authorizationError)),
      );
      servers.push(tlsServer);
      tlsServer.listen(0, '127.0.0.1', () => resolve((tlsServer.address() as AddressInfo).port));
    });
    const answer = (cert: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = tls.connect({
          host: '127.0.0.1',
          port,
          ca: serverCa.certPem,
          servername: 'localhost',
          cert,
          key: keyPem,
        });
        let text = '';
        socket.setEncoding('utf8').on('data', (chunk: string) => {
          text += chunk;
        });
        socket.once('end', () => resolve(text));
        socket.once('error', reject);
      });
    expect(await answer(issue().certPem)).toBe('ok');
    const foreign = issueClientCertificate(createCertificateAuthority(), {
      publicKeyPem,
      commonName: 'alice',
      uris: ['urn:witness:user:usr_a', 'urn:witness:resource:res_b'],
      notAfter: new Date(Date.now() + 3600_000),
    });
    expect(await answer(foreign.certPem)).toMatch(/UNABLE_TO_VERIFY_LEAF_SIGNATURE|ISSUER/);
    const expired = issue({
      now: new Date(Date.now() - 2 * 3600_000),
      notAfter: new Date(Date.now() - 3600_000),
    });
    expect(await answer(expired.certPem)).toBe('CERT_HAS_EXPIRED');
  });

  it('refuses private keys, weak keys and an end already past', () => {
    expect(() => issue({ publicKeyPem: keyPem })).toThrow(/public key only/);
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    expect(() =>
      issue({ publicKeyPem: weak.export({ type: 'spki', format: 'pem' }).toString() }),
    ).toThrow(/at least 2048 bits/);
    expect(() => issue({ publicKeyPem: 'hello' })).toThrow(/PUBLIC KEY/);
    expect(() => issue({ notAfter: new Date(Date.now() - 1000) })).toThrow(/already have expired/);
  });
});
