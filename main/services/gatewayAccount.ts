/**
 * The desktop's connection to its one pinned gateway: pinning, enroll, sign-in (with TOTP),
 * token refresh, sign-out, and resuming a stored session after a restart.
 *
 * Token rules (issue #5, DESIGN.md "Desktop"):
 * - the access token lives in memory only, here; the refresh token lives in the `SecretStore`
 *   (and here), rotated by every refresh;
 * - nothing this class returns carries a token — callers get a signed-in `GatewayClient` to
 *   work with, and `account()` is a username and a role;
 * - a refresh the gateway refuses (expired, revoked, replayed family, disabled user) signs the
 *   person out: the stored token is deleted, `onSignedOut` closes their terminals, `onChange`
 *   broadcasts the new state, and the call fails with 'session_expired'.
 */
import { z } from 'zod';
import {
  CaMismatchError,
  checkPinnedCa,
  fingerprintsEqual,
} from '../../gateway-client/caPinning.ts';
import { parseEnrollLink } from '../../gateway-client/enrollLink.ts';
import {
  GatewayApiError,
  GatewayClient,
  isTlsVerificationError,
  NotSignedInError,
  SessionExpiredError,
  type SessionTokens,
} from '../../gateway-client/gatewayClient.ts';
import type { TokenPair } from '../../shared/api/apiSchemas.ts';
import { DesktopError } from '../ipc/contract.ts';
import { type ErrorSetting, toDesktopError } from './desktopErrors.ts';
import type { DesktopProfile, DesktopProfileStore, StoredGateway } from './desktopProfile.ts';
import { type GatewayIdentity, inspectExpecting } from './gatewayIdentity.ts';
import type { SecretStore } from './secretStore.ts';

type Role = 'admin' | 'auditor' | 'engineer';

export interface SignedInUser {
  userId: string;
  username: string;
  role: Role;
}

/** What the secret store keeps for the signed-in user: enough to resume without a password. */
const storedSessionSchema = z.object({
  userId: z.string().min(1),
  username: z.string().min(1),
  role: z.enum(['admin', 'auditor', 'engineer']),
  refreshToken: z.string().min(1),
  refreshExpiresAt: z.string(),
});
type StoredSession = z.infer<typeof storedSessionSchema>;

interface LiveSession extends StoredSession {
  /** Null after a restart until the first refresh: only the refresh token survives. */
  accessToken: string | null;
}

export interface GatewayAccountDeps {
  profileStore: DesktopProfileStore;
  profile: DesktopProfile;
  secrets: SecretStore;
  log: (line: string) => void;
  /** The person was signed out (by sign-out, expiry or forgetting the gateway): end terminals. */
  onSignedOut: () => Promise<void>;
  /** Anything in `pinned()` or `account()` changed: broadcast the app state. */
  onChange: () => void;
}

/**
 * The secret-store account for a gateway's session; one signed-in user per gateway. The
 * embedded gateway's address can change between runs, so it has a fixed name.
 */
export function sessionAccount(gateway: Pick<StoredGateway, 'url' | 'isLocal'>): string {
  return gateway.isLocal ? 'desktop-session:local' : `desktop-session:${gateway.url}`;
}

