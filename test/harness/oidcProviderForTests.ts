/**
 * A real OpenID provider on loopback for tests (issue #18): `oidc-provider`, a certified
 * implementation, with its development login pages (any login name, any password) and an
 * account table the test edits: remove an account to disable the person at the provider,
 * change its groups to move them between groups there.
 */

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface ProviderAccount {
  email: string;
  groups: string[];
}

export interface TestOidcProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** By login name (the subject). Edit to change what the provider says about a person. */
  accounts: Map<string, ProviderAccount>;
  /** Every answer of the token endpoint, in order: which grant type, whether it succeeded, when. */
  tokenAnswers: { grantType: string; ok: boolean; at: number }[];
  /** Ends every grant of a subject, as revoking their sessions at the provider does. */
  revokeGrants(subject: string): Promise<void>;
  close(): Promise<void>;
}

export async function startTestOidcProvider(options: {
  redirectUris: string[];
  clientId?: string;
  clientSecret?: string;
}): Promise<TestOidcProvider> {
  const accounts = new Map<string, ProviderAccount>();
  const clientId = options.clientId ?? 'witness-gateway';
  const clientSecret = options.clientSecret ?? 'test-client-secret-0123456789abcdef';
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const grantIds = new Map<string, Set<string>>();
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: options.redirectUris,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ],
    cookies: { keys: ['test-cookie-key-do-not-use-anywhere'] },
    claims: {
      openid: ['sub'],
      email: ['email'],
      profile: ['preferred_username', 'groups'],
    },
    // Every claim in the ID token too, as Okta and Keycloak can be set to do.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    ttl: { AccessToken: 600, IdToken: 600, RefreshToken: 86400, Grant: 86400, Session: 86400 },
    findAccount: (_ctx, sub) => {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return {
        accountId: sub,
        claims: () => ({
          sub,
          email: account.email,
          preferred_username: sub,
          groups: [...account.groups],
        }),
      };
    },
  });
  const tokenAnswers: TestOidcProvider['tokenAnswers'] = [];
  const grantType = (ctx: { oidc: { params?: { grant_type?: unknown } } }) =>
    String(ctx.oidc.params?.grant_type ?? '');
  provider.on('grant.error', (ctx) => {
    tokenAnswers.push({ grantType: grantType(ctx), ok: false, at: Date.now() });
  });
  provider.on('grant.success', (ctx) => {
    tokenAnswers.push({ grantType: grantType(ctx), ok: true, at: Date.now() });
    const session = ctx.oidc.session;
    const grantId = ctx.oidc.entities.Grant?.jti;
    if (session?.accountId && grantId) {
      const set = grantIds.get(session.accountId) ?? new Set<string>();
      set.add(grantId);
      grantIds.set(session.accountId, set);
    }
  });
  // oidc-provider logs server errors itself; keep test output to what fails.
  provider.on('server_error', () => {});
  server.on('request', provider.callback());
  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    tokenAnswers,
    revokeGrants: async (subject) => {
      for (const grantId of grantIds.get(subject) ?? []) {
        const grant = await provider.Grant.find(grantId);
        await grant?.destroy();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
