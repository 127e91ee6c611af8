/**
 * The seams where a change made through this replica is announced to the others (issue #17).
 * Each wraps the narrow interface its consumers already take, so the services that end
 * sessions, take access away or decide requests stay unaware of replicas, and no path that
 * ends a session row can forget to announce it: every one goes through `endSession`,
 * `endOpenSessions` or `setSessionExpiry`.
 *
 * Announcing happens after the store write. If publishing fails the change still stands (the
 * store is the truth) and the live sessions' safety poll finds it; the API call does not fail.
 */
import type { Logger } from '../logger.ts';
import type { AccessRequestEvents } from '../requests/accessRequestEvents.ts';
import type { LiveWatches } from '../sessions/liveWatches.ts';
import type { SessionStore } from '../store/sessionStore.ts';
import type { EventPublisher } from './eventBus.ts';
import type { GatewayEvent } from './gatewayEvents.ts';

type SessionWrites = Pick<SessionStore, 'endSession' | 'setSessionExpiry' | 'endOpenSessions'>;

function announce(bus: EventPublisher, log: Logger, event: GatewayEvent): Promise<void> {
  return bus.publish(event).catch((error: unknown) => {
    log.warn('could not announce a change to the other replicas; their safety poll will find it', {
      event: event.kind,
      error: String(error),
    });
  });
}

/**
 * The store with `endSession`, `endOpenSessions` and `setSessionExpiry` announcing
 * `session.changed` for each row they changed. Resolves after the announcement is durable, so "the API call returned" means
 * every replica will act on it.
 */
export function announceSessionChanges<S extends SessionWrites>(
  store: S,
  bus: EventPublisher,
  log: Logger,
): S {
  return {
    ...store,
    endSession: async (id: string, reason: string, now: number) => {
      const ended = await store.endSession(id, reason, now);
      if (ended) await announce(bus, log, { kind: 'session.changed', sessionId: id });
      return ended;
    },
    endOpenSessions: async (match, reason, now) => {
      const ended = await store.endOpenSessions(match, reason, now);
      for (const session of ended) {
        await announce(bus, log, { kind: 'session.changed', sessionId: session.id });
      }
      return ended;
    },
    setSessionExpiry: async (id: string, expiresAt: number) => {
      const changed = await store.setSessionExpiry(id, expiresAt);
      if (changed) await announce(bus, log, { kind: 'session.changed', sessionId: id });
      return changed;
    },
  };
}

/** Ends the user's watches here at once, and announces it so every replica ends theirs. */
export function announceWatchEnds(
  watches: Pick<LiveWatches, 'endFor'>,
  bus: EventPublisher,
  log: Logger,
): Pick<LiveWatches, 'endFor'> {
  return {
    endFor: (userId, reason) => {
      const ended = watches.endFor(userId, reason);
      void announce(bus, log, { kind: 'user.accessChanged', userId, reason });
      return ended;
    },
  };
}

/** Fans a request change out to this replica's streams now, and to the others' by the bus. */
export function announceRequestChanges(
  events: Pick<AccessRequestEvents, 'publish'>,
  bus: EventPublisher,
  origin: string,
  log: Logger,
): Pick<AccessRequestEvents, 'publish'> {
  return {
    publish: (change) => {
      events.publish(change);
      void announce(bus, log, {
        kind: 'request.changed',
        requestId: change.request.id,
        change: change.kind,
        origin,
      });
    },
  };
}