export class GatewayAccount {
  private profile: DesktopProfile;
  private session: LiveSession | null = null;
  private client: GatewayClient | null = null;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly deps: GatewayAccountDeps) {
    this.profile = deps.profile;
  }

  pinned(): StoredGateway | null {
    return this.profile.gateway;
  }

  account(): SignedInUser | null {
    if (!this.session) return null;
    const { userId, username, role } = this.session;
    return { userId, username, role };
  }

  lastUsername(): string | null {
    return this.profile.lastUsername;
  }

  // --- pinning -------------------------------------------------------------------------------

  /**
   * Pins `identity`. Pinning another gateway (or a new CA) signs the current user out first.
   * The embedded gateway may come up on another port after a restart: with the same CA it is
   * the same gateway, and its session carries over.
   */
  async pin(identity: GatewayIdentity, isLocal: boolean): Promise<void> {
    const current = this.profile.gateway;
    const sameGateway =
      current !== null &&
      fingerprintsEqual(current.caFingerprint, identity.caFingerprint) &&
      current.isLocal === isLocal &&
      (current.url === identity.url || isLocal);
    if (current && !sameGateway) {
      // Leaving a gateway ends the session there too, not only here.
      if (this.session && !current.isLocal) await this.revokeQuietly(this.session);
      await this.signOutLocally(current);
    }
    this.profile = {
      ...this.profile,
      gateway: {
        url: identity.url,
        caPem: identity.caPem,
        caFingerprint: identity.caFingerprint,
        recordingKeyId: identity.recordingKeyId,
        recordingPublicKeyPem: identity.recordingPublicKeyPem,
        recordingKeyFingerprint: identity.recordingKeyFingerprint,
        // A host key pinned earlier stays pinned; a new one is only taken when there was none.
        sshHostKey: (sameGateway ? current?.sshHostKey : null) ?? identity.sshHostKey,
        isLocal,
        pinnedAt: sameGateway && current ? current.pinnedAt : new Date().toISOString(),
      },
      lastUsername: sameGateway ? this.profile.lastUsername : null,
    };
    await this.deps.profileStore.save(this.profile);
    if (!sameGateway || current?.url !== identity.url) this.replaceClient();
    this.deps.onChange();
  }

  /** Signs out (revoking at the gateway when it answers) and unpins. */
  async forget(): Promise<void> {
    if (this.session) await this.logout();
    this.profile = { ...this.profile, gateway: null, lastUsername: null };
    await this.deps.profileStore.save(this.profile);
    this.replaceClient();
    this.deps.onChange();
  }

  /**
   * Pins the gateway's SSH host key on first use, and refuses one that differs from the pinned
   * key: a terminal must not talk to a listener the pinned gateway did not vouch for.
   */
  async checkSshHostKey(presented: string): Promise<string> {
    const gateway = this.requirePinned();
    const normalized = hostKeyBody(presented);
    if (gateway.sshHostKey === null) {
      this.profile = { ...this.profile, gateway: { ...gateway, sshHostKey: presented.trim() } };
      await this.deps.profileStore.save(this.profile);
      return presented.trim();
    }
    if (hostKeyBody(gateway.sshHostKey) !== normalized) {
      throw new DesktopError(
        'gateway_certificate_mismatch',
        `The gateway at ${gateway.url} now announces a different SSH host key from the one ` +
          'pinned when you first connected, so no terminal was opened. This can mean the ' +
          'gateway was re-installed — or that someone is intercepting it. Check with its admin; ' +
          'if it was re-installed, forget this gateway and pin it again.',
      );
    }
    return gateway.sshHostKey;
  }

  // --- signing in and out --------------------------------------------------------------------

  /**
   * Redeems an enrollment link: checks the link's CA fingerprint against the gateway (or the
   * pin, if this gateway is pinned already), sets the password, pins, signs in.
   */
  async enroll(link: string, password: string): Promise<SignedInUser> {
    const parsed = await this.mapErrors(async () => parseEnrollLink(link), 'sign-in');
    const current = this.profile.gateway;
    let identity: GatewayIdentity | null = null;
    if (current && current.url !== parsed.gateway) {
      throw new DesktopError(
        'conflict',
        `This enrollment link is for ${parsed.gateway}, but the app is pinned to ${current.url}. ` +
          'Forget that gateway first, then open the link again.',
      );
    }
    if (current) {
      if (parsed.fingerprint && !fingerprintsEqual(parsed.fingerprint, current.caFingerprint)) {
        throw new DesktopError(
          'gateway_certificate_mismatch',
          `The enrollment link expects the CA fingerprint ${parsed.fingerprint}, but the CA ` +
            `pinned for ${current.url} is ${current.caFingerprint}. Ask your admin which is right.`,
        );
      }
    } else if (parsed.fingerprint) {
      identity = await inspectExpecting(
        parsed.gateway,
        parsed.fingerprint,
        'the enrollment link’s',
      );
    } else {
      throw new DesktopError(
        'invalid_request',
        'This enrollment link carries no CA fingerprint, so the gateway cannot be checked. ' +
          'Connect to the gateway by its address first and compare the fingerprint, or ask your ' +
          'admin for a link with a fingerprint.',
      );
    }
    // Until the enrollment succeeds nothing is pinned: a spent or wrong link leaves no trace.
    const caPem = identity?.caPem ?? current?.caPem ?? '';
    const enrollClient = new GatewayClient({ baseUrl: parsed.gateway, caPem });
    let username: string;
    try {
      ({ username } = await this.mapErrors(
        () => enrollClient.enroll({ token: parsed.token, password }),
        'sign-in',
      ));
    } finally {
      enrollClient.close();
    }
    if (identity) await this.pin(identity, false);
    return this.login(username, password);
  }

  async login(username: string, password: string, totpCode?: string): Promise<SignedInUser> {
    const gateway = this.requirePinned();
    const client = this.gatewayClient(gateway);
    const pair = await this.mapErrors(
      () => client.login({ username, password, ...(totpCode ? { totp: totpCode } : {}) }),
      'sign-in',
    );
    // Signing in again replaces the previous session; end that one at the gateway too, and
    // if it was someone else's, their terminals with it.
    const previous = this.session;
    if (previous) {
      await this.revokeQuietly(previous);
      if (previous.userId !== pair.user.id) await this.deps.onSignedOut();
    }
    await this.startSession(pair);
    this.profile = { ...this.profile, lastUsername: pair.user.username };
    await this.deps.profileStore.save(this.profile);
    this.deps.onChange();
    return this.account()!;
  }

  /**
   * Ends the session: revoked at the gateway (if it answers — signing out locally must work
   * offline too), tokens forgotten, terminals closed.
   */
  async logout(): Promise<void> {
    const gateway = this.profile.gateway;
    const session = this.session;
    if (session) await this.revokeQuietly(session);
    if (gateway) await this.signOutLocally(gateway);
    else this.session = null;
  }

  /**
   * After a restart: picks up the session stored for the pinned gateway. When the gateway
   * answers, the refresh happens now, so an expired session shows as signed out at once; when
   * it does not, the stored session stays and the first call refreshes it.
   */
  async resume(): Promise<void> {
    const gateway = this.profile.gateway;
    if (!gateway || this.session) return;
    let stored: StoredSession | null = null;
    try {
      stored = decodeSession(await this.deps.secrets.get(sessionAccount(gateway)));
    } catch (error) {
      this.deps.log(`could not read the stored session: ${messageOf(error)}`);
    }
    if (!stored) return;
    this.session = { ...stored, accessToken: null };
    try {
      await this.ensureAccessToken();
    } catch (error) {
      if (error instanceof DesktopError && error.code === 'session_expired') return;
      // Unreachable now: keep the session; the next call tries again.
      this.deps.log(`could not resume the session yet: ${messageOf(error)}`);
    }
    this.deps.onChange();
  }

  // --- working as the signed-in user ---------------------------------------------------------

  /**
   * Runs `work` with a client signed in as the current user. Failures come out as
   * `DesktopError`s; a session the gateway no longer accepts signs the person out.
   */
  async run<T>(work: (client: GatewayClient) => Promise<T>): Promise<T> {
    const gateway = this.requirePinned();
    if (!this.session) {
      throw new DesktopError('not_signed_in', 'You are not signed in — sign in first.');
    }
    await this.ensureAccessToken();
    const client = this.gatewayClient(gateway);
    try {
      return await work(client);
    } catch (error) {
      const expired =
        error instanceof SessionExpiredError ||
        (error instanceof GatewayApiError && error.status === 401);
      if (expired) await this.sessionEnded(gateway);
      throw await this.describe(error, 'signed-in');
    }
  }

  /** Closes idle connections. */
  dispose(): void {
    this.client?.close();
    this.client = null;
  }

  // --- internals -----------------------------------------------------------------------------

  private requirePinned(): StoredGateway {
    const gateway = this.profile.gateway;
    if (!gateway) {
      throw new DesktopError(
        'no_gateway',
        'No gateway is set up yet — enter its address or open an enrollment link first.',
      );
    }
    return gateway;
  }

  /** The one client for the pinned gateway; it trusts the pinned CA and nothing else. */
  private gatewayClient(gateway: StoredGateway): GatewayClient {
    if (!this.client) {
      this.client = new GatewayClient(
        { baseUrl: gateway.url, caPem: gateway.caPem },
        {
          tokens: (): SessionTokens | null =>
            this.session?.accessToken
              ? { accessToken: this.session.accessToken, refreshToken: this.session.refreshToken }
              : null,
          tokensRefreshed: (pair) => this.startSession(pair),
        },
      );
    }
    return this.client;
  }

  private replaceClient(): void {
    this.client?.close();
    this.client = null;
  }

  private async startSession(pair: TokenPair): Promise<void> {
    const gateway = this.requirePinned();
    this.session = {
      userId: pair.user.id,
      username: pair.user.username,
      role: pair.user.role,
      refreshToken: pair.refreshToken,
      refreshExpiresAt: pair.refreshExpiresAt,
      accessToken: pair.accessToken,
    };
    const stored: StoredSession = {
      userId: pair.user.id,
      username: pair.user.username,
      role: pair.user.role,
      refreshToken: pair.refreshToken,
      refreshExpiresAt: pair.refreshExpiresAt,
    };
    try {
      await this.deps.secrets.set(sessionAccount(gateway), JSON.stringify(stored));
    } catch (error) {
      // Still signed in for this run; only resuming after a restart is lost.
      this.deps.log(
        `could not store the session (${this.deps.secrets.describe}): ${messageOf(error)}`,
      );
    }
  }

  /** A session restored from the secret store has no access token yet: refresh once. */
  private async ensureAccessToken(): Promise<void> {
    if (!this.session || this.session.accessToken) return;
    this.refreshing ??= (async () => {
      const gateway = this.requirePinned();
      const session = this.session;
      if (!session) throw new NotSignedInError(gateway.url);
      const client = this.gatewayClient(gateway);
      try {
        const pair = await client.refresh(session.refreshToken);
        await this.startSession(pair);
      } catch (error) {
        if (error instanceof GatewayApiError && (error.status === 401 || error.status === 403)) {
          await this.sessionEnded(gateway);
          throw toDesktopError(new SessionExpiredError(gateway.url));
        }
        throw await this.describe(error, 'signed-in');
      }
    })().finally(() => {
      this.refreshing = null;
    });
    await this.refreshing;
  }

  /** The gateway refused the session: signed out, and everyone is told. */
  private async sessionEnded(gateway: StoredGateway): Promise<void> {
    if (!this.session) return;
    await this.signOutLocally(gateway);
  }

  private async signOutLocally(gateway: StoredGateway): Promise<void> {
    const hadSession = this.session !== null;
    this.session = null;
    try {
      await this.deps.secrets.delete(sessionAccount(gateway));
    } catch (error) {
      this.deps.log(`could not delete the stored session: ${messageOf(error)}`);
    }
    if (hadSession) await this.deps.onSignedOut();
    this.deps.onChange();
  }

  /** Revokes the session's token family at the gateway; failing that, says so in the log. */
  private async revokeQuietly(session: LiveSession): Promise<void> {
    const gateway = this.profile.gateway;
    if (!gateway) return;
    // A throw-away client, so the shared one's refresh cannot rotate tokens of a session
    // that is ending into this.session. Logout ends the whole family (authService.logout).
    let tokens: SessionTokens | null = session.accessToken
      ? { accessToken: session.accessToken, refreshToken: session.refreshToken }
      : null;
    const client = new GatewayClient(
      { baseUrl: gateway.url, caPem: gateway.caPem, timeoutMs: 10_000 },
      {
        tokens: () => tokens,
        tokensRefreshed: (pair) => {
          tokens = pair;
        },
      },
    );
    try {
      // A resumed session has no access token yet, and logout needs one.
      tokens ??= await client.refresh(session.refreshToken);
      await client.logout();
    } catch (error) {
      this.deps.log(
        `could not revoke the session at the gateway (signed out here anyway): ${messageOf(error)}`,
      );
    } finally {
      client.close();
    }
  }

  private async mapErrors<T>(work: () => Promise<T>, setting: ErrorSetting): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw await this.describe(error, setting);
    }
  }

  /**
   * A TLS failure against the pinned CA is most likely a changed CA: look at what the gateway
   * presents now, so the message can name both fingerprints.
   */
  private async describe(error: unknown, setting: ErrorSetting): Promise<unknown> {
    const gateway = this.profile.gateway;
    if (gateway && isTlsVerificationError(error)) {
      try {
        await checkPinnedCa(gateway.url, gateway.caFingerprint, { timeoutMs: 5_000 });
      } catch (probe) {
        if (probe instanceof CaMismatchError) return toDesktopError(probe);
      }
    }
    try {
      return toDesktopError(error, setting);
    } catch (unknown) {
      return unknown;
    }
  }
}

function decodeSession(secret: string | null): StoredSession | null {
  if (!secret) return null;
  try {
    const parsed = storedSessionSchema.safeParse(JSON.parse(secret));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The key type and base64 body of an OpenSSH public key line, without the comment. */
function hostKeyBody(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
