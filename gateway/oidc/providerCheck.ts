/**
 * Offboarding through the identity provider (issue #18). A sign-in that came from a provider
 * is only as good as the provider's word, so the gateway asks again (a refresh-token grant):
 * for every user with open sessions, at least every `maxAgeMs` (default 10 minutes, under the
 * issue's 15), and at each Witness token refresh once that long has passed. When the provider
 * refuses (the person was disabled there, their session revoked), the Witness sign-ins from it
 * are revoked and the person's open sessions end through the one rule (accessReview.ts), so
 * the proxies close them within a poll. When it answers, the groups follow its claim, and a
 * lost group ends the sessions it allowed the same way.
 *
 * A provider that cannot be reached is not a refusal: sessions go on and it is asked again
 * at the next pass (an outage at the provider must not end every session at once).
 */
import type { Clock } from '../clock.ts';
import { GatewayError } from '../gatewayError.ts';
import type { Logger } from '../logger.ts';
import { type AccessReviewStore, reviewAccess } from '../sessions/accessReview.ts';
import type { IdentityStore } from '../store/identityStore.ts';
import type { OidcSignInRecord, OidcStore } from '../store/oidcStore.ts';
import {
  openProviderRefreshToken,
  providerSettings,
  sealProviderRefreshToken,
  syncGroups,
} from './oidcSignIn.ts';
import { groupsFromClaims } from './providerClaims.ts';
import { ProviderRefusedError, type RelyingParty } from './relyingParty.ts';

export const DEFAULT_PROVIDER_CHECK_MAX_AGE_MS = 10 * 60_000;

export interface ProviderCheckDeps {
  store: OidcStore &
    Pick<IdentityStore, 'updateUser' | 'revokeAuthTokenFamily'> &
    AccessReviewStore;
  relyingParty: Pick<RelyingParty, 'refresh'>;
  clock: Clock;
  masterKey: Buffer;
  /** How old the provider's last word on a sign-in may get while the user has sessions. */
  maxAgeMs: number;
  log?: Logger;
}

type Outcome = 'confirmed' | 'refused' | 'unreachable' | 'not-due';

export class ProviderCheck {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  /** Sign-ins being asked about now: one question per sign-in at a time. */
  private readonly inFlight = new Map<string, Promise<Outcome>>();

  constructor(private readonly deps: ProviderCheckDeps) {}

  /** Passes over the users with open sessions, often enough to keep within `maxAgeMs`. */
  start(): void {
    const every = Math.max(100, Math.min(30_000, Math.floor(this.deps.maxAgeMs / 4)));
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.checkUsersWithSessions());
    }, every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One pass: every provider sign-in of a user with an open session whose word is too old. */
  async checkUsersWithSessions(): Promise<void> {
    try {
      const { store } = this.deps;
      const [live, pending] = await Promise.all([
        store.listSessions({ state: 'live', limit: 5000 }),
        store.listSessions({ state: 'pending', limit: 5000 }),
      ]);
      const users = new Set([...live, ...pending].map((session) => session.userId));
      for (const userId of users) {
        for (const signIn of await store.listOidcSignInsOfUser(userId)) {
          await this.check(signIn, false);
        }
      }
    } catch (error) {
      this.deps.log?.warn('identity provider check failed', { error: String(error) });
    }
  }

  /**
   * Called at each Witness token refresh of a sign-in: asks the provider when its word is too
   * old, and refuses the refresh when the provider refused.
   */
  async confirm(familyId: string): Promise<void> {
    const signIn = await this.deps.store.getOidcSignIn(familyId);
    if (!signIn) return; // a password sign-in, or a machine's: nothing to ask
    if ((await this.check(signIn, false)) === 'refused') {
      throw new GatewayError(
        'unauthenticated',
        'Your identity provider no longer accepts this sign-in — sign in again.',
      );
    }
  }

  private check(signIn: OidcSignInRecord, force: boolean): Promise<Outcome> {
    const asking = this.inFlight.get(signIn.familyId);
    if (asking) return asking;
    const question = this.ask(signIn, force).finally(() => this.inFlight.delete(signIn.familyId));
    this.inFlight.set(signIn.familyId, question);
    return question;
  }

  private async ask(signIn: OidcSignInRecord, force: boolean): Promise<Outcome> {
    const { store, clock, masterKey, log } = this.deps;
    const now = clock.now();
    if (!force && now - signIn.checkedAt < this.deps.maxAgeMs) return 'not-due';
    const provider = await store.getOidcProvider(signIn.providerId);
    if (!provider) return this.refuse(signIn, 'the identity provider was removed from the gateway');
    if (signIn.providerRefreshToken === null) {
      // Without a refresh token there is nothing to ask: the sign-in lasts as its own tokens do.
      return 'not-due';
    }
    // One replica asks; the others find the check taken and wait for the next one.
    if (!(await store.claimOidcSignInCheck(signIn.familyId, signIn.checkedAt, now))) {
      return 'not-due';
    }
    let answer: Awaited<ReturnType<RelyingParty['refresh']>>;
    try {
      answer = await this.deps.relyingParty.refresh(
        providerSettings(provider, masterKey),
        openProviderRefreshToken(masterKey, signIn.userId, signIn.providerRefreshToken),
        signIn.subject,
      );
    } catch (error) {
      if (error instanceof ProviderRefusedError) {
        return this.refuse(
          signIn,
          `the identity provider ${provider.name} refused to renew the sign-in (${error.message})`,
        );
      }
      log?.warn('identity provider unreachable; sessions go on', {
        provider: provider.name,
        error: String(error),
      });
      // Not confirmed: due again at the next pass, not a whole interval later.
      await store.claimOidcSignInCheck(signIn.familyId, now, signIn.checkedAt);
      return 'unreachable';
    }
    await store.updateOidcSignIn(signIn.familyId, {
      checkedAt: clock.now(),
      ...(answer.refreshToken !== null && {
        providerRefreshToken: sealProviderRefreshToken(
          masterKey,
          signIn.userId,
          answer.refreshToken,
        ),
      }),
    });
    const user = await store.getUserById(signIn.userId);
    if (user)
      await syncGroups(store, clock, user, groupsFromClaims(answer.claims, provider.groupsClaim));
    return 'confirmed';
  }

  private async refuse(signIn: OidcSignInRecord, why: string): Promise<Outcome> {
    const { store, clock, log } = this.deps;
    const now = clock.now();
    await store.revokeAuthTokenFamily(signIn.familyId, now);
    await store.deleteOidcSignIn(signIn.familyId);
    const review = await reviewAccess(store, clock, {
      userId: signIn.userId,
      providerRefused: why,
    });
    log?.info('identity provider refused a sign-in', {
      userId: signIn.userId,
      familyId: signIn.familyId,
      sessionsEnded: review.ended.map((s) => s.id),
    });
    return 'refused';
  }
}
