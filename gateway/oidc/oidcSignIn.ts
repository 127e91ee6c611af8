/**
 * Sign-in through an OpenID Connect provider (issue #18), for a client that listens on a
 * loopback port (RFC 8252 §7.3: the CLI, the desktop):
 *
 *   client ──start(redirect_uri, state, S256 challenge)──▶ gateway ──302──▶ provider
 *   provider ──callback(code, state)──▶ gateway: redeem the code (state, nonce, PKCE, ID token
 *   checked), create or update the user, ──302──▶ client's loopback with a one-time code
 *   client ──token(code, verifier)──▶ gateway: the usual access + rotating refresh token.
 *
 * Two legs, each with its own state and PKCE: the gateway's towards the provider (kept in the
 * store, single use, minutes), and the client's towards the gateway, so a code caught on the
 * loopback by another local process is useless without the client's verifier.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { z } from 'zod';
import type {
  oidcCallbackQuerySchema,
  oidcStartQuerySchema,
} from '../../shared/api/oidcSchemas.ts';
import type { IssuedTokens } from '../auth/authService.ts';
import { hashOpaqueToken } from '../auth/opaqueTokens.ts';
import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import { newId } from '../newId.ts';
import { openSecret, sealSecret } from '../secrets/secretBox.ts';
import { type AccessReviewStore, reviewAccess } from '../sessions/accessReview.ts';
import type { IdentityStore, UserRecord } from '../store/identityStore.ts';
import type { OidcProviderRecord, OidcStore } from '../store/oidcStore.ts';
import { groupsFromClaims, proposedUsername } from './providerClaims.ts';
import type { ProviderClaims, ProviderSettings, RelyingParty } from './relyingParty.ts';

export interface OidcSignInSettings {
  /** How long the provider's leg may take (the person types a password, maybe MFA). */
  loginTtlMs: number;
  /** How long the client has to exchange its one-time code. */
  codeTtlMs: number;
}

export const DEFAULT_OIDC_SIGN_IN_SETTINGS: OidcSignInSettings = {
  loginTtlMs: 10 * 60_000,
  codeTtlMs: 60_000,
};

export interface OidcSignInDeps {
  store: OidcStore &
    Pick<IdentityStore, 'createUser' | 'updateUser' | 'getUserById' | 'getUserByUsername'> &
    AccessReviewStore;
  auth: { issueSignIn(user: UserRecord): Promise<{ tokens: IssuedTokens; familyId: string }> };
  relyingParty: Pick<RelyingParty, 'authorizationUrl' | 'redeemCode'>;
  clock: Clock;
  masterKey: Buffer;
  /** The gateway's callback URL, as registered at every provider. */
  callbackUrl: () => string;
  settings?: OidcSignInSettings;
}

export const providerSecretAad = (providerId: string) => `oidc-provider:${providerId}:secret`;
const verifierAad = (stateHash: string) => `oidc-login:${stateHash}:verifier`;
const refreshAad = (userId: string) => `oidc-user:${userId}:refresh`;

export function providerSettings(
  provider: OidcProviderRecord,
  masterKey: Buffer,
): ProviderSettings {
  return {
    id: provider.id,
    version: provider.updatedAt,
    issuer: provider.issuer,
    clientId: provider.clientId,
    clientSecret: openSecret(masterKey, provider.clientSecret, providerSecretAad(provider.id)),
  };
}

/** Seals a provider refresh token for the user it belongs to; opened by the provider check. */
export function sealProviderRefreshToken(masterKey: Buffer, userId: string, token: string): string {
  return sealSecret(masterKey, token, refreshAad(userId));
}

export function openProviderRefreshToken(
  masterKey: Buffer,
  userId: string,
  sealed: string,
): string {
  return openSecret(masterKey, sealed, refreshAad(userId));
}

export class OidcSignIn {
  private readonly settings: OidcSignInSettings;

  constructor(private readonly deps: OidcSignInDeps) {
    this.settings = deps.settings ?? DEFAULT_OIDC_SIGN_IN_SETTINGS;
  }

