/**
 * The seams of the account lifecycle (`accountLifecycle.ts`): where a sign-in is kept and where
 * the non-secret profile is. The CLI plugs in its credential store (keychain or 0600 file) and
 * `profile.json`; the desktop its `SecretStore` and `desktop-profile.json`. The lifecycle knows
 * neither.
 */
import type { Role } from '../../shared/api/apiSchemas.ts';
import type { RenewalLock } from './renewalLock.ts';

export interface AccountUser {
  userId: string;
  username: string;
  role: Role;
}

/**
 * One stored sign-in. The refresh token is what matters (it rotates on every renewal); the
 * access token is kept only by hosts that persist it (the CLI: it saves a renewal per command),
 * and `user` only by those that show who is signed in before asking the gateway (the desktop).
 */
export interface StoredSession {
  refreshToken: string;
  refreshExpiresAt: string;
  accessToken: string | null;
  accessExpiresAt: string | null;
  user: AccountUser | null;
}

/** Where one user's sign-in at one gateway is kept (a credential-store entry). */
export interface SessionVault {
  /** For people: "OS keychain (Secret Service)", "file ~/.config/witness/credentials.json (0600)". */
  readonly describe: string;
  /**
   * Whether other processes may renew the same sign-in (the CLI: `witness tunnel` beside
   * `witness whoami`). Then the lifecycle re-reads the vault before every authenticated call,
   * so it never spends a refresh token another process has already rotated.
   */
  readonly shared: boolean;
  /**
   * Held across processes while a renewal re-reads the stored sign-in, spends its refresh
   * token and stores the new pair (issue #12), so two processes never spend the same token.
   * Absent: only this process renews this sign-in.
   */
  readonly lock?: RenewalLock;
  /** Null when nothing (readable) is stored. */
  load(): Promise<StoredSession | null>;
  /**
   * Keeps `session`, or rejects saying why not. Only a vault that is not `shared` may swallow a
   * failure (the desktop stays signed in for the run): a shared one is re-read, and must not
   * seem to hold a session it lost.
   */
  save(session: StoredSession): Promise<void>;
  clear(): Promise<void>;
}

/** The non-secret record of who is signed in at the gateway the lifecycle serves. */
export interface AccountProfile {
  /** The user whose sign-in is stored for this gateway, if any. */
  signedInUsername(): Promise<string | null>;
  /** A sign-in succeeded and was stored: remember the user (and, first time, the pinned CA). */
  recordSignedIn(signedIn: {
    username: string;
    caPem: string;
    caFingerprint: string;
  }): Promise<void>;
  /** The stored sign-in was removed. */
  recordSignedOut(): Promise<void>;
}
