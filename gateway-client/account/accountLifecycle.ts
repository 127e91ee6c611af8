/**
 * One account at one pinned gateway, for the CLI and the desktop alike: sign in (with TOTP),
 * enroll, resume a stored sign-in, work as the signed-in user (renewals through
 * `SessionKeeper`), sign out (revoking at the gateway). Where the sign-in and the profile are
 * kept is injected (`accountPorts.ts`); prompts, messages and UI state stay with the hosts.
 *
 * Errors are the client's own (`SessionExpiredError`, `NotSignedInError`, `GatewayApiError`,
 * `CaMismatchError`, …): each host words them for its people.
 */
import type { TokenPair } from '../../shared/api/apiSchemas.ts';
import { CaMismatchError, checkPinnedCa } from '../caPinning.ts';
import {
  type EnrollResponse,
  GatewayApiError,
  GatewayClient,
  isTlsVerificationError,
  type LoginRequest,
  NotSignedInError,
  SessionExpiredError,
  type SessionTokens,
} from '../gatewayClient.ts';
import type { AccountProfile, AccountUser, SessionVault, StoredSession } from './accountPorts.ts';
import { SessionKeeper, storedSessionFromPair } from './sessionKeeper.ts';

export interface AccountLifecycleOptions {
  /** The gateway (normalized URL) and the CA pinned for it: the only CA its clients trust. */
  url: string;
  caPem: string;
  caFingerprint: string;
  /** Where `username`'s sign-in at this gateway is kept. */
  vaultFor(username: string): SessionVault;
  profile: AccountProfile;
  /** Whole-request deadline of the clients (default: the client's). */
  timeoutMs?: number;
  /** A best-effort revocation at the gateway failed; the session was ended here anyway. */
  revokeFailed?(error: unknown, session: StoredSession): void;
}

export class AccountLifecycle {
  readonly url: string;
  private keeper: SessionKeeper | null = null;
  private signedInClient: GatewayClient | null = null;
  /** Clients of sign-ins replaced since: closed on `dispose`, not while calls may be in flight. */
  private readonly retired: GatewayClient[] = [];

  constructor(private readonly options: AccountLifecycleOptions) {
    this.url = options.url;
  }

  /** The live sign-in, or null. */
  session(): StoredSession | null {
    return this.keeper?.session() ?? null;
  }

  /** Who is signed in, when the session says (resumed desktop sessions and fresh sign-ins). */
  user(): AccountUser | null {
    return this.session()?.user ?? null;
  }

  // --- signing in ----------------------------------------------------------------------------

  /**
   * Asks the gateway for tokens. When the account needs a TOTP code and none was given,
   * `askTotp` is asked for one (no `askTotp`: the `totp_required` error comes out).
   */
  async login(request: LoginRequest, askTotp?: () => Promise<string>): Promise<TokenPair> {
    return this.withClient(async (client) => {
      try {
        return await client.login(request);
      } catch (error) {
        const needsCode =
          error instanceof GatewayApiError && error.code === 'totp_required' && !request.totp;
        if (!needsCode || !askTotp) throw error;
      }
      return client.login({ ...request, totp: await askTotp() });
    });
  }

  /** The identity providers the gateway offers sign-in with (issue #18). */
  signInOptions(): Promise<{ providers: { name: string; displayName: string }[] }> {
    return this.withClient(async (client) => ({ providers: await client.listOidcSignInOptions() }));
  }

  /** Exchanges the one-time code of a browser sign-in and its PKCE verifier for tokens. */
  exchangeSignInCode(request: {
    code: string;
    codeVerifier: string;
    redirectUri: string;
  }): Promise<TokenPair> {
    return this.withClient((client) => client.exchangeOidcCode(request));
  }

  /**
   * A CI job's workload token → minutes of access (issue #18), as a sign-in with no refresh
   * token (the empty string: the keeper ends it with its access token instead of renewing).
   */
  async exchangeIdToken(idToken: string): Promise<TokenPair> {
    const answer = await this.withClient((client) => client.exchangeIdToken(idToken));
    return {
      accessToken: answer.accessToken,
      accessExpiresAt: answer.accessExpiresAt,
      refreshToken: '',
      refreshExpiresAt: answer.accessExpiresAt,
      user: answer.user,
    };
  }

  /**
   * Keeps `pair` as the sign-in at this gateway. The previous one (anyone's) is revoked at the
   * gateway rather than left alive, and removed. Resolves the previous session, if any.
   */
  async adopt(pair: TokenPair): Promise<StoredSession | null> {
    const { profile, vaultFor } = this.options;
    const previousUser = await profile.signedInUsername();
    let previous = this.session();
    if (!previous && previousUser) previous = await vaultFor(previousUser).load();
    if (previous) await this.revokeQuietly(previous);
    const username = pair.user.username;
    if (previousUser && previousUser !== username) await vaultFor(previousUser).clear();

    const vault = vaultFor(username);
    const session = storedSessionFromPair(pair);
    await vault.save(session);
    this.startKeeping(vault, session);
    await profile.recordSignedIn({
      username,
      caPem: this.options.caPem,
      caFingerprint: this.options.caFingerprint,
    });
    return previous;
  }

  /** Sets a new account's password with an admin's one-time token. */
  enroll(token: string, password: string): Promise<EnrollResponse> {
    return this.withClient((client) => client.enroll({ token, password }));
  }

