/**
 * Live watch: `live.frames` (and `live.queries`) events can arrive before `live.watch` has
 * answered with the playbackId they belong to, and before the player exists. The feed keeps
 * them, in order, until a subscriber takes them, then passes new ones straight through.
 */
import type { PlaybackEvent } from '../../../main/ipc/contract.ts';

export class LiveFeed<T = PlaybackEvent> {
  private backlog: T[] = [];
  private listener: ((items: T[]) => void) | null = null;

  push(items: T[]): void {
    if (items.length === 0) return;
    if (this.listener) this.listener(items);
    else this.backlog.push(...items);
  }

  /** One subscriber at a time; it first gets everything held so far. */
  subscribe(listener: (items: T[]) => void): () => void {
    this.listener = listener;
    if (this.backlog.length > 0) {
      const held = this.backlog;
      this.backlog = [];
      listener(held);
    }
    return () => {
      if (this.listener === listener) this.listener = null;
    };
  }
}

/**
 * Routes live events to the feed of one watch. Events for a playbackId not known yet are held
 * by id until the player takes its feed, or dropped by `forget`.
 */
export class LiveRouter<T = PlaybackEvent> {
  private readonly feeds = new Map<string, LiveFeed<T>>();

  feed(playbackId: string): LiveFeed<T> {
    let feed = this.feeds.get(playbackId);
    if (!feed) {
      feed = new LiveFeed<T>();
      this.feeds.set(playbackId, feed);
    }
    return feed;
  }

  deliver(playbackId: string, items: T[]): void {
    this.feed(playbackId).push(items);
  }

  forget(playbackId: string): void {
    this.feeds.delete(playbackId);
  }
}
