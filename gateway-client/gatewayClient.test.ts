import net from 'node:net';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TokenPair } from '../shared/api/apiSchemas.ts';
import { type FakeGateway, sendJson, startFakeGateway } from './fixtures/fakeGateway.ts';
import { createTestPki, type TestPki } from './fixtures/testPki.ts';
import {
  GatewayApiError,
  GatewayClient,
  GatewayConnectionError,
  GatewayProtocolError,
  InvalidRequestError,
  NotSignedInError,
  SessionExpiredError,
  type SessionTokens,
  type TokenProvider,
} from './gatewayClient.ts';

let pki: TestPki;
let otherPki: TestPki;
let gateway: FakeGateway;
const clients: GatewayClient[] = [];

beforeAll(async () => {
  [pki, otherPki] = await Promise.all([createTestPki(), createTestPki({ caName: 'Other CA' })]);
});

beforeEach(async () => {
  gateway = await startFakeGateway(pki);
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await gateway.close();
});

function clientFor(
  options: Partial<ConstructorParameters<typeof GatewayClient>[0]> = {},
  tokens?: TokenProvider,
) {
  const client = new GatewayClient({ baseUrl: gateway.url, caPem: pki.caPem, ...options }, tokens);
  clients.push(client);
  return client;
}

/** A provider like the CLI's: keeps the current pair, records every rotated one it persists. */
function memoryTokens(initial: SessionTokens) {
  const persisted: TokenPair[] = [];
  let current: SessionTokens | null = initial;
  const provider: TokenProvider = {
    tokens: () => current,
    tokensRefreshed: async (pair) => {
      persisted.push(pair);
      current = pair;
    },
  };
  return {
    provider,
    persisted,
    current: () => current,
    signOut: () => {
      current = null;
    },
  };
}

async function signedInClient() {
  const pair = await clientFor().login({ username: 'alice', password: 'alice-password-1' });
  const tokens = memoryTokens(pair);
  return { client: clientFor({}, tokens.provider), tokens, pair };
}

