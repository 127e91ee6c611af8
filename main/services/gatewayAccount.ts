/**
 * The desktop's connection to its one pinned gateway: pinning, enroll, sign-in (with TOTP),
 * token refresh, sign-out, and resuming a stored session after a restart. Signing in, renewing
 * and signing out are the shared account lifecycle (`gateway-client/account/`, also the CLI's);
 * what is the desktop's own is here: the pin (with recording and SSH host keys), one signed-in
 * user at a time, telling the UI (`onChange`, `onSignedOut`) and `DesktopError`s.
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
import { AccountLifecycle } from '../../gateway-client/account/accountLifecycle.ts';
import type { SessionVault } from '../../gateway-client/account/accountPorts.ts';
import {
  credentialVault,
  type SessionCodec,
} from '../../gateway-client/account/credentialVault.ts';
import { fingerprintsEqual } from '../../gateway-client/caPinning.ts';
import { parseEnrollLink } from '../../gateway-client/enrollLink.ts';
import {
  GatewayApiError,
  GatewayClient,
  SessionExpiredError,
} from '../../gateway-client/gatewayClient.ts';
import { signInThroughBrowser } from '../../gateway-client/oidc/browserSignIn.ts';
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

/**
 * The desktop's encoding in the secret store. The access token is never stored (it lives in
 * memory only, and is null after a restart until the first renewal).
 */
const desktopSessionCodec: SessionCodec = {
  encode(session) {
    const user = session.user;
    return JSON.stringify({
      userId: user?.userId,
      username: user?.username,
      role: user?.role,
      refreshToken: session.refreshToken,
      refreshExpiresAt: session.refreshExpiresAt,
    });
  },
  decode(secret) {
    if (!secret) return null;
    try {
      const parsed = storedSessionSchema.safeParse(JSON.parse(secret));
      if (!parsed.success) return null;
      const { userId, username, role, refreshToken, refreshExpiresAt } = parsed.data;
      return {
        refreshToken,
        refreshExpiresAt,
        accessToken: null,
        accessExpiresAt: null,
        user: { userId, username, role },
      };
    } catch {
      return null;
    }
  },
};

/**
 * The desktop keeps one sign-in per gateway, whoever it belongs to: its vault does not depend
 * on the user name, so the lifecycle is told a stand-in when the profile names nobody.
 */
const ANY_USER = '(signed-in user)';

export interface GatewayAccountDeps {
  profileStore: DesktopProfileStore;
  profile: DesktopProfile;
  secrets: SecretStore;
  log: (line: string) => void;
  /** The person was signed out (by sign-out, expiry or forgetting the gateway): end terminals. */
  onSignedOut: () => Promise<void>;
  /** Anything in `pinned()` or `account()` changed: broadcast the app state. */
  onChange: () => void;
  /**
   * Where the sign-in at `gateway` is kept. Default: the desktop's own entry in `secrets`,
   * which only this app instance renews. A desktop that shares a CLI profile's sign-in passes
   * that profile's vault (`profileSessionVault`): shared with every `witness` process, and
   * renewed under their common lock (issue #12).
   */
  sessionVault?: (gateway: StoredGateway, username: string) => SessionVault;
}

/**
 * The secret-store account for a gateway's session; one signed-in user per gateway. The
 * embedded gateway's address can change between runs, so it has a fixed name.
 */
export function sessionAccount(gateway: Pick<StoredGateway, 'url' | 'isLocal'>): string {
  return gateway.isLocal ? 'desktop-session:local' : `desktop-session:${gateway.url}`;
}

export class GatewayAccount {
  /** The sign-out under way, if any (see `run`). */
  private signingOut: Promise<void> | null = null;
  private profile: DesktopProfile;
  /** The lifecycle for the pinned gateway; rebuilt when the pin's address or CA changes. */
  private lifecycle: AccountLifecycle | null = null;
  private lifecycleKey = '';
  /** The provider sign-in waiting for the browser, if any (issue #18). */
  private providerSignIn: AbortController | null = null;

  constructor(private readonly deps: GatewayAccountDeps) {
    this.profile = deps.profile;
  }

  pinned(): StoredGateway | null {
    return this.profile.gateway;
  }

  account(): SignedInUser | null {
    const user = this.lifecycle?.user();
    if (!user) return null;
    const { userId, username, role } = user;
    return { userId, username, role };
  }

  lastUsername(): string | null {
    return this.profile.lastUsername;
  }

