/**
 * Identity: users (with their group membership, credentials and login throttling state),
 * one-time enrollment tokens, and access/refresh tokens. The store knows no crypto: password
 * hashes and TOTP secrets arrive already hashed or encrypted, tokens arrive as hashes.
 *
 * Times are epoch milliseconds; ids are made by the caller (newId.ts).
 */

/** The API's roles; the store keeps its own type so it does not depend on the wire schemas. */
export type UserRole = 'admin' | 'auditor' | 'engineer';

export interface UserRecord {
  id: string;
  username: string;
  role: UserRole;
  groups: string[];
  disabled: boolean;
  /** scrypt hash (see auth/passwords.ts); null until the user enrolls. */
  passwordHash: string | null;
  /** Encrypted TOTP secret once confirmed. */
  totpSecret: string | null;
  /** Encrypted TOTP secret awaiting its first code. */
  totpPendingSecret: string | null;
  /** Last accepted TOTP time step, so a code cannot be replayed inside its window. */
  totpLastStep: number | null;
  /** Login throttling: consecutive failures, and the lock they caused. */
  failedLogins: number;
  lockedUntil: number | null;
  createdAt: number;
}

export interface NewUser {
  id: string;
  username: string;
  role: UserRole;
  groups: string[];
  passwordHash: string | null;
  createdAt: number;
}

export type UserPatch = Partial<
  Pick<
    UserRecord,
    | 'role'
    | 'groups'
    | 'disabled'
    | 'passwordHash'
    | 'totpSecret'
    | 'totpPendingSecret'
    | 'totpLastStep'
    | 'failedLogins'
    | 'lockedUntil'
  >
>;

/** One-time enrollment token (hash stored) that lets a new user set a password. */
export interface EnrollmentRecord {
  tokenHash: string;
  userId: string;
  expiresAt: number;
  usedAt: number | null;
  createdAt: number;
}

export type AuthTokenKind = 'access' | 'refresh';

/**
 * Access and refresh tokens, stored as SHA-256 hashes. Refresh tokens rotate: each refresh
 * marks the old one used and issues a new one in the same family; presenting a used refresh
 * token again revokes the whole family (it has leaked).
 */
export interface AuthTokenRecord {
  tokenHash: string;
  kind: AuthTokenKind;
  userId: string;
  familyId: string;
  expiresAt: number;
  usedAt: number | null;
  revokedAt: number | null;
  createdAt: number;
}

/** Reading users, for consumers that only need to know who someone is. */
export interface UserDirectory {
  getUserById(id: string): Promise<UserRecord | undefined>;
  getUserByUsername(username: string): Promise<UserRecord | undefined>;
  listUsers(): Promise<UserRecord[]>;
}

export interface IdentityStore extends UserDirectory {
  createUser(user: NewUser): Promise<UserRecord>;
  updateUser(id: string, patch: UserPatch): Promise<UserRecord | undefined>;

  createEnrollment(enrollment: EnrollmentRecord): Promise<void>;
  /**
   * Marks the enrollment used if it is unused and unexpired at `now`; returns it, or undefined
   * when it is unknown, used or expired. Atomic: two concurrent calls cannot both succeed.
   */
  consumeEnrollment(tokenHash: string, now: number): Promise<EnrollmentRecord | undefined>;
  /**
   * Marks every unused enrollment of the user used at `now`, so an earlier link (perhaps the
   * one that leaked) no longer works once an admin issues a new one (issue #14, reset).
   */
  spendEnrollmentsOfUser(userId: string, now: number): Promise<void>;

  insertAuthToken(token: AuthTokenRecord): Promise<void>;
  getAuthToken(tokenHash: string): Promise<AuthTokenRecord | undefined>;
  /** Marks a refresh token used if it is not yet; true when this call did it (atomic). */
  markAuthTokenUsed(tokenHash: string, now: number): Promise<boolean>;
  revokeAuthTokenFamily(familyId: string, now: number): Promise<void>;
  revokeAuthTokensOfUser(userId: string, now: number): Promise<void>;
  deleteExpiredAuthTokens(now: number): Promise<number>;
}
