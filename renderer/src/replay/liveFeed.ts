/**
 * Live watch: `live.frames` events can arrive before `live.watch` has answered with the
 * playbackId they belong to, and before the player's xterm exists. The feed keeps them, in order,
 * until a subscriber takes them, then passes new ones straight through.
 */
import type { PlaybackEvent } from '../../../main/ipc/contract.ts';

export class LiveFeed {
  private backlog: PlaybackEvent[] = [];
  private listener: ((events: PlaybackEvent[]) => void) | null = null;

  push(events: PlaybackEvent[]): void {
    if (events.length === 0) return;
    if (this.listener) this.listener(events);
    else this.backlog.push(...events);
  }

  /** One subscriber at a time; it first gets everything held so far. */
  subscribe(listener: (events: PlaybackEvent[]) => void): () => void {
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
 * Routes `live.frames` to the feed of one watch. Events for a playbackId not known yet are held
 * by id until `claim(playbackId)` (the watch answered) or dropped by `reset`.
 */
export class LiveRouter {
  private readonly feeds = new Map<string, LiveFeed>();

  feed(playbackId: string): LiveFeed {
    let feed = this.feeds.get(playbackId);
    if (!feed) {
      feed = new LiveFeed();
      this.feeds.set(playbackId, feed);
    }
    return feed;
  }

  deliver(playbackId: string, events: PlaybackEvent[]): void {
    this.feed(playbackId).push(events);
  }

  forget(playbackId: string): void {
    this.feeds.delete(playbackId);
  }
}
