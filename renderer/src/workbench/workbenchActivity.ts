/**
 * The one place the status bar reads live work from (issue #15): each part of the workbench
 * reports its own count of live things — terminal tabs, query consoles, tunnels — under its own
 * key, and the status bar sums what it is told. A new kind of panel feeds it with one line,
 * `useReportActivity('consoles', liveConsoles)`, without the status bar or the workspace
 * knowing how that panel keeps its state.
 */

export type ActivityKind = 'terminals' | 'consoles' | 'tunnels';

export type WorkbenchActivity = Record<ActivityKind, number>;

export const NO_ACTIVITY: WorkbenchActivity = { terminals: 0, consoles: 0, tunnels: 0 };

/**
 * Reports keyed by (kind, reporter), so two panels of one kind (two console tabs, say) can each
 * report without overwriting the other; a reporter that goes away withdraws its count.
 */
export class WorkbenchActivityStore {
  private readonly reports = new Map<string, { kind: ActivityKind; count: number }>();
  private readonly listeners = new Set<() => void>();
  private snapshot: WorkbenchActivity = NO_ACTIVITY;

  report(kind: ActivityKind, reporter: string, count: number): void {
    const current = this.reports.get(reporter);
    if (current?.kind === kind && current.count === count) return;
    this.reports.set(reporter, { kind, count: Math.max(0, count) });
    this.changed();
  }

  withdraw(reporter: string): void {
    if (this.reports.delete(reporter)) this.changed();
  }

  /** Stable between changes (useSyncExternalStore compares it by identity). */
  current = (): WorkbenchActivity => this.snapshot;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private changed(): void {
    const next = { ...NO_ACTIVITY };
    for (const { kind, count } of this.reports.values()) next[kind] += count;
    this.snapshot = next;
    for (const listener of this.listeners) listener();
  }
}

/** "2 terminals", "1 console", "No tunnels". */
export function countLabel(count: number, kind: ActivityKind): string {
  const noun = kind.slice(0, -1);
  if (count === 0) return `No ${kind}`;
  return `${count} ${count === 1 ? noun : kind}`;
}
