import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import { newId } from '../newId.ts';
import { openSecret, sealSecret } from '../secrets/secretBox.ts';
import type { AuthTokenRecord, IdentityStore, UserRecord } from '../store/identityStore.ts';
import type { ReplicaStore } from '../store/replicaStore.ts';
import { AddressRateLimiter, afterFailedLogin } from './loginThrottle.ts';
import { hashOpaqueToken, newOpaqueToken } from './opaqueTokens.ts';
import { decoyPasswordHash, hashPassword, verifyPassword } from './passwords.ts';
import { generateTotpSecret, matchTotp, totpUri } from './totp.ts';

export interface AuthSettings {
  accessTokenTtlMs: number;
  refreshTokenTtlMs: number;
  enrollmentTtlMs: number;
}

export const DEFAULT_AUTH_SETTINGS: AuthSettings = {
  accessTokenTtlMs: 15 * 60 * 1000,
  refreshTokenTtlMs: 7 * 24 * 3600 * 1000,
  enrollmentTtlMs: 7 * 24 * 3600 * 1000,
};

export interface IssuedTokens {
  accessToken: string;
  accessExpiresAt: number;
  refreshToken: string;
  refreshExpiresAt: number;
  user: UserRecord;
}

export interface Authenticated {
  user: UserRecord;
  token: AuthTokenRecord;
}

const totpAad = (userId: string) => `user:${userId}:totp`;

/** Identity: enrollment, password + TOTP login, rotating refresh tokens, bearer checks. */
export class AuthService {
  private readonly addressLimiter: AddressRateLimiter;

  constructor(
    private readonly store: IdentityStore &
      Pick<ReplicaStore, 'countLoginAttempt' | 'deleteLoginWindowsBefore'>,
    private readonly clock: Clock,
    private readonly masterKey: Buffer,
    private readonly settings: AuthSettings = DEFAULT_AUTH_SETTINGS,
    /**
     * Asked at each refresh whether whoever vouched for the sign-in still does (an identity
     * provider, issue #18); throws to refuse the refresh.
     */
    private readonly signInCheck?: { confirm(familyId: string): Promise<void> },
  ) {
    this.addressLimiter = new AddressRateLimiter(store);
  }

  /** Creates a one-time enrollment token with which the user sets their password. */
  async createEnrollment(userId: string): Promise<{ token: string; expiresAt: number }> {
    const token = newOpaqueToken('wen');
    const now = this.clock.now();
    const expiresAt = now + this.settings.enrollmentTtlMs;
    await this.store.createEnrollment({
      tokenHash: hashOpaqueToken(token),
      userId,
      expiresAt,
      usedAt: null,
      createdAt: now,
    });
    return { token, expiresAt };
  }

  async enroll(token: string, password: string): Promise<UserRecord> {
    const enrollment = await this.store.consumeEnrollment(hashOpaqueToken(token), this.clock.now());
    if (!enrollment) {
      throw new GatewayError(
        'invalid_credentials',
        'This enrollment link is unknown, already used or expired — ask an admin for a new one.',
      );
    }
    const user = await this.store.updateUser(enrollment.userId, {
      passwordHash: await hashPassword(password),
    });
    if (!user)
      throw new GatewayError('not_found', 'The user of this enrollment link no longer exists.');
    return user;
  }

