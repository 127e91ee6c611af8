/**
 * The live watch streams (`GET /recordings/:id/stream?follow=1`) this API process serves, by
 * the user watching, so taking a user's access away can end their watches at once (issue #14):
 * a watch is an open HTTP response that would otherwise run until the watched session ends.
 */
export class LiveWatches {
  private readonly byUser = new Map<string, Set<AbortController>>();

  /** Tracks a watch until its controller aborts (the watcher left, or `endFor`). */
  add(userId: string, stop: AbortController): void {
    let watches = this.byUser.get(userId);
    if (!watches) {
      watches = new Set();
      this.byUser.set(userId, watches);
    }
    watches.add(stop);
    stop.signal.addEventListener(
      'abort',
      () => {
        watches.delete(stop);
        if (watches.size === 0 && this.byUser.get(userId) === watches) this.byUser.delete(userId);
      },
      { once: true },
    );
  }

  /** Ends every watch of this user; returns how many were ended. */
  endFor(userId: string, reason: string): number {
    const watches = [...(this.byUser.get(userId) ?? [])];
    for (const stop of watches) stop.abort(new Error(reason));
    return watches.length;
  }

  /** Ends every watch (the API is closing). */
  endAll(): void {
    for (const userId of [...this.byUser.keys()]) this.endFor(userId, 'the gateway is stopping');
  }
}
