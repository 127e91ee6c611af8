/**
 * Work that a stop signal must not cut in half (issue #12): between spending a refresh token at
 * the gateway and storing its successor, a process that dies leaves only a spent token behind,
 * and the next renewal (its own or another process's) presents it again: a replay, which ends
 * the whole sign-in for everyone sharing it. So while a renewal runs, Ctrl+C, `kill` and a
 * closed terminal are held and delivered again when it is done (one round trip and a store
 * write). SIGKILL cannot be held; that window stays.
 *
 * Where a command has its own handler (`witness ssh`, `psql`, `tunnel`: StopSignals), nothing
 * is held: that handler runs as it always does. Other listeners (the lock library's exit
 * handlers, signal-exit) stand aside while one of ours listens and act when the signal is
 * delivered again.
 */
import { handlesProcessStopSignals, STOP_SIGNALS, type StopSignal } from '../cli/stopSignals.ts';

let depth = 0;
let heldSignals: StopSignal[] = [];
let pending: StopSignal | undefined;
const hold = (signal: StopSignal) => {
  pending ??= signal;
};

export async function withStopSignalsHeld<T>(work: () => Promise<T>): Promise<T> {
  if (depth++ === 0) {
    heldSignals = handlesProcessStopSignals() ? [] : [...STOP_SIGNALS];
    for (const signal of heldSignals) process.on(signal, hold);
  }
  try {
    return await work();
  } finally {
    if (--depth === 0) {
      for (const signal of heldSignals) process.off(signal, hold);
      const signal = pending;
      pending = undefined;
      // Delivered again now that nothing of ours listens: what would have ended the process
      // then (the default action, or signal-exit's handlers and re-raise) ends it now.
      if (signal !== undefined) process.kill(process.pid, signal);
    }
  }
}
