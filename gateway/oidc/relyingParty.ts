/**
 * The gateway as an OpenID Connect relying party (issue #18), over openid-client: discovery
 * (cached per provider version), the authorization URL with state, nonce and PKCE (S256), the
 * code exchange that checks all of them plus the ID token's issuer, audience and signature,
 * and refresh. Nothing here touches the store.
 */
import * as client from 'openid-client';
import { isLoopbackHost } from '../../shared/api/oidcSchemas.ts';

export interface ProviderSettings {
  id: string;
  /** Changes whenever the admin edits the provider, so a stale discovery is not reused. */
  version: number;
  issuer: string;
  clientId: string;
  clientSecret: string;
}

/** Claims of a verified ID token (and userinfo, where the token lacked the groups). */
export type ProviderClaims = Record<string, unknown> & { sub: string };

export interface ProviderTokens {
  claims: ProviderClaims;
  refreshToken: string | null;
}

/** The provider answered and said no (invalid_grant: user disabled, session revoked, …). */
export class ProviderRefusedError extends Error {
  override readonly name = 'ProviderRefusedError';
}

export class RelyingParty {
  private readonly configurations = new Map<string, Promise<client.Configuration>>();

  /** The provider's authorization endpoint URL for this sign-in. */
  async authorizationUrl(
    provider: ProviderSettings,
    request: {
      redirectUri: string;
      scopes: string[];
      state: string;
      nonce: string;
      codeVerifier: string;
    },
  ): Promise<URL> {
    const config = await this.configuration(provider);
    return client.buildAuthorizationUrl(config, {
      redirect_uri: request.redirectUri,
      scope: request.scopes.join(' '),
      state: request.state,
      nonce: request.nonce,
      code_challenge: await client.calculatePKCECodeChallenge(request.codeVerifier),
      code_challenge_method: 'S256',
      // offline_access needs consent at most providers to yield a refresh token (OIDC Core §11).
      ...(request.scopes.includes('offline_access') && { prompt: 'consent' }),
    });
  }

  /**
   * Exchanges the code the provider sent to `callbackUrl` (the full URL, with its query) and
   * verifies the ID token: signature against the provider's JWKS, `iss`, `aud`, `exp`, the
   * nonce, and the state and PKCE verifier this sign-in started with.
   */
  async redeemCode(
    provider: ProviderSettings,
    callbackUrl: URL,
    checks: { state: string; nonce: string; codeVerifier: string },
  ): Promise<ProviderTokens> {
    const config = await this.configuration(provider);
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      pkceCodeVerifier: checks.codeVerifier,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) throw new Error('the provider sent no ID token');
    return {
      claims: await this.withUserInfo(config, tokens.access_token, claims as ProviderClaims),
      refreshToken: tokens.refresh_token ?? null,
    };
  }

  /**
   * Asks the provider again with its refresh token; it refuses when the user was disabled or
   * the session revoked there. The claims are the refreshed ID token's, or userinfo's when the
   * provider sends no new ID token on refresh.
   */
  async refresh(
    provider: ProviderSettings,
    refreshToken: string,
    subject: string,
  ): Promise<ProviderTokens> {
    const config = await this.configuration(provider);
    let tokens: Awaited<ReturnType<typeof client.refreshTokenGrant>>;
    try {
      tokens = await client.refreshTokenGrant(config, refreshToken);
    } catch (error) {
      // An OAuth error answer is the provider's decision; anything else (network, 5xx without
      // an OAuth body) is an outage, which the caller must not take for a refusal.
      if (error instanceof client.ResponseBodyError) {
        throw new ProviderRefusedError(
          `${error.error}${error.error_description ? `: ${error.error_description}` : ''}`,
        );
      }
      throw error;
    }
    const idClaims = tokens.claims() as ProviderClaims | undefined;
    const claims =
      idClaims ??
      ((await client.fetchUserInfo(config, tokens.access_token, subject)) as ProviderClaims);
    if (claims.sub !== subject) {
      throw new ProviderRefusedError('the provider answered for another subject');
    }
    return {
      claims: idClaims ? await this.withUserInfo(config, tokens.access_token, claims) : claims,
      refreshToken: tokens.refresh_token ?? refreshToken,
    };
  }

  /** Forgets a provider's discovery (after an admin changed or removed it). */
  forget(providerId: string): void {
    for (const key of this.configurations.keys()) {
      if (key.startsWith(`${providerId}@`)) this.configurations.delete(key);
    }
  }

  // Some providers put only a few claims in the ID token and the rest (groups) in userinfo;
  // the ID token's own claims win where both have one.
  private async withUserInfo(
    config: client.Configuration,
    accessToken: string,
    claims: ProviderClaims,
  ): Promise<ProviderClaims> {
    if (!config.serverMetadata().userinfo_endpoint) return claims;
    try {
      const info = await client.fetchUserInfo(config, accessToken, claims.sub);
      return { ...info, ...claims };
    } catch {
      return claims;
    }
  }

  private configuration(provider: ProviderSettings): Promise<client.Configuration> {
    const key = `${provider.id}@${provider.version}`;
    let config = this.configurations.get(key);
    if (!config) {
      const issuer = new URL(provider.issuer);
      config = client.discovery(issuer, provider.clientId, provider.clientSecret, undefined, {
        // Plain http only for a provider on this machine (tests, development): the schema
        // refuses any other http issuer.
        ...(issuer.protocol === 'http:' &&
          isLoopbackHost(issuer.hostname) && { execute: [client.allowInsecureRequests] }),
      });
      // A failed discovery is not cached: the next sign-in tries again.
      config.catch(() => this.configurations.delete(key));
      this.forget(provider.id);
      this.configurations.set(key, config);
    }
    return config;
  }
}
