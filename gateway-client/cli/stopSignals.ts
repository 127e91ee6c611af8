/**
 * The signals that ask a `witness` command to stop (Ctrl+C, `kill`, a closed terminal), caught
 * for as long as the command holds something to undo: a native client it started (ssh, psql),
 * temporary files with a ticket or a CA in them, a session open at the gateway. Without a
 * handler Node exits at once on SIGTERM or SIGHUP, which orphans the child, skips every
 * `finally` and leaves the session live; with one, the command passes the signal on, waits for
 * the child, cleans up and exits 128 + the signal's number, as a shell would report it.
 */
import os from 'node:os';

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/** Where signals come from: `process`, or an EventEmitter in tests. */
export interface SignalSource {
  on(signal: StopSignal, listener: (signal: StopSignal) => void): unknown;
  off(signal: StopSignal, listener: (signal: StopSignal) => void): unknown;
}

/** StopSignals instances listening on `process` now (see handlesProcessStopSignals). */
let onProcess = 0;

/** Whether a command's own StopSignals handles the process's stop signals right now. */
export function handlesProcessStopSignals(): boolean {
  return onProcess > 0;
}

export class StopSignals {
  private first: StopSignal | null = null;
  private disposed = false;
  private readonly listeners = new Set<(signal: StopSignal) => void>();
  private readonly onSignal = (signal: StopSignal) => {
    this.first ??= signal;
    for (const listener of [...this.listeners]) listener(signal);
  };

  constructor(private readonly source: SignalSource = process) {
    for (const signal of STOP_SIGNALS) source.on(signal, this.onSignal);
    if (source === process) onProcess++;
  }

  /** The first stop signal received, if any. */
  get received(): StopSignal | null {
    return this.first;
  }

  /** Calls `listener` on every stop signal from now on; returns the unsubscribe. */
  onStop(listener: (signal: StopSignal) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Gives the signals back to their default handling. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.source === process) onProcess--;
    for (const signal of STOP_SIGNALS) this.source.off(signal, this.onSignal);
    this.listeners.clear();
  }
}

/** The exit code a shell reports for a process ended by `signal` (SIGTERM: 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (os.constants.signals[signal] ?? 127);
}
