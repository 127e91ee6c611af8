/**
 * The event bus between gateway replicas (issue #17): one interface, two implementations —
 * in-process for the single SQLite gateway (inProcessEventBus.ts), PostgreSQL LISTEN/NOTIFY
 * with a catch-up table for replicas sharing a database (postgresEventBus.ts).
 *
 * Delivery promise: every subscriber of every replica gets every event published after the bus
 * opened, once, in publish order — also the replica that published it, so a handler is the one
 * place an event is acted on.
 */
import type { DeliveredEvent, GatewayEvent } from './gatewayEvents.ts';

export type EventListener = (delivered: DeliveredEvent) => void;

export interface EventPublisher {
  /** Resolves once the event is durable where every replica will find it. */
  publish(event: GatewayEvent): Promise<void>;
}

export interface EventBus extends EventPublisher {
  /** Calls `listener` for each event from now on, until the returned function is called. */
  subscribe(listener: EventListener): () => void;
  close(): Promise<void>;
}

/** Calls each listener, so one that throws cannot keep the event from the others. */
export function deliverToAll(
  listeners: Iterable<EventListener>,
  delivered: DeliveredEvent,
  onError: (error: unknown) => void,
): void {
  for (const listener of listeners) {
    try {
      listener(delivered);
    } catch (error) {
      onError(error);
    }
  }
}