  async login(
    credentials: { username: string; password: string; totp?: string | undefined },
    clientAddress: string,
  ): Promise<IssuedTokens> {
    const now = this.clock.now();
    const retryAt = await this.addressLimiter.hit(clientAddress, now);
    if (retryAt !== null) {
      throw new GatewayError(
        'rate_limited',
        `Too many sign-in attempts from your address — wait until ${new Date(retryAt).toISOString()} and try again.`,
        { retryAfter: new Date(retryAt).toISOString() },
      );
    }
    const user = await this.store.getUserByUsername(credentials.username);
    if (user?.lockedUntil && user.lockedUntil > now) throw lockedError(user.lockedUntil);

    // An unknown user (or one not yet enrolled) is checked against a decoy hash, so timing
    // does not reveal which usernames exist.
    const storedHash = user?.passwordHash ?? (await decoyPasswordHash());
    const passwordOk =
      (await verifyPassword(credentials.password, storedHash)) && !!user?.passwordHash;

    if (!user || !passwordOk) {
      if (user) await this.recordFailure(user, now);
      throw new GatewayError('invalid_credentials', 'Wrong username or password.');
    }
    if (user.disabled) {
      throw new GatewayError(
        'forbidden',
        `The account ${user.username} is disabled — ask an admin.`,
      );
    }
    let totpLastStep = user.totpLastStep;
    if (user.totpSecret) {
      if (!credentials.totp) {
        throw new GatewayError(
          'totp_required',
          'Enter the six-digit code from your authenticator app.',
        );
      }
      const secret = openSecret(this.masterKey, user.totpSecret, totpAad(user.id));
      const step = matchTotp(secret, credentials.totp, now, user.totpLastStep);
      if (step === undefined) {
        await this.recordFailure(user, now);
        throw new GatewayError(
          'invalid_credentials',
          'That authenticator code is wrong or already used — wait for the next code and try again.',
        );
      }
      totpLastStep = step;
    }
    const updated = await this.store.updateUser(user.id, {
      failedLogins: 0,
      lockedUntil: null,
      totpLastStep,
    });
    return this.issueTokens(updated ?? user, newId('fam'), now);
  }

  /**
   * Starts a sign-in for a user someone else vouched for (an identity provider, issue #18):
   * a new refresh family, whose id the caller keeps beside what vouched for it.
   */
  async issueSignIn(user: UserRecord): Promise<{ tokens: IssuedTokens; familyId: string }> {
    const familyId = newId('fam');
    return { tokens: await this.issueTokens(user, familyId, this.clock.now()), familyId };
  }

  /**
   * An access token alone, for a machine (issue #18): nothing long-lived, no refresh token; it
   * lasts `ttlMs` or the usual access lifetime, whichever is shorter.
   */
  async issueAccessOnly(
    user: UserRecord,
    ttlMs: number,
  ): Promise<{ accessToken: string; accessExpiresAt: number; familyId: string }> {
    const now = this.clock.now();
    const familyId = newId('fam');
    const accessToken = newOpaqueToken('wat');
    const accessExpiresAt = now + Math.min(ttlMs, this.settings.accessTokenTtlMs);
    await this.store.insertAuthToken({
      tokenHash: hashOpaqueToken(accessToken),
      kind: 'access',
      userId: user.id,
      familyId,
      expiresAt: accessExpiresAt,
      usedAt: null,
      revokedAt: null,
      createdAt: now,
    });
    return { accessToken, accessExpiresAt, familyId };
  }

  async refresh(refreshToken: string): Promise<IssuedTokens> {
    const now = this.clock.now();
    const record = await this.store.getAuthToken(hashOpaqueToken(refreshToken));
    if (record?.kind !== 'refresh' || record.revokedAt !== null) {
      throw new GatewayError('unauthenticated', 'Your sign-in is no longer valid — sign in again.');
    }
    if (record.expiresAt <= now) {
      throw new GatewayError('token_expired', 'Your sign-in has expired — sign in again.');
    }
    // Rotation: a refresh token works once. A second use means it was copied; end the family
    // so neither the thief nor the victim keeps a session (OAuth 2.0 Security BCP §4.14).
    if (!(await this.store.markAuthTokenUsed(record.tokenHash, now))) {
      await this.store.revokeAuthTokenFamily(record.familyId, now);
      throw new GatewayError(
        'unauthenticated',
        'This sign-in was already refreshed elsewhere, so it has been ended for safety — sign in again.',
      );
    }
    const user = await this.store.getUserById(record.userId);
    if (!user || user.disabled) {
      throw new GatewayError('unauthenticated', 'Your account is disabled — ask an admin.');
    }
    await this.signInCheck?.confirm(record.familyId);
    // The check may have changed the user's groups (the provider's claim).
    const current = (await this.store.getUserById(user.id)) ?? user;
    return this.issueTokens(current, record.familyId, now);
  }

