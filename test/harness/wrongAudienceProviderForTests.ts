/**
 * An OpenID provider that answers with an ID token for another client (issue #18's "wrong
 * audience" refusal). `oidc-provider` is certified and cannot be made to mint one, so this is a
 * deliberately minimal provider on loopback — discovery, an authorization endpoint that
 * approves at once, a token endpoint and a JWKS — whose ID tokens, signed with `jose`, carry
 * `aud` of a client that is not the gateway. Everything else about them is right (issuer,
 * nonce, expiry, signature), so the audience is the one fault the gateway can find.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface WrongAudienceProvider {
  issuer: string;
  /** The audience its ID tokens name (not the gateway's client id). */
  audience: string;
  close(): Promise<void>;
}

export async function startWrongAudienceProvider(): Promise<WrongAudienceProvider> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'wrong-aud-1', alg: 'ES256', use: 'sig' };
  const audience = 'another-application';
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // code → the nonce of the authorization request it answers (the ID token must carry it).
  const nonces = new Map<string, string>();
  let issued = 0;
  const json = (response: http.ServerResponse, body: unknown) =>
    response
      .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(JSON.stringify(body));
  server.on('request', (request, response) => {
    const url = new URL(request.url ?? '/', issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      json(response, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['ES256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      });
      return;
    }
    if (url.pathname === '/jwks') {
      json(response, { keys: [jwk] });
      return;
    }
    if (url.pathname === '/authorize') {
      const code = `code-${++issued}`;
      nonces.set(code, url.searchParams.get('nonce') ?? '');
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      response.writeHead(302, { location: back.href }).end();
      return;
    }
    if (url.pathname === '/token' && request.method === 'POST') {
      let body = '';
      request.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      request.on('end', () => {
        const code = new URLSearchParams(body).get('code') ?? '';
        const now = Math.floor(Date.now() / 1000);
        new SignJWT({ nonce: nonces.get(code) ?? '', preferred_username: 'mallory' })
          .setProtectedHeader({ alg: 'ES256', kid: 'wrong-aud-1' })
          .setIssuer(issuer)
          .setSubject('mallory')
          .setAudience(audience)
          .setIssuedAt(now)
          .setExpirationTime(now + 300)
          .sign(privateKey)
          .then((idToken) =>
            json(response, {
              access_token: `access-${code}`,
              token_type: 'Bearer',
              expires_in: 300,
              id_token: idToken,
            }),
          );
      });
      return;
    }
    response.writeHead(404).end();
  });
  return {
    issuer,
    audience,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
