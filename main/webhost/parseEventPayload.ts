/**
 * Events get the same treatment as call responses: parsed against the contract on the way out,
 * so a field a service added by mistake (a token, a ticket) is stripped before it reaches a
 * renderer. Shared by both transports (the web host and Electron's main/index.ts).
 */
import { type EventName, type EventPayload, events } from '../ipc/contract.ts';

export function parseEventPayload<E extends EventName>(name: E, payload: unknown): EventPayload<E> {
  return events[name].parse(payload) as EventPayload<E>;
}