  /**
   * Picks up the sign-in stored for this gateway (after a restart, or in each CLI command).
   * Resolves it, or null when there is none. Nothing is sent to the gateway.
   */
  async resume(): Promise<StoredSession | null> {
    if (this.keeper) return this.session();
    const username = await this.options.profile.signedInUsername();
    if (!username) return null;
    const vault = this.options.vaultFor(username);
    const stored = await vault.load();
    if (!stored) return null;
    this.startKeeping(vault, stored);
    return stored;
  }

  /**
   * Continues a live sign-in taken over from another lifecycle of the same gateway (the
   * embedded gateway at a new address), tokens in memory included, so nothing is renewed
   * from a store that may lag behind them.
   */
  carryOver(session: StoredSession, username: string): void {
    this.startKeeping(this.options.vaultFor(username), session);
  }

  // --- working as the signed-in user ---------------------------------------------------------

  /**
   * The client signed in as the current user. Its tokens come from the keeper, and it is the
   * keeper's only client, so its renewals are the only ones in this process.
   */
  client(): GatewayClient {
    const keeper = this.keeper;
    if (!keeper) throw new NotSignedInError(this.url);
    this.signedInClient ??= new GatewayClient(this.clientOptions(), keeper);
    return this.signedInClient;
  }

  /** Renews now when the session has no access token (resumed from a vault that keeps none). */
  async ensureAccessToken(): Promise<void> {
    if (!this.keeper) throw new NotSignedInError(this.url);
    if (!(await this.keeper.tokens())) throw new NotSignedInError(this.url);
  }

  /**
   * Runs `work` as the signed-in user. A TLS failure against the pinned CA is checked against
   * what the gateway presents now, so a changed CA comes out as `CaMismatchError`.
   */
  async run<T>(work: (client: GatewayClient) => Promise<T>): Promise<T> {
    const client = this.client();
    try {
      return await work(client);
    } catch (error) {
      throw await this.explainTlsFailure(error);
    }
  }

  /** `error`, or a `CaMismatchError` when it is a TLS failure because the CA changed. */
  async explainTlsFailure(error: unknown): Promise<unknown> {
    if (!isTlsVerificationError(error)) return error;
    try {
      await checkPinnedCa(this.url, this.options.caFingerprint, { timeoutMs: 5_000 });
    } catch (probe) {
      if (probe instanceof CaMismatchError) return probe;
    }
    return error;
  }

  // --- signing out ---------------------------------------------------------------------------

  /**
   * Ends the sign-in: revoked at the gateway when it answers (signing out must work offline
   * too), removed from the vault, recorded in the profile. Resolves the session that ended.
   */
  async signOut(): Promise<StoredSession | null> {
    const session = this.session() ?? (await this.resume());
    if (session) await this.revokeQuietly(session);
    await this.endLocally();
    return session;
  }

  /** Forgets the sign-in here without asking the gateway (it refused it, or is being left). */
  async endLocally(): Promise<void> {
    const username = await this.options.profile.signedInUsername();
    const keeper = this.keeper;
    this.keeper = null;
    this.retireClient();
    await keeper?.end();
    if (username) await this.options.vaultFor(username).clear();
    await this.options.profile.recordSignedOut();
  }

  /** Revokes `session`'s token family at the gateway; failing that, tells `revokeFailed`. */
  async revokeQuietly(session: StoredSession): Promise<void> {
    // A client of its own, so a renewal it needs cannot rotate tokens into the live keeper.
    let tokens: SessionTokens | null = session.accessToken
      ? { accessToken: session.accessToken, refreshToken: session.refreshToken }
      : null;
    const client = new GatewayClient(
      { ...this.clientOptions(), timeoutMs: Math.min(this.options.timeoutMs ?? 10_000, 10_000) },
      {
        tokens: () => tokens,
        tokensRefreshed: (pair) => {
          tokens = pair;
        },
      },
    );
    try {
      // A session resumed without an access token must renew first: logout needs one.
      tokens ??= await client.refresh(session.refreshToken);
      await client.logout();
    } catch (error) {
      const nothingLeft =
        error instanceof SessionExpiredError ||
        (error instanceof GatewayApiError && (error.status === 401 || error.status === 403));
      if (!nothingLeft) this.options.revokeFailed?.(error, session);
    } finally {
      client.close();
    }
  }

  /** Closes every connection this lifecycle opened. */
  dispose(): void {
    this.retireClient();
    for (const client of this.retired.splice(0)) client.close();
  }

  // --- internals -----------------------------------------------------------------------------

  private startKeeping(vault: SessionVault, session: StoredSession): void {
    this.retireClient();
    this.keeper = new SessionKeeper({
      vault,
      baseUrl: this.url,
      session,
      stored: true,
      renew: (refreshToken) => this.withClient((client) => client.refresh(refreshToken)),
    });
  }

  private retireClient(): void {
    if (this.signedInClient) this.retired.push(this.signedInClient);
    this.signedInClient = null;
  }

  private clientOptions() {
    return {
      baseUrl: this.url,
      caPem: this.options.caPem,
      ...(this.options.timeoutMs ? { timeoutMs: this.options.timeoutMs } : {}),
    };
  }

  /** Runs `work` with a client that sends no tokens, closed afterwards. */
  private async withClient<T>(work: (client: GatewayClient) => Promise<T>): Promise<T> {
    const client = new GatewayClient(this.clientOptions());
    try {
      return await work(client);
    } finally {
      client.close();
    }
  }
}
