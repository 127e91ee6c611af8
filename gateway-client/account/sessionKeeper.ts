/**
 * Keeps one sign-in's tokens in step with where they are stored, so a rotating refresh token
 * is never spent twice — the gateway treats a second use as a stolen token and ends the whole
 * sign-in (`authService.refresh`).
 *
 * Two ways a token could be spent twice, and what prevents each:
 * - **within this process**: renewals are serialized. The keeper runs one operation at a time
 *   (reading, renewing, saving), and it is the token provider of exactly one `GatewayClient`
 *   (`AccountLifecycle.client()`), whose own refresh after a `token_expired` answer runs once
 *   for all concurrent calls and asks `tokens()` first.
 * - **by another process** sharing the store (`witness tunnel` running for hours while
 *   `witness whoami` renews the sign-in): with a shared vault, `tokens()` re-reads the store
 *   before every authenticated call — and so right before any renewal, since the client asks
 *   for the tokens it is about to renew with — and takes the stored tokens when someone else
 *   rotated them. A vault entry that vanished means another process signed out.
 *
 * What is left: two processes that both find the same expired access token in the same
 * instant can still both renew (the window is one refresh round trip); nothing short of a
 * lock across processes closes that, and the stores (keychain, file) offer none.
 */
import type { TokenPair } from '../../shared/api/apiSchemas.ts';
import {
  GatewayApiError,
  SessionExpiredError,
  type SessionTokens,
  type TokenProvider,
} from '../gatewayClient.ts';
import type { SessionVault, StoredSession } from './accountPorts.ts';

/** The gateway renewed the sign-in but the new tokens could not be stored. */
export class SessionNotSavedError extends Error {
  override readonly name = 'SessionNotSavedError';
  constructor(where: string, options: { cause: unknown }) {
    super(
      `the gateway renewed your session but saving it to ${where} failed ` +
        `(${messageOf(options.cause)}); you will have to sign in again`,
      options,
    );
  }
}

export interface SessionKeeperOptions {
  vault: SessionVault;
  /** The gateway's URL, for the errors. */
  baseUrl: string;
  /** Exchanges a refresh token for a new pair (`GatewayClient.refresh`). */
  renew(refreshToken: string): Promise<TokenPair>;
  /** The session as last read from (or written to) the vault. */
  session: StoredSession;
  /** Whether `session` is what the vault holds now (false: saving it failed). */
  stored: boolean;
}

export function storedSessionFromPair(pair: TokenPair): StoredSession {
  return {
    refreshToken: pair.refreshToken,
    refreshExpiresAt: pair.refreshExpiresAt,
    accessToken: pair.accessToken,
    accessExpiresAt: pair.accessExpiresAt,
    user: { userId: pair.user.id, username: pair.user.username, role: pair.user.role },
  };
}

export class SessionKeeper implements TokenProvider {
  private current: StoredSession | null;
  /**
   * The refresh token the vault held when this process last read or wrote it. The vault
   * holding another one means another process rotated (or replaced) the sign-in; holding this
   * one means nobody did, even if this process's own save failed.
   */
  private lastStored: string | null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: SessionKeeperOptions) {
    this.current = options.session;
    this.lastStored = options.stored ? options.session.refreshToken : null;
  }

  /** The live session, or null when it ended (here or, for a shared vault, elsewhere). */
  session(): StoredSession | null {
    return this.current;
  }

  /** For the client: the tokens to send, renewing first when there is no access token. */
  tokens(): Promise<SessionTokens | null> {
    return this.serialized(async () => {
      if (this.options.vault.shared) await this.syncFromVault();
      const session = this.current;
      if (!session) return null;
      if (session.accessToken) {
        return { accessToken: session.accessToken, refreshToken: session.refreshToken };
      }
      // A session resumed from a vault that keeps no access token: renew once, now.
      const renewed = await this.renewLocked();
      return renewed && { accessToken: renewed.accessToken!, refreshToken: renewed.refreshToken };
    });
  }

  /** For the client: it renewed after a `token_expired` answer; keep and store the new pair. */
  tokensRefreshed(pair: TokenPair): Promise<void> {
    return this.serialized(() => this.adopt(pair));
  }

  /** Forgets the session here (signed out, or the gateway refused it). */
  end(): Promise<void> {
    return this.serialized(async () => {
      this.current = null;
    });
  }

  // --- internals (run inside `serialized`) ----------------------------------------------------

  private async syncFromVault(): Promise<void> {
    let stored: StoredSession | null;
    try {
      stored = await this.options.vault.load();
    } catch {
      return; // unreadable now: the tokens in memory are still the best guess
    }
    const storedToken = stored?.refreshToken ?? null;
    if (storedToken === this.lastStored) return; // nobody else touched it
    if (stored === null) {
      // Another process signed out (or this one never managed to store it).
      if (this.lastStored !== null) this.current = null;
      return;
    }
    this.lastStored = stored.refreshToken;
    if (stored.refreshToken === this.current?.refreshToken) return;
    // Another process rotated the sign-in: its tokens are the live ones, ours are spent.
    this.current = { ...stored, user: stored.user ?? this.current?.user ?? null };
  }

  private async renewLocked(): Promise<StoredSession | null> {
    const session = this.current;
    if (!session) return null;
    let pair: TokenPair;
    try {
      pair = await this.options.renew(session.refreshToken);
    } catch (error) {
      // The host decides what a refused sign-in means (the desktop signs out, the CLI says so).
      if (error instanceof GatewayApiError && (error.status === 401 || error.status === 403)) {
        throw new SessionExpiredError(this.options.baseUrl, { cause: error });
      }
      throw error;
    }
    await this.adopt(pair);
    return this.current;
  }

  private async adopt(pair: TokenPair): Promise<void> {
    const session = storedSessionFromPair(pair);
    this.current = session;
    try {
      await this.options.vault.save(session);
    } catch (error) {
      throw new SessionNotSavedError(this.options.vault.describe, { cause: error });
    }
    this.lastStored = session.refreshToken;
  }

  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