  // --- pinning -------------------------------------------------------------------------------

  /**
   * Pins `identity`. Pinning another gateway (or a new CA) signs the current user out first.
   * The embedded gateway may come up on another port after a restart: with the same CA it is
   * the same gateway, and its session carries over (`resume` picks it up at the new address).
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
      const session = this.lifecycle?.session();
      if (session && !current.isLocal) await this.lifecycle?.revokeQuietly(session);
      await this.signOutLocally();
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
    this.deps.onChange();
  }

  /** Signs out (revoking at the gateway when it answers) and unpins. */
  async forget(): Promise<void> {
    if (this.lifecycle?.session()) await this.logout();
    this.profile = { ...this.profile, gateway: null, lastUsername: null };
    await this.deps.profileStore.save(this.profile);
    this.dispose();
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
    const lifecycle = this.requireLifecycle();
    const pair = await this.mapErrors(
      () => lifecycle.login({ username, password, ...(totpCode ? { totp: totpCode } : {}) }),
      'sign-in',
    );
    // Signing in again replaces the previous session (the lifecycle ends it at the gateway);
    // if it was someone else's, their terminals end with it.
    const previous = await this.mapErrors(() => lifecycle.adopt(pair), 'sign-in');
    if (previous && previous.user?.userId !== pair.user.id) await this.deps.onSignedOut();
    this.deps.onChange();
    return this.account()!;
  }

  /** The identity providers the pinned gateway offers (issue #18); a public route. */
  async signInOptions(): Promise<{ providers: { name: string; displayName: string }[] }> {
    const lifecycle = this.requireLifecycle();
    return this.mapErrors(() => lifecycle.signInOptions(), 'sign-in');
  }

  /**
   * Signs in through `provider` in a browser (RFC 8252 loopback flow, the CLI's own code):
   * `openUrl` shows the gateway's start URL; the code, the PKCE verifier and the tokens stay in
   * this process. Ends as a password sign-in does: the same stored, renewed session.
   */
  async signInWithProvider(
    provider: string,
    openUrl: (url: string) => void | Promise<void>,
    timeoutMs?: number,
  ): Promise<SignedInUser> {
    const gateway = this.requirePinned();
    const lifecycle = this.requireLifecycle();
    // One browser sign-in at a time: a new one (another button, another window) ends the wait
    // of the previous, whose loopback listener closes with it.
    this.providerSignIn?.abort();
    const controller = new AbortController();
    this.providerSignIn = controller;
    let pair: Awaited<ReturnType<typeof signInThroughBrowser>>;
    try {
      pair = await this.mapErrors(
        () =>
          signInThroughBrowser({
            gatewayUrl: gateway.url,
            provider,
            openUrl,
            exchange: (request) => lifecycle.exchangeSignInCode(request),
            signal: controller.signal,
            ...(timeoutMs !== undefined ? { timeoutMs } : {}),
          }),
        'sign-in',
      );
    } finally {
      if (this.providerSignIn === controller) this.providerSignIn = null;
    }
    const previous = await this.mapErrors(() => lifecycle.adopt(pair), 'sign-in');
    if (previous && previous.user?.userId !== pair.user.id) await this.deps.onSignedOut();
    this.deps.onChange();
    return this.account()!;
  }

  /** Stops waiting for the browser of a provider sign-in in progress (a no-op without one). */
  cancelProviderSignIn(): void {
    this.providerSignIn?.abort();
  }

  /**
   * Ends the session: revoked at the gateway (if it answers — signing out locally must work
   * offline too), tokens forgotten, terminals closed.
   */
  async logout(): Promise<void> {
    const lifecycle = this.lifecycle;
    const session = lifecycle?.session();
    if (lifecycle && session) await lifecycle.revokeQuietly(session);
    await this.signOutLocally();
  }

