/**
 * OpenID Connect sign-in against a real provider on loopback (issue #18): `oidc-provider`, a
 * certified implementation, with its development login pages, driven by a cookie-keeping HTTP
 * browser. The gateway is the relying party (code + PKCE), the client listens on 127.0.0.1
 * (RFC 8252) and gets the usual access and rotating refresh tokens; users are created on first
 * sign-in and follow the provider's groups; every way of tampering is refused with a message.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWitnessCli } from '../../gateway-client/cli/witnessCli.ts';
import { signInThroughBrowser } from '../../gateway-client/oidc/browserSignIn.ts';
import type { TokenPair } from '../../shared/api/apiSchemas.ts';
import { TestBrowser } from '../harness/browserForTests.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';
import { startTestOidcProvider, type TestOidcProvider } from '../harness/oidcProviderForTests.ts';

const ADMIN_PASSWORD = 'admin-password-1';

describe('OpenID Connect sign-in', () => {
  let gw: TestGateway;
  let idp: TestOidcProvider;
  let adminToken: string;
  let callbackUrl: string;
  let work: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    callbackUrl = `${gw.gateway.apiUrl}/v1/oidc/callback`;
    idp = await startTestOidcProvider({ redirectUris: [callbackUrl] });
    idp.accounts.set('alice', { email: 'alice@example.com', groups: ['ops', 'Data Team'] });
    idp.accounts.set('bob', { email: 'bob@example.com', groups: [] });
    await gw.createUser('root', 'admin', ADMIN_PASSWORD);
    adminToken = await gw.login('root', ADMIN_PASSWORD);
    const created = await gw.request('POST', '/v1/oidc-providers', {
      token: adminToken,
      body: {
        name: 'corp',
        displayName: 'Corp SSO',
        issuer: idp.issuer,
        clientId: idp.clientId,
        clientSecret: idp.clientSecret,
      },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json.redirectUri).toBe(callbackUrl);
    expect(created.text).not.toContain(idp.clientSecret);
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-oidc-'));
  }, 60_000);

  afterAll(async () => {
    await idp?.close();
    await gw?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const exchange = async (body: { code: string; codeVerifier: string; redirectUri: string }) => {
    const answer = await gw.request('POST', '/v1/oidc/token', { body });
    if (answer.status !== 200) throw new Error(answer.json?.message ?? answer.text);
    return answer.json as TokenPair;
  };

  /** The client's whole flow, with the test browser in place of the system one. */
  const signIn = (login: string, browser = new TestBrowser(gw.gateway.services.keys.caPem)) =>
    signInThroughBrowser({
      gatewayUrl: gw.gateway.apiUrl,
      provider: 'corp',
      openUrl: async (url) => {
        await browser.signIn(url, login);
      },
      exchange,
      timeoutMs: 20_000,
    });

  /** A start URL with its own client state and PKCE, and where the browser ends up. */
  const startByHand = async (login: string) => {
    const verifier = randomBytes(32).toString('base64url');
    const clientState = randomBytes(16).toString('base64url');
    const redirectUri = 'http://127.0.0.1:9/callback';
    const query = new URLSearchParams({
      redirect_uri: redirectUri,
      state: clientState,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    });
    const browser = new TestBrowser(gw.gateway.services.keys.caPem);
    // Walk up to the gateway's callback and stop there: the test decides what reaches it.
    let url = `${gw.gateway.apiUrl}/v1/oidc/corp/start?${query}`;
    for (let step = 0; step < 12 && !url.startsWith(callbackUrl); step++) {
      const answer = await browser.fetch(url);
      if (answer.location) {
        url = new URL(answer.location, url).href;
        continue;
      }
      const form = /action="([^"]+)"[\s\S]*?name="prompt" value="(\w+)"/.exec(answer.body);
      if (!form?.[1]) throw new Error(`stuck at ${url}: ${answer.status} ${answer.body}`);
      const action = new URL(form[1], url).href;
      const posted = await browser.fetch(
        action,
        'POST',
        form[2] === 'login' ? { prompt: 'login', login, password: 'x' } : { prompt: 'consent' },
      );
      url = new URL(posted.location ?? url, action).href;
    }
    expect(url.startsWith(callbackUrl)).toBe(true);
    return { callback: url, browser, verifier, redirectUri, clientState };
  };

  it('lists the providers for the sign-in screen without a sign-in', async () => {
    const options = await gw.request('GET', '/v1/oidc/providers');
    expect(options.json).toEqual({ providers: [{ name: 'corp', displayName: 'Corp SSO' }] });
  });

  it('signs a new person in through the provider, as an engineer with the groups of the claim', async () => {
    const pair = await signIn('alice');
    expect(pair.user.username).toBe('alice');
    expect(pair.user.role).toBe('engineer');
    expect(pair.user.groups).toEqual(['data-team', 'ops']);
    const me = await gw.request('GET', '/v1/me', { token: pair.accessToken });
    expect(me.status).toBe(200);
    expect(me.json.username).toBe('alice');
    // The usual rotating refresh token.
    const renewed = await gw.request('POST', '/v1/auth/refresh', {
      body: { refreshToken: pair.refreshToken },
    });
    expect(renewed.status, renewed.text).toBe(200);
    expect(renewed.json.refreshToken).not.toBe(pair.refreshToken);
  }, 60_000);

  it('follows the groups of the claim on the next sign-in, and never takes over a local user', async () => {
    idp.accounts.set('alice', { email: 'alice@example.com', groups: ['ops'] });
    const again = await signIn('alice');
    expect(again.user.username).toBe('alice');
    expect(again.user.groups).toEqual(['ops']);
    // A provider account named like an existing local admin gets its own user.
    idp.accounts.set('root', { email: 'root@example.com', groups: ['admins'] });
    const impostor = await signIn('root');
    expect(impostor.user.username).toBe('root-corp');
    expect(impostor.user.role).toBe('engineer');
  }, 60_000);

  it('signs in from the CLI: witness login --sso --no-browser prints the URL it listens for', async () => {
    const stderrText = { value: '' };
    const browser = new TestBrowser(gw.gateway.services.keys.caPem);
    let visit: Promise<unknown> | undefined;
    const stderr = new Writable({
      write(chunk, _encoding, callback) {
        stderrText.value += chunk.toString();
        const url = /^(https:\/\/\S+\/v1\/oidc\/corp\/start\?\S+)$/m.exec(stderrText.value)?.[1];
        if (url && !visit) visit = browser.signIn(url, 'bob');
        callback();
      },
    });
    let stdoutText = '';
    const stdout = new Writable({
      write(chunk, _encoding, callback) {
        stdoutText += chunk.toString();
        callback();
      },
    });
    const stdin = new PassThrough();
    stdin.end();
    const code = await runWitnessCli(
      [
        'login',
        gw.gateway.apiUrl,
        '--sso',
        '--no-browser',
        '--fingerprint',
        gw.gateway.services.keys.caFingerprint,
      ],
      {
        stdin,
        stdout,
        stderr,
        env: { HOME: work, WITNESS_HOME: path.join(work, 'bob'), WITNESS_CREDENTIAL_STORE: 'file' },
        isTTY: false,
      },
    );
    expect(code, stderrText.value).toBe(0);
    expect(stdoutText).toContain('as bob (engineer)');
    const page = (await visit) as { body: string };
    expect(page.body).toContain('Signed in to Witness as bob');
  }, 60_000);

  it('refuses a start without PKCE, with another PKCE method, or with a redirect that is not loopback', async () => {
    const base = `/v1/oidc/corp/start?state=${'s'.repeat(20)}`;
    const noPkce = await gw.request('GET', `${base}&redirect_uri=http://127.0.0.1:5000/cb`);
    expect(noPkce.status).toBe(400);
    expect(noPkce.json.message).toContain('PKCE is required');
    const plain = await gw.request(
      'GET',
      `${base}&redirect_uri=http://127.0.0.1:5000/cb&code_challenge=${'a'.repeat(43)}&code_challenge_method=plain`,
    );
    expect(plain.status).toBe(400);
    expect(plain.json.message).toContain('S256');
    const remote = await gw.request(
      'GET',
      `${base}&redirect_uri=${encodeURIComponent('https://evil.example/cb')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
    );
    expect(remote.status).toBe(400);
    expect(JSON.stringify(remote.json)).toContain('loopback');
    const unknown = await gw.request(
      'GET',
      `/v1/oidc/nope/start?state=${'s'.repeat(20)}&redirect_uri=http://127.0.0.1:5000/cb&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
    );
    expect(unknown.status).toBe(404);
    expect(unknown.json.message).toContain('No identity provider named nope');
  });

  it('refuses a tampered state and a replayed provider answer', async () => {
    const { callback, browser } = await startByHand('alice');
    const tampered = new URL(callback);
    tampered.searchParams.set('state', `${tampered.searchParams.get('state')}x`);
    const refused = await browser.fetch(tampered.href);
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('a state the gateway never issued');
    const missing = new URL(callback);
    missing.searchParams.delete('state');
    expect((await browser.fetch(missing.href)).body).toContain('without a state');

    const first = await browser.fetch(callback);
    expect(first.status).toBe(303);
    expect(first.location).toMatch(/^http:\/\/127\.0\.0\.1:9\/callback\?code=/);
    const replay = await browser.fetch(callback);
    expect(replay.status).toBe(400);
    expect(replay.body).toContain('already used');
  }, 60_000);

  it('refuses a replayed code, a wrong PKCE verifier, another redirect URI and an expired code', async () => {
    const codeOf = async () => {
      const flow = await startByHand('alice');
      const answer = await flow.browser.fetch(flow.callback);
      const back = new URL(answer.location ?? '');
      expect(back.searchParams.get('state')).toBe(flow.clientState);
      return { ...flow, code: back.searchParams.get('code') ?? '' };
    };
    const good = await codeOf();
    const body = { code: good.code, codeVerifier: good.verifier, redirectUri: good.redirectUri };
    expect((await exchange(body)).user.username).toBe('alice');
    await expect(exchange(body)).rejects.toThrow('already used');

    const wrongVerifier = await codeOf();
    await expect(
      exchange({
        code: wrongVerifier.code,
        codeVerifier: randomBytes(32).toString('base64url'),
        redirectUri: wrongVerifier.redirectUri,
      }),
    ).rejects.toThrow('PKCE code verifier does not match');

    const otherRedirect = await codeOf();
    await expect(
      exchange({
        code: otherRedirect.code,
        codeVerifier: otherRedirect.verifier,
        redirectUri: 'http://127.0.0.1:10/callback',
      }),
    ).rejects.toThrow('another redirect URI');

    const late = await codeOf();
    gw.clock.advance(61_000);
    await expect(
      exchange({ code: late.code, codeVerifier: late.verifier, redirectUri: late.redirectUri }),
    ).rejects.toThrow('expired');
  }, 90_000);

  it("refuses a provider answer that names another issuer (RFC 9207's iss), back at the client", async () => {
    const { callback, browser } = await startByHand('alice');
    const mixedUp = new URL(callback);
    expect(mixedUp.searchParams.get('iss')).toBe(idp.issuer);
    mixedUp.searchParams.set('iss', 'https://attacker.example');
    const answer = await browser.fetch(mixedUp.href);
    expect(answer.status).toBe(303);
    const back = new URL(answer.location ?? '');
    expect(back.searchParams.get('error')).toBe('access_denied');
    expect(back.searchParams.get('error_description')).toContain('did not verify');
    expect(back.searchParams.get('code')).toBeNull();
  }, 60_000);

  it('refuses a provider whose discovery names another issuer', async () => {
    const wrongIssuer = idp.issuer.replace('127.0.0.1', 'localhost');
    const created = await gw.request('POST', '/v1/oidc-providers', {
      token: adminToken,
      body: { name: 'mixup', issuer: wrongIssuer, clientId: idp.clientId, clientSecret: 'x' },
    });
    expect(created.status, created.text).toBe(201);
    const start = await gw.request(
      'GET',
      `/v1/oidc/mixup/start?state=${'s'.repeat(20)}&redirect_uri=http://127.0.0.1:5000/cb&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
    );
    expect(start.status).toBe(500);
    expect(start.json.message).toContain('could not use the identity provider mixup');
  }, 30_000);

  it('refuses engineers on the providers admin routes', async () => {
    const pair = await signIn('alice');
    const listed = await gw.request('GET', '/v1/oidc-providers', { token: pair.accessToken });
    expect(listed.status).toBe(403);
    const asAdmin = await gw.request('GET', '/v1/oidc-providers', { token: adminToken });
    expect(asAdmin.json.providers.map((p: { name: string }) => p.name)).toContain('corp');
  }, 60_000);
});
