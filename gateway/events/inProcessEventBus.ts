/**
 * The bus of a single gateway (SQLite deployment): there is no other replica to reach, so
 * events go straight to this process's subscribers. Delivered on a later microtask, as the
 * PostgreSQL bus delivers after a round trip, so publishers never run handlers re-entrantly.
 */
import { type Logger, silentLogger } from '../logger.ts';
import { deliverToAll, type EventBus, type EventListener } from './eventBus.ts';
import type { GatewayEvent } from './gatewayEvents.ts';

export class InProcessEventBus implements EventBus {
  private readonly listeners = new Set<EventListener>();
  private nextId = 1;
  private closed = false;

  constructor(private readonly log: Logger = silentLogger) {}

  async publish(event: GatewayEvent): Promise<void> {
    if (this.closed) throw new Error('the event bus is closed');
    const delivered = { id: this.nextId++, event };
    queueMicrotask(() =>
      deliverToAll(this.listeners, delivered, (error) =>
        this.log.error('an event handler failed', { event: event.kind, error: String(error) }),
      ),
    );
  }

  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }
}
