/**
 * OpenID Connect sign-in (issue #18): the providers an admin configured, the sign-ins under
 * way (state + PKCE kept here, single use, short-lived), the one-time codes handed to a
 * client's loopback redirect, which provider account is which Witness user, and the
 * provider's refresh token behind each Witness sign-in (so the gateway can ask the provider
 * again while sessions are live).
 *
 * Like the identity store this knows no crypto: client secrets, PKCE verifiers and provider
 * refresh tokens arrive sealed (secrets/secretBox.ts), states and codes arrive hashed.
 */

export interface OidcProviderRecord {
  id: string;
  /** Short name used in URLs and on the command line (`witness login --sso okta`). */
  name: string;
  /** What the sign-in screen's button says ("Sign in with <displayName>"). */
  displayName: string;
  issuer: string;
  clientId: string;
  /** Sealed with the master key (associated data `oidc-provider:<id>:secret`). */
  clientSecret: string;
  scopes: string[];
  /** The ID token / userinfo claim that lists the user's groups (`groups`, `roles`, …). */
  groupsClaim: string;
  createdAt: number;
  updatedAt: number;
}

export type OidcProviderPatch = Partial<
  Pick<
    OidcProviderRecord,
    'displayName' | 'issuer' | 'clientId' | 'clientSecret' | 'scopes' | 'groupsClaim'
  >
> & { updatedAt: number };

/** A sign-in under way between the gateway and the provider, keyed by the hash of `state`. */
export interface OidcLoginRecord {
  stateHash: string;
  providerId: string;
  /** The gateway's PKCE verifier towards the provider, sealed. */
  codeVerifier: string;
  nonce: string;
  /** Where the client listens (loopback, RFC 8252 §7.3), its own state and PKCE challenge. */
  clientRedirectUri: string;
  clientState: string;
  clientCodeChallenge: string;
  expiresAt: number;
  usedAt: number | null;
  createdAt: number;
}

/** The one-time code the client exchanges for Witness tokens, keyed by its hash. */
export interface OidcCodeRecord {
  codeHash: string;
  userId: string;
  providerId: string;
  subject: string;
  clientRedirectUri: string;
  clientCodeChallenge: string;
  /** The provider's refresh token, sealed; null when the provider issued none. */
  providerRefreshToken: string | null;
  expiresAt: number;
  usedAt: number | null;
  createdAt: number;
}

/** A Witness sign-in (refresh-token family) that came from a provider. */
export interface OidcSignInRecord {
  familyId: string;
  userId: string;
  providerId: string;
  subject: string;
  providerRefreshToken: string | null;
  /** When the provider last confirmed the user (sign-in or refresh). */
  checkedAt: number;
  createdAt: number;
}

export interface OidcStore {
  createOidcProvider(provider: OidcProviderRecord): Promise<void>;
  updateOidcProvider(id: string, patch: OidcProviderPatch): Promise<OidcProviderRecord | undefined>;
  getOidcProvider(id: string): Promise<OidcProviderRecord | undefined>;
  getOidcProviderByName(name: string): Promise<OidcProviderRecord | undefined>;
  listOidcProviders(): Promise<OidcProviderRecord[]>;
  /** Removes the provider and the sign-ins under way with it; true when it existed. */
  deleteOidcProvider(id: string): Promise<boolean>;

  insertOidcLogin(login: OidcLoginRecord): Promise<void>;
  getOidcLogin(stateHash: string): Promise<OidcLoginRecord | undefined>;
  /** Marks the login used if it is not yet; true when this call did it (atomic). */
  markOidcLoginUsed(stateHash: string, now: number): Promise<boolean>;

  insertOidcCode(code: OidcCodeRecord): Promise<void>;
  getOidcCode(codeHash: string): Promise<OidcCodeRecord | undefined>;
  /** Marks the code used if it is not yet; true when this call did it (atomic). */
  markOidcCodeUsed(codeHash: string, now: number): Promise<boolean>;

  /** The Witness user a provider account signs in as, if it signed in before. */
  getOidcIdentity(providerId: string, subject: string): Promise<string | undefined>;
  linkOidcIdentity(providerId: string, subject: string, userId: string, now: number): Promise<void>;

  insertOidcSignIn(signIn: OidcSignInRecord): Promise<void>;
  getOidcSignIn(familyId: string): Promise<OidcSignInRecord | undefined>;
  listOidcSignInsOfUser(userId: string): Promise<OidcSignInRecord[]>;
  updateOidcSignIn(
    familyId: string,
    patch: Pick<OidcSignInRecord, 'checkedAt'> &
      Partial<Pick<OidcSignInRecord, 'providerRefreshToken'>>,
  ): Promise<void>;
  /**
   * Takes the next provider check of a sign-in: sets `checkedAt` to `now` only if it is still
   * `seen`; true when this call did it. Replicas sharing the store race here, so one asks the
   * provider: two refreshes with one rotating refresh token would look like theft to it.
   */
  claimOidcSignInCheck(familyId: string, seen: number, now: number): Promise<boolean>;
  deleteOidcSignIn(familyId: string): Promise<void>;
  /** Removes logins and codes that expired before `now`; how many. */
  deleteExpiredOidcGrants(now: number): Promise<number>;
}
