/**
 * A CI system's token issuer for tests (issue #18): a discovery document and a JWKS on
 * loopback, and jose-signed workload tokens like the ones GitHub Actions gives a job with
 * `id-token: write`.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';

export interface TestCiIssuer {
  issuer: string;
  /** A token for one job: `claims` over sensible defaults; `expiresIn` seconds (negative: past). */
  token(claims: JWTPayload, options?: { expiresIn?: number; audience?: string }): Promise<string>;
  /** A token with the issuer's name, signed by a key the issuer never published. */
  forgedToken(claims: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

export async function startTestCiIssuer(): Promise<TestCiIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const forger = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'ci-key-1', alg: 'ES256', use: 'sig' };
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  server.on('request', (request, response) => {
    const body =
      request.url === '/.well-known/openid-configuration'
        ? { issuer, jwks_uri: `${issuer}/.well-known/jwks` }
        : request.url === '/.well-known/jwks'
          ? { keys: [jwk] }
          : undefined;
    if (!body) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  const sign = (key: CryptoKey, claims: JWTPayload, expiresIn: number, audience: string) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: 'ci-key-1' })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(String(claims.sub ?? 'repo:acme/app:ref:refs/heads/main'))
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + expiresIn)
      .sign(key);
  };
  return {
    issuer,
    token: (claims, options = {}) =>
      sign(privateKey, claims, options.expiresIn ?? 300, options.audience ?? 'witness'),
    forgedToken: (claims) => sign(forger.privateKey, claims, 300, 'witness'),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