  /** Ends the sign-in the access token belongs to (its whole refresh family). */
  async logout(auth: Authenticated): Promise<void> {
    await this.store.revokeAuthTokenFamily(auth.token.familyId, this.clock.now());
  }

  async authenticate(accessToken: string | undefined): Promise<Authenticated> {
    if (!accessToken) {
      throw new GatewayError('unauthenticated', 'Sign in first: this call needs an access token.');
    }
    const token = await this.store.getAuthToken(hashOpaqueToken(accessToken));
    if (token?.kind !== 'access' || token.revokedAt !== null) {
      throw new GatewayError('unauthenticated', 'The access token is not valid — sign in again.');
    }
    if (token.expiresAt <= this.clock.now()) {
      throw new GatewayError(
        'token_expired',
        'The access token has expired — refresh it or sign in again.',
      );
    }
    const user = await this.store.getUserById(token.userId);
    if (!user || user.disabled) {
      throw new GatewayError('unauthenticated', 'Your account is disabled — ask an admin.');
    }
    return { user, token };
  }

  async beginTotpEnrollment(user: UserRecord): Promise<{ secret: string; otpauthUri: string }> {
    const secret = generateTotpSecret();
    await this.store.updateUser(user.id, {
      totpPendingSecret: sealSecret(this.masterKey, secret, totpAad(user.id)),
    });
    return { secret, otpauthUri: totpUri(secret, user.username) };
  }

  async confirmTotp(user: UserRecord, code: string): Promise<UserRecord> {
    if (!user.totpPendingSecret) {
      throw new GatewayError('conflict', 'Start TOTP enrollment first (POST /v1/me/totp).');
    }
    const secret = openSecret(this.masterKey, user.totpPendingSecret, totpAad(user.id));
    const step = matchTotp(secret, code, this.clock.now(), null);
    if (step === undefined) {
      throw new GatewayError(
        'bad_request',
        'That code does not match — check the device clock and try the next code.',
      );
    }
    const updated = await this.store.updateUser(user.id, {
      totpSecret: user.totpPendingSecret,
      totpPendingSecret: null,
      totpLastStep: step,
    });
    return updated ?? user;
  }

  private async recordFailure(user: UserRecord, now: number): Promise<void> {
    const next = afterFailedLogin(user.failedLogins, now);
    await this.store.updateUser(user.id, next);
    if (next.lockedUntil) throw lockedError(next.lockedUntil);
  }

  private async issueTokens(
    user: UserRecord,
    familyId: string,
    now: number,
  ): Promise<IssuedTokens> {
    const accessToken = newOpaqueToken('wat');
    const refreshToken = newOpaqueToken('wrt');
    const accessExpiresAt = now + this.settings.accessTokenTtlMs;
    const refreshExpiresAt = now + this.settings.refreshTokenTtlMs;
    const base = { userId: user.id, familyId, usedAt: null, revokedAt: null, createdAt: now };
    await this.store.insertAuthToken({
      ...base,
      tokenHash: hashOpaqueToken(accessToken),
      kind: 'access',
      expiresAt: accessExpiresAt,
    });
    await this.store.insertAuthToken({
      ...base,
      tokenHash: hashOpaqueToken(refreshToken),
      kind: 'refresh',
      expiresAt: refreshExpiresAt,
    });
    return { accessToken, accessExpiresAt, refreshToken, refreshExpiresAt, user };
  }
}

function lockedError(until: number): GatewayError {
  const at = new Date(until).toISOString();
  return new GatewayError(
    'account_locked',
    `Too many failed sign-ins: this account is locked until ${at}. Try again then, or ask an admin.`,
    { retryAfter: at },
  );
}
