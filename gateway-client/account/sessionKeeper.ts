/**
 * Keeps one sign-in's tokens in step with where they are stored, so a rotating refresh token
 * is never spent twice — the gateway treats a second use as a stolen token and ends the whole
 * sign-in (`authService.refresh`).
 *
 * Two ways a token could be spent twice, and what prevents each:
 * - **within this process**: renewals are serialized. The keeper runs one operation at a time
 *   (reading, renewing, saving), and it is the token provider of exactly one `GatewayClient`
 *   (`AccountLifecycle.client()`), which leaves its renewal after a `token_expired` answer to
 *   the keeper (`renewExpired`), once for all concurrent calls.
 * - **by another process** sharing the store (`witness tunnel` running for hours while
 *   `witness whoami` and the desktop renew the same sign-in, issue #12): every renewal runs
 *   under the vault's lock across processes; under it the keeper re-reads the store and renews
 *   only when the stored tokens are still the ones that expired — when another process
 *   renewed first, its tokens are taken instead. Between renewals a shared vault is also
 *   re-read before every authenticated call, so a rotation elsewhere is picked up at once, and
 *   an entry that vanished means another process signed out.
 */
import type { TokenPair } from '../../shared/api/apiSchemas.ts';
import {
  GatewayApiError,
  NotSignedInError,
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
      if (session.accessToken) return tokensOf(session);
      // A session resumed from a vault that keeps no access token: renew once, now.
      const renewed = await this.renewUnlessDone((latest) => latest.accessToken === null);
      return renewed && tokensOf(renewed);
    });
  }

  /**
   * For the client: the gateway said `expiredAccessToken` expired. Renews — unless, by the
   * time the lock is held, the store holds tokens another process renewed meanwhile.
   */
  renewExpired(expiredAccessToken: string): Promise<SessionTokens> {
    return this.serialized(async () => {
      const renewed = await this.renewUnlessDone(
        (latest) =>
          latest.accessToken === null ||
          latest.accessToken === expiredAccessToken ||
          // Another process's tokens, stored a while ago and expired by now too: a retry with
          // them would only be refused again.
          (latest.accessExpiresAt !== null && Date.parse(latest.accessExpiresAt) <= Date.now()),
      );
      if (!renewed) throw new NotSignedInError(this.options.baseUrl);
      return tokensOf(renewed);
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

  /**
   * Renews under the vault's lock, after re-reading the store under it, when `stillNeeded`
   * says the session then current must be renewed; otherwise that session (another process's
   * renewal) is the answer. Null when the sign-in ended meanwhile.
   */
  private renewUnlessDone(
    stillNeeded: (latest: StoredSession) => boolean,
  ): Promise<StoredSession | null> {
    const renew = async () => {
      if (this.options.vault.shared) await this.syncFromVault();
      const session = this.current;
      if (!session) return null;
      if (!stillNeeded(session)) return session;
      // A machine's sign-in has no refresh token (issue #18): it ends with its access token.
      if (session.refreshToken === '') throw new SessionExpiredError(this.options.baseUrl);
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
    };
    const lock = this.options.vault.lock;
    return lock ? lock.hold(renew) : renew();
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

function tokensOf(session: StoredSession): SessionTokens {
  return { accessToken: session.accessToken!, refreshToken: session.refreshToken };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