  /** The provider's authorization URL to send the browser to. */
  async start(providerName: string, query: z.infer<typeof oidcStartQuerySchema>): Promise<string> {
    if (query.code_challenge === undefined) {
      throw new GatewayError(
        'bad_request',
        'PKCE is required: start the sign-in with code_challenge and code_challenge_method=S256 (RFC 7636).',
      );
    }
    if (query.code_challenge_method !== 'S256') {
      throw new GatewayError(
        'bad_request',
        'Only the S256 PKCE method is accepted: send code_challenge_method=S256.',
      );
    }
    const provider = await this.provider(providerName);
    const state = randomBytes(32).toString('base64url');
    const nonce = randomBytes(32).toString('base64url');
    const codeVerifier = randomBytes(32).toString('base64url');
    const stateHash = hashOpaqueToken(state);
    let url: URL;
    try {
      url = await this.deps.relyingParty.authorizationUrl(
        providerSettings(provider, this.deps.masterKey),
        {
          redirectUri: this.deps.callbackUrl(),
          scopes: provider.scopes,
          state,
          nonce,
          codeVerifier,
        },
      );
    } catch (error) {
      throw new GatewayError(
        'internal',
        `The gateway could not use the identity provider ${provider.name} at ${provider.issuer} (${errorText(error)}) — ask an admin to check its issuer URL.`,
      );
    }
    const now = this.deps.clock.now();
    await this.deps.store.insertOidcLogin({
      stateHash,
      providerId: provider.id,
      codeVerifier: sealSecret(this.deps.masterKey, codeVerifier, verifierAad(stateHash)),
      nonce,
      clientRedirectUri: query.redirect_uri,
      clientState: query.state,
      clientCodeChallenge: query.code_challenge,
      expiresAt: now + this.settings.loginTtlMs,
      usedAt: null,
      createdAt: now,
    });
    return url.href;
  }

  /**
   * The provider's answer. Refusals before the sign-in is known (no state, an unknown, used or
   * expired state) throw: there is no trustworthy place to send the browser. After that, the
   * browser goes back to the client's loopback, with a one-time code or with the error
   * (RFC 6749 §4.1.2.1), so the client can say what went wrong.
   */
  async callback(query: z.infer<typeof oidcCallbackQuerySchema>, search: string): Promise<string> {
    const { store, clock } = this.deps;
    if (!query.state) {
      throw new GatewayError(
        'bad_request',
        'The identity provider answered without a state, so this sign-in cannot be trusted — start it again from Witness.',
      );
    }
    const stateHash = hashOpaqueToken(query.state);
    const login = await store.getOidcLogin(stateHash);
    if (!login) {
      throw new GatewayError(
        'bad_request',
        'This sign-in answer has a state the gateway never issued (changed on the way, or meant for another gateway) — start the sign-in again from Witness.',
      );
    }
    if (login.expiresAt <= clock.now()) {
      throw new GatewayError(
        'bad_request',
        'This sign-in took too long and expired — start it again from Witness.',
      );
    }
    if (login.usedAt !== null || !(await store.markOidcLoginUsed(stateHash, clock.now()))) {
      throw new GatewayError(
        'bad_request',
        'This sign-in answer was already used (a replay, or the page was reloaded) — start the sign-in again from Witness.',
      );
    }
    const back = (params: Record<string, string>) => {
      const url = new URL(login.clientRedirectUri);
      for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
      url.searchParams.set('state', login.clientState);
      return url.href;
    };
    const refuse = (message: string) =>
      back({ error: 'access_denied', error_description: message });
    if (query.error) {
      return refuse(
        `The identity provider refused the sign-in: ${query.error_description ?? query.error}.`,
      );
    }
    const provider = await store.getOidcProvider(login.providerId);
    if (!provider) return refuse('This identity provider was removed from the gateway meanwhile.');
    let claims: ProviderClaims;
    let refreshToken: string | null;
    try {
      const redeemed = await this.deps.relyingParty.redeemCode(
        providerSettings(provider, this.deps.masterKey),
        new URL(`${this.deps.callbackUrl()}${search}`),
        {
          state: query.state,
          nonce: login.nonce,
          codeVerifier: openSecret(this.deps.masterKey, login.codeVerifier, verifierAad(stateHash)),
        },
      );
      claims = redeemed.claims;
      refreshToken = redeemed.refreshToken;
    } catch (error) {
      return refuse(
        `The identity provider's answer did not verify (${errorText(error)}) — start the sign-in again.`,
      );
    }
    const user = await this.userFor(provider, claims);
    if (user.disabled) {
      return refuse(`The account ${user.username} is disabled in Witness — ask an admin.`);
    }
    const code = randomBytes(32).toString('base64url');
    const now = clock.now();
    await store.insertOidcCode({
      codeHash: hashOpaqueToken(code),
      userId: user.id,
      providerId: provider.id,
      subject: claims.sub,
      clientRedirectUri: login.clientRedirectUri,
      clientCodeChallenge: login.clientCodeChallenge,
      providerRefreshToken:
        refreshToken === null
          ? null
          : sealProviderRefreshToken(this.deps.masterKey, user.id, refreshToken),
      expiresAt: now + this.settings.codeTtlMs,
      usedAt: null,
      createdAt: now,
    });
    return back({ code });
  }

