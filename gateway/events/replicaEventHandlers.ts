/**
 * What a replica does with each event it hears (issue #17) — including the ones it published
 * itself, which are no-ops by construction (the session already ended here, the watches are
 * already gone, the request streams already heard it).
 */
import type { Logger } from '../logger.ts';
import type { AccessRequestEvents } from '../requests/accessRequestEvents.ts';
import type { LiveSessions } from '../sessions/liveSessions.ts';
import type { LiveWatches } from '../sessions/liveWatches.ts';
import type { AccessRequestStore } from '../store/accessRequestStore.ts';
import type { EventBus } from './eventBus.ts';
import type { GatewayEvent } from './gatewayEvents.ts';

export interface ReplicaEventTargets {
  liveSessions: Pick<LiveSessions, 'recheck'>;
  liveWatches: Pick<LiveWatches, 'endFor'>;
  requestEvents: Pick<AccessRequestEvents, 'publish'>;
  store: Pick<AccessRequestStore, 'getAccessRequest'>;
  /** This replica's instance id: request changes it originated were fanned out already. */
  instanceId: string;
  log: Logger;
}

/** Subscribes the handlers; returns the unsubscribe. */
export function handleReplicaEvents(bus: EventBus, targets: ReplicaEventTargets): () => void {
  return bus.subscribe(({ event }) => {
    void act(event, targets).catch((error: unknown) =>
      targets.log.warn('could not act on an event from another replica', {
        event: event.kind,
        error: String(error),
      }),
    );
  });
}

async function act(event: GatewayEvent, targets: ReplicaEventTargets): Promise<void> {
  switch (event.kind) {
    case 'session.changed':
      await targets.liveSessions.recheck(event.sessionId);
      return;
    case 'user.accessChanged':
      targets.liveWatches.endFor(event.userId, event.reason);
      return;
    case 'request.changed': {
      if (event.origin === targets.instanceId) return;
      const request = await targets.store.getAccessRequest(event.requestId);
      if (request) targets.requestEvents.publish({ kind: event.change, request });
      return;
    }
  }
}
