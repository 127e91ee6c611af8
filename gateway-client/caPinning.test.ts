import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CaDiscoveryError,
  CaMismatchError,
  checkPinnedCa,
  fetchPresentedCa,
  fingerprintOfPem,
  normalizeFingerprint,
} from './caPinning.ts';
import { createTestPki, type TestPki } from './fixtures/testPki.ts';
import { GatewayConnectionError } from './gatewayClient.ts';

const servers: https.Server[] = [];

async function serve(options: https.ServerOptions): Promise<string> {
  const server = https.createServer(options, (_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

let pki: TestPki;
let otherPki: TestPki;
let url: string;

beforeAll(async () => {
  [pki, otherPki] = await Promise.all([
    createTestPki(),
    createTestPki({ caName: 'Someone Else CA' }),
  ]);
  url = await serve({ key: pki.serverKeyPem, cert: pki.serverCertPem + pki.caPem });
});

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

describe('fetchPresentedCa', () => {
  it('returns the CA at the root of the presented chain, with its fingerprint256', async () => {
    const presented = await fetchPresentedCa(url);
    expect(presented.fingerprint).toBe(pki.caFingerprint);
    expect(presented.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    expect(fingerprintOfPem(presented.caPem)).toBe(pki.caFingerprint);
    expect(presented.caPem).toMatch(/^-----BEGIN CERTIFICATE-----/);
  });

  it('refuses a server that does not send its CA in the chain', async () => {
    const leafOnly = await serve({ key: pki.serverKeyPem, cert: pki.serverCertPem });
    const error = await fetchPresentedCa(leafOnly).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaDiscoveryError);
    expect((error as Error).message).toMatch(/did not send its CA certificate in the TLS chain/);
  });

  it('refuses a certificate that is not valid for the host in the URL', async () => {
    const wrongName = await createTestPki({ altNames: 'DNS:gateway.example.com' });
    const other = await serve({
      key: wrongName.serverKeyPem,
      cert: wrongName.serverCertPem + wrongName.caPem,
    });
    await expect(fetchPresentedCa(other)).rejects.toThrow(
      /not valid for 127\.0\.0\.1 \(it names DNS:gateway\.example\.com\)/,
    );
  });

  it('says the gateway is not running when the port is closed', async () => {
    const closed = await serve({ key: pki.serverKeyPem, cert: pki.serverCertPem + pki.caPem });
    const server = servers.pop()!;
    await new Promise((resolve) => server.close(resolve));
    const error = await fetchPresentedCa(closed).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayConnectionError);
    expect((error as Error).message).toBe(
      `cannot reach the gateway at ${closed}: ECONNREFUSED — is it running?`,
    );
  });
});

describe('checkPinnedCa', () => {
  it('accepts the pinned CA, whatever the fingerprint spelling', async () => {
    await expect(checkPinnedCa(url, pki.caFingerprint)).resolves.toMatchObject({
      fingerprint: pki.caFingerprint,
    });
    const lower = pki.caFingerprint.replaceAll(':', '').toLowerCase();
    await expect(checkPinnedCa(`${url}/`, lower)).resolves.toBeDefined();
  });

  it('refuses a changed CA with a message that says what it may mean and how to re-pin', async () => {
    const error = await checkPinnedCa(url, otherPki.caFingerprint).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CaMismatchError);
    const mismatch = error as CaMismatchError;
    expect(mismatch.presentedFingerprint).toBe(pki.caFingerprint);
    expect(mismatch.pinnedFingerprint).toBe(otherPki.caFingerprint);
    expect(mismatch.message).toContain(`The gateway at ${url} now presents`);
    expect(mismatch.message).toContain(pki.caFingerprint);
    expect(mismatch.message).toContain(`${otherPki.caFingerprint}\nwas pinned`);
    expect(mismatch.message).toMatch(/intercepting the connection/);
    expect(mismatch.message).toMatch(/re-installed with a new CA/);
    expect(mismatch.message).toContain(
      `\`witness logout --forget ${url}\`, then \`witness login ${url}\``,
    );
  });
});

describe('normalizeFingerprint', () => {
  const canonical = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0'))
    .join(':')
    .toUpperCase();
  it.each([
    canonical,
    canonical.toLowerCase(),
    canonical.replaceAll(':', ''),
    `SHA256:${canonical}`,
    ` ${canonical.replaceAll(':', ' ')} `,
  ])('normalizes %s', (input) => {
    expect(normalizeFingerprint(input)).toBe(canonical);
  });

  it.each(['', 'abc', `${canonical}:00`, canonical.replace(/^../, 'ZZ')])('rejects %j', (input) => {
    expect(normalizeFingerprint(input)).toBeNull();
  });
});