  /**
   * After a restart: picks up the session stored for the pinned gateway. When the gateway
   * answers, the refresh happens now, so an expired session shows as signed out at once; when
   * it does not, the stored session stays and the first call refreshes it.
   */
  async resume(): Promise<void> {
    if (!this.profile.gateway) return;
    const lifecycle = this.requireLifecycle();
    if (lifecycle.session()) return;
    try {
      if (!(await lifecycle.resume())) return;
    } catch (error) {
      this.deps.log(`could not read the stored session: ${messageOf(error)}`);
      return;
    }
    try {
      await lifecycle.ensureAccessToken();
    } catch (error) {
      if (error instanceof SessionExpiredError) {
        await this.signOutLocally();
        return;
      }
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
    const lifecycle = this.requireLifecycle();
    if (!lifecycle.session()) {
      throw new DesktopError('not_signed_in', 'You are not signed in — sign in first.');
    }
    try {
      await lifecycle.ensureAccessToken();
      return await lifecycle.run(work);
    } catch (error) {
      const expired =
        error instanceof SessionExpiredError ||
        (error instanceof GatewayApiError && error.status === 401);
      // A call that finds the sign-in refused while another call is already signing out (the
      // access-request feed's stream, say) waits for that sign-out, so whoever sees this error
      // also sees the signed-out state.
      if (expired) await (lifecycle.session() ? this.signOutLocally() : this.signingOut);
      throw this.describe(await lifecycle.explainTlsFailure(error), 'signed-in');
    }
  }

  /** Closes idle connections. */
  dispose(): void {
    this.lifecycle?.dispose();
    this.lifecycle = null;
    this.lifecycleKey = '';
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

  /**
   * The lifecycle for the pinned gateway: its clients trust the pinned CA and nothing else.
   * A new address of the same gateway (the embedded one after a restart) gets a new lifecycle
   * over the same stored session, carrying the live one over.
   */
  private requireLifecycle(): AccountLifecycle {
    const gateway = this.requirePinned();
    const key = `${gateway.url}\n${gateway.caFingerprint}`;
    if (this.lifecycle && this.lifecycleKey === key) return this.lifecycle;
    // Only a new address of the pinned gateway keeps the session (`pin` signs out otherwise).
    const live = this.lifecycle?.session() ?? null;
    this.lifecycle?.dispose();
    const secrets = this.deps.secrets;
    const lifecycle = new AccountLifecycle({
      url: gateway.url,
      caPem: gateway.caPem,
      caFingerprint: gateway.caFingerprint,
      vaultFor: (username) =>
        this.deps.sessionVault?.(gateway, username) ??
        credentialVault(secrets, sessionAccount(gateway), desktopSessionCodec, {
          // One app instance uses this store: no other process renews the sign-in.
          shared: false,
          storeFailed: (error, action) =>
            this.deps.log(
              action === 'save'
                ? `could not store the session (${secrets.describe}): ${messageOf(error)}`
                : `could not delete the stored session: ${messageOf(error)}`,
            ),
        }),
      profile: {
        signedInUsername: async () => this.profile.lastUsername ?? ANY_USER,
        recordSignedIn: async ({ username }) => {
          this.profile = { ...this.profile, lastUsername: username };
          await this.deps.profileStore.save(this.profile);
        },
        // The last user name stays: it is the default for the next sign-in.
        recordSignedOut: async () => {},
      },
      revokeFailed: (error) =>
        this.deps.log(
          `could not revoke the session at the gateway (signed out here anyway): ${messageOf(error)}`,
        ),
    });
    if (live) lifecycle.carryOver(live, live.user?.username ?? ANY_USER);
    this.lifecycle = lifecycle;
    this.lifecycleKey = key;
    return lifecycle;
  }

  /** Forgets the session here; tells the UI, and ends terminals if someone was signed in. */
  private signOutLocally(): Promise<void> {
    const signingOut = this.forgetSession().finally(() => {
      if (this.signingOut === signingOut) this.signingOut = null;
    });
    this.signingOut = signingOut;
    return signingOut;
  }

  private async forgetSession(): Promise<void> {
    const lifecycle = this.lifecycle;
    const hadSession = lifecycle?.session() != null;
    if (lifecycle) {
      try {
        await lifecycle.endLocally();
      } catch (error) {
        this.deps.log(`could not sign out cleanly: ${messageOf(error)}`);
      }
    }
    if (hadSession) await this.deps.onSignedOut();
    this.deps.onChange();
  }

  private async mapErrors<T>(work: () => Promise<T>, setting: ErrorSetting): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw this.describe(await this.explainTlsFailure(error), setting);
    }
  }

  private async explainTlsFailure(error: unknown): Promise<unknown> {
    return this.lifecycle ? this.lifecycle.explainTlsFailure(error) : error;
  }

  private describe(error: unknown, setting: ErrorSetting): unknown {
    try {
      return toDesktopError(error, setting);
    } catch (unknown) {
      return unknown;
    }
  }
}

/** The key type and base64 body of an OpenSSH public key line, without the comment. */
function hostKeyBody(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(' ');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
