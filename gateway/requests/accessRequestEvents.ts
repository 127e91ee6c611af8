import { EventEmitter } from 'node:events';
import type { AccessRequestRecord } from '../store/accessRequestStore.ts';

export type AccessRequestChange = 'created' | 'decided' | 'approved' | 'denied';

export interface AccessRequestChangeEvent {
  kind: AccessRequestChange;
  request: AccessRequestRecord;
}

/**
 * In-process fan-out of request changes to the open event streams (the requester's desktop,
 * approvers' queues), so a change reaches them as it happens rather than at the next poll.
 * One gateway process; changes made through other replicas arrive from the event bus
 * (events/replicaEventHandlers.ts, issue #17).
 */
export class AccessRequestEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every open stream is a listener; hundreds of desktops are normal, not a leak.
    this.emitter.setMaxListeners(0);
  }

  publish(event: AccessRequestChangeEvent): void {
    this.emitter.emit('change', event);
  }

  /** Calls `listener` for every change until the returned function is called. */
  subscribe(listener: (event: AccessRequestChangeEvent) => void): () => void {
    this.emitter.on('change', listener);
    return () => this.emitter.off('change', listener);
  }
}