describe('GatewayClient', () => {
  it('talks to the gateway with only the pinned CA and validates responses', async () => {
    const client = clientFor();
    await expect(client.health()).resolves.toMatchObject({ status: 'ok', store: 'sqlite' });
    const pair = await client.login({ username: 'alice', password: 'alice-password-1' });
    expect(pair.user).toMatchObject({ username: 'alice', role: 'engineer' });

    const signedIn = clientFor({}, memoryTokens(pair).provider);
    const resources = await signedIn.listResources();
    expect(resources.map((r) => r.name)).toEqual(['prod-db', 'web-1']);
    const session = await signedIn.createSession('r_db');
    expect(session).toMatchObject({ sessionId: 's_1', endpoint: { protocol: 'postgres' } });
    expect(gateway.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: '/v1/sessions',
      authorization: `Bearer ${pair.accessToken}`,
      body: { resourceId: 'r_db' },
    });
  });

  it('refuses a gateway whose certificate the pinned CA did not sign', async () => {
    const client = clientFor({ caPem: otherPki.caPem });
    const error = await client.health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayConnectionError);
    expect(error).toMatchObject({ reason: 'tls' });
    expect((error as Error).message).toMatch(
      /presented a TLS certificate that the pinned CA does not accept/,
    );
  });

  it('rebuilds API errors from the error body', async () => {
    const client = clientFor();
    const wrong = await client
      .login({ username: 'alice', password: 'nope' })
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(GatewayApiError);
    expect(wrong).toMatchObject({
      status: 401,
      code: 'invalid_credentials',
      message: 'wrong user name or password',
      issues: [],
      retryAfter: undefined,
    });

    gateway.override('GET /v1/health', (_req, res) =>
      sendJson(res, 429, {
        code: 'rate_limited',
        message: 'slow down',
        retryAfter: '2030-01-01T00:00:00.000Z',
        issues: [{ path: 'x.y', message: 'too many' }],
      }),
    );
    const limited = (await client.health().catch((e: unknown) => e)) as GatewayApiError;
    expect(limited).toBeInstanceOf(GatewayApiError);
    expect(limited.toJSON()).toEqual({
      status: 429,
      code: 'rate_limited',
      message: 'slow down',
      retryAfter: '2030-01-01T00:00:00.000Z',
      issues: [{ path: 'x.y', message: 'too many' }],
    });
  });

  it('reports a TOTP requirement as totp_required', async () => {
    const client = clientFor();
    await expect(
      client.login({ username: 'bob', password: 'bob-password-12' }),
    ).rejects.toMatchObject({ code: 'totp_required', status: 401 });
    await expect(
      client.login({ username: 'bob', password: 'bob-password-12', totp: '123456' }),
    ).resolves.toMatchObject({ user: { username: 'bob' } });
  });

  it('checks request bodies against the contract before sending', async () => {
    const client = clientFor();
    const error = await client
      .login({ username: 'bob', password: 'x', totp: '12' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toBe('totp: TOTP codes are six digits');
    expect(gateway.requests).toHaveLength(0);
  });

  it('maps a non-API error page to a GatewayApiError with the status', async () => {
    gateway.override('GET /v1/health', (_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>');
    });
    await expect(clientFor().health()).rejects.toMatchObject({
      name: 'GatewayApiError',
      status: 502,
      code: 'internal',
      message: expect.stringMatching(/answered GET \/v1\/health with 502 Bad Gateway: <h1>/),
    });
  });

  it('refuses answers that are not JSON or not the promised shape', async () => {
    gateway.override('GET /v1/health', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('hello');
    });
    await expect(clientFor().health()).rejects.toMatchObject({
      name: 'GatewayProtocolError',
      reason: 'not_json',
    });
    gateway.override('GET /v1/health', (_req, res) => sendJson(res, 200, { status: 'sick' }));
    const error = await clientFor()
      .health()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayProtocolError);
    expect((error as Error).message).toMatch(/unexpected answer to GET \/v1\/health \(status: /);
  });

  it('refuses a response larger than the cap, declared or streamed', async () => {
    const big = Buffer.alloc(17 * 1024 * 1024, 0x20);
    gateway.override('GET /v1/health', (_req, res) => {
      // No content-length: the cap must hold while streaming.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(big);
    });
    const streamed = await clientFor()
      .health()
      .catch((e: unknown) => e);
    expect(streamed).toBeInstanceOf(GatewayProtocolError);
    expect(streamed).toMatchObject({ reason: 'too_large' });
    expect((streamed as Error).message).toMatch(
      /sent more than 16 MiB in answer to GET \/v1\/health/,
    );

    gateway.override('GET /v1/health', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 2048 });
      res.end(Buffer.alloc(2048, 0x20));
    });
    await expect(clientFor({ maxResponseBytes: 1024 }).health()).rejects.toMatchObject({
      reason: 'too_large',
      message: expect.stringMatching(/more than 1 KiB/),
    });
  });

  it('gives up after the timeout', async () => {
    gateway.override('GET /v1/health', () => {
      // never answers
    });
    const error = await clientFor({ timeoutMs: 200 })
      .health()
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayConnectionError);
    expect((error as Error).message).toMatch(/did not answer GET \/v1\/health within 0\.2 s/);
  });

  it('says the gateway is not running when the connection is refused', async () => {
    const port = await closedPort();
    const client = clientFor({ baseUrl: `https://127.0.0.1:${port}` });
    const error = await client.health().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GatewayConnectionError);
    expect(error).toMatchObject({ reason: 'refused', errorCode: 'ECONNREFUSED' });
    expect((error as Error).message).toBe(
      `cannot reach the gateway at https://127.0.0.1:${port}: ECONNREFUSED — is it running?`,
    );
  });

  it('refreshes once on token_expired, persists the rotated pair and retries', async () => {
    const { client, tokens, pair } = await signedInClient();
    gateway.expireAccessTokens();
    gateway.requests.length = 0;

    const me = await client.me();
    expect(me.username).toBe('alice');
    expect(gateway.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /v1/me',
      'POST /v1/auth/refresh',
      'GET /v1/me',
    ]);
    expect(tokens.persisted).toHaveLength(1);
    const rotated = tokens.persisted[0]!;
    expect(rotated.refreshToken).not.toBe(pair.refreshToken);
    expect(gateway.requests[2]!.authorization).toBe(`Bearer ${rotated.accessToken}`);
    // The old refresh token is spent; the rotated one is the live one.
    expect(gateway.liveRefreshTokens()).toContain(rotated.refreshToken);
    expect(gateway.liveRefreshTokens()).not.toContain(pair.refreshToken);
  });

  it('shares one refresh between concurrent calls', async () => {
    const { client, tokens } = await signedInClient();
    gateway.expireAccessTokens();
    gateway.requests.length = 0;
    const [resources, grants, me] = await Promise.all([
      client.listResources(),
      client.listGrants(),
      client.me(),
    ]);
    expect(resources).toHaveLength(2);
    expect(grants).toHaveLength(1);
    expect(me.username).toBe('alice');
    expect(gateway.requests.filter((r) => r.path === '/v1/auth/refresh')).toHaveLength(1);
    expect(tokens.persisted).toHaveLength(1);
  });

  it('leaves renewal to a provider that renews itself, once for concurrent calls (#12)', async () => {
    const pair = await clientFor().login({ username: 'alice', password: 'alice-password-1' });
    // The provider renews on its own terms (a shared keeper: under a lock, or by taking
    // another process's tokens); here through a client of its own.
    const renewer = clientFor();
    let current = { accessToken: pair.accessToken, refreshToken: pair.refreshToken };
    const asked: string[] = [];
    const client = clientFor(
      {},
      {
        tokens: () => current,
        tokensRefreshed: () => {
          throw new Error('the client must not renew itself');
        },
        async renewExpired(expired) {
          asked.push(expired);
          current = await renewer.refresh(current.refreshToken);
          return current;
        },
      },
    );
    gateway.expireAccessTokens();
    gateway.requests.length = 0;
    const [me, resources] = await Promise.all([client.me(), client.listResources()]);
    expect(me.username).toBe('alice');
    expect(resources).toHaveLength(2);
    expect(asked).toEqual([pair.accessToken]);
    // The one renewal was the provider's.
    expect(gateway.requests.filter((r) => r.path === '/v1/auth/refresh')).toHaveLength(1);
    renewer.close();
  });

  it('throws SessionExpiredError when the refresh token is refused', async () => {
    const { client, tokens } = await signedInClient();
    gateway.expireAccessTokens();
    gateway.revokeRefreshTokens();
    const error = await client.me().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SessionExpiredError);
    expect((error as Error).message).toBe(
      `your session with ${gateway.url} expired — sign in again`,
    );
    expect(tokens.persisted).toHaveLength(0);
  });

  it('does not refresh on other 401s', async () => {
    const { client } = await signedInClient();
    gateway.override('GET /v1/me', (_req, res) =>
      sendJson(res, 401, { code: 'unauthenticated', message: 'sign in first' }),
    );
    await expect(client.me()).rejects.toMatchObject({ code: 'unauthenticated' });
    expect(gateway.requests.filter((r) => r.path === '/v1/auth/refresh')).toHaveLength(0);
  });

  it('throws NotSignedInError without a request when there are no tokens', async () => {
    const { client, tokens } = await signedInClient();
    tokens.signOut();
    const before = gateway.requests.length;
    await expect(client.me()).rejects.toBeInstanceOf(NotSignedInError);
    expect(gateway.requests).toHaveLength(before);
  });

  it('logs out with the refresh token that is current when the request is sent', async () => {
    const { client, tokens } = await signedInClient();
    gateway.expireAccessTokens();
    await client.logout();
    const rotated = tokens.persisted[0]!;
    expect(gateway.requests.at(-1)).toMatchObject({
      path: '/v1/auth/logout',
      body: { refreshToken: rotated.refreshToken },
    });
    expect(gateway.liveRefreshTokens()).toEqual([]);
  });

  it('encodes ids in paths and builds session queries', async () => {
    const { client } = await signedInClient();
    gateway.override('GET /v1/sessions', (_req, res) => sendJson(res, 200, { sessions: [] }));
    await client.listSessions({ state: 'live', limit: 5 });
    expect(gateway.requests.at(-1)!.path).toBe('/v1/sessions?state=live&limit=5');
    await client.getResource('a/b c').catch(() => undefined);
    expect(gateway.requests.at(-1)!.path).toBe('/v1/resources/a%2Fb%20c');
  });
});

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
