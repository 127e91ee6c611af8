/**
 * Routes `terminal.data` and `terminal.ended` events to the tab that owns the terminal.
 *
 * Main may emit a terminal's first output (the shell prompt) before the renderer has the
 * `terminals.open` response naming it, since events and call results travel separately. Events
 * for an id nobody has claimed yet are held briefly and handed over on `attach`; anything still
 * unclaimed after `holdMs` belonged to a tab that went away and is dropped.
 */
import type { EventPayload } from '../../../main/ipc/contract.ts';

export type TerminalData = EventPayload<'terminal.data'>;
export type TerminalEnded = EventPayload<'terminal.ended'>;

export interface TerminalSink {
  data(event: TerminalData): void;
  ended(event: TerminalEnded): void;
}

type Held = { at: number; events: ({ data: TerminalData } | { ended: TerminalEnded })[] };

export class TerminalEventRouter {
  private readonly sinks = new Map<string, TerminalSink>();
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly holdMs = 10_000,
  ) {}

  /** Claims a terminal's events, first delivering any that arrived before. Returns detach. */
  attach(terminalId: string, sink: TerminalSink): () => void {
    this.sinks.set(terminalId, sink);
    const held = this.held.get(terminalId);
    this.held.delete(terminalId);
    for (const event of held?.events ?? []) {
      if ('data' in event) sink.data(event.data);
      else sink.ended(event.ended);
    }
    return () => {
      if (this.sinks.get(terminalId) === sink) this.sinks.delete(terminalId);
    };
  }

  data(event: TerminalData): void {
    const sink = this.sinks.get(event.terminalId);
    if (sink) sink.data(event);
    else this.hold(event.terminalId, { data: event });
  }

  ended(event: TerminalEnded): void {
    const sink = this.sinks.get(event.terminalId);
    if (sink) sink.ended(event);
    else this.hold(event.terminalId, { ended: event });
  }

  /** How many terminals have events waiting for a claim (for tests). */
  heldCount(): number {
    this.expire();
    return this.held.size;
  }

  private hold(terminalId: string, event: Held['events'][number]): void {
    this.expire();
    let held = this.held.get(terminalId);
    if (!held) {
      held = { at: this.now(), events: [] };
      this.held.set(terminalId, held);
    }
    held.events.push(event);
  }

  private expire(): void {
    const cutoff = this.now() - this.holdMs;
    for (const [id, held] of this.held) if (held.at < cutoff) this.held.delete(id);
  }
}