  /** The client's one-time code and PKCE verifier → Witness access and refresh tokens. */
  async exchange(request: {
    code: string;
    codeVerifier: string;
    redirectUri: string;
  }): Promise<IssuedTokens> {
    const { store, clock } = this.deps;
    const codeHash = hashOpaqueToken(request.code);
    const record = await store.getOidcCode(codeHash);
    if (!record) {
      throw new GatewayError(
        'invalid_credentials',
        'This sign-in code is unknown — sign in again.',
      );
    }
    if (record.usedAt !== null || !(await store.markOidcCodeUsed(codeHash, clock.now()))) {
      throw new GatewayError(
        'invalid_credentials',
        'This sign-in code was already used — sign in again.',
      );
    }
    if (record.expiresAt <= clock.now()) {
      throw new GatewayError(
        'invalid_credentials',
        'This sign-in code has expired — sign in again.',
      );
    }
    if (record.clientRedirectUri !== request.redirectUri) {
      throw new GatewayError(
        'invalid_credentials',
        'This sign-in code was issued for another redirect URI — sign in again.',
      );
    }
    const challenge = createHash('sha256').update(request.codeVerifier).digest('base64url');
    if (challenge !== record.clientCodeChallenge) {
      throw new GatewayError(
        'invalid_credentials',
        'The PKCE code verifier does not match the challenge this sign-in started with — sign in again.',
      );
    }
    const user = await store.getUserById(record.userId);
    if (!user || user.disabled) {
      throw new GatewayError('forbidden', 'This account is disabled in Witness — ask an admin.');
    }
    const { tokens, familyId } = await this.deps.auth.issueSignIn(user);
    const now = clock.now();
    await store.insertOidcSignIn({
      familyId,
      userId: user.id,
      providerId: record.providerId,
      subject: record.subject,
      providerRefreshToken: record.providerRefreshToken,
      checkedAt: record.createdAt,
      createdAt: now,
    });
    return tokens;
  }

  /**
   * The Witness user of a provider account: the one linked at its first sign-in, with its groups
   * set from the claim; or a new engineer. An existing local user with the same name is never
   * taken over (a provider account could claim any name): the new user gets a suffixed name.
   */
  async userFor(provider: OidcProviderRecord, claims: ProviderClaims): Promise<UserRecord> {
    const { store, clock } = this.deps;
    const groups = groupsFromClaims(claims, provider.groupsClaim);
    const linked = await store.getOidcIdentity(provider.id, claims.sub);
    const existing = linked === undefined ? undefined : await store.getUserById(linked);
    if (existing) return syncGroups(this.deps.store, clock, existing, groups);
    const username = await this.freeUsername(proposedUsername(claims), provider.name);
    const user = await store.createUser({
      id: newId('usr'),
      username,
      role: 'engineer',
      groups,
      passwordHash: null,
      createdAt: clock.now(),
    });
    await store.linkOidcIdentity(provider.id, claims.sub, user.id, clock.now());
    return user;
  }

  private async freeUsername(proposed: string, providerName: string): Promise<string> {
    const candidates = [proposed, `${proposed}-${providerName}`.slice(0, 63)];
    for (const name of candidates) {
      if (!(await this.deps.store.getUserByUsername(name))) return name;
    }
    return `${proposed.slice(0, 50)}-${randomBytes(4).toString('hex')}`;
  }

  private async provider(name: string): Promise<OidcProviderRecord> {
    const provider = await this.deps.store.getOidcProviderByName(name);
    if (!provider) {
      throw new GatewayError(
        'not_found',
        `No identity provider named ${name} is configured on this gateway.`,
      );
    }
    return provider;
  }
}

/**
 * Sets the user's groups to the provider's; when one was lost, the user's open sessions are
 * re-checked by the one rule (accessReview.ts), so a session a lost group allowed ends now.
 */
export async function syncGroups(
  store: Pick<IdentityStore, 'updateUser'> & AccessReviewStore,
  clock: Clock,
  user: UserRecord,
  groups: string[],
): Promise<UserRecord> {
  const same = groups.length === user.groups.length && groups.every((g) => user.groups.includes(g));
  if (same) return user;
  const updated = (await store.updateUser(user.id, { groups })) ?? user;
  if (user.groups.some((group) => !groups.includes(group))) {
    await reviewAccess(store, clock, { userId: user.id });
  }
  return updated;
}

function errorText(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  // openid-client wraps oauth4webapi's precise check ('unexpected JWT "aud" (audience) claim
  // value') in a generic one ('unexpected JWT claim value encountered'); the admin and the
  // person need the precise one to know which setting is wrong.
  if (error instanceof Error && error.cause instanceof Error && error.cause.message !== message) {
    message = `${message}: ${error.cause.message}`;
  }
  return message.replace(/\s+/g, ' ').slice(0, 300);
}
