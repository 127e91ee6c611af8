import { describe, expect, it } from 'vitest';
import type { PlaybackEvent } from '../../../main/ipc/contract.ts';
import { LiveFeed, LiveRouter } from './liveFeed.ts';

const ev = (seq: number): PlaybackEvent => ({ seq, t: seq * 10, kind: 'output', data: `${seq}` });

describe('LiveFeed', () => {
  it('holds events until subscribed, then passes them through in order', () => {
    const feed = new LiveFeed();
    feed.push([ev(1), ev(2)]);
    const got: number[] = [];
    const off = feed.subscribe((events) => got.push(...events.map((e) => e.seq)));
    feed.push([ev(3)]);
    expect(got).toEqual([1, 2, 3]);
    off();
    feed.push([ev(4)]);
    expect(got).toEqual([1, 2, 3]);
    feed.subscribe((events) => got.push(...events.map((e) => e.seq)));
    expect(got).toEqual([1, 2, 3, 4]);
  });
});

describe('LiveRouter', () => {
  it('keeps watches apart, including events that came before the watch answered', () => {
    const router = new LiveRouter();
    router.deliver('p1', [ev(1)]);
    router.deliver('p2', [ev(9)]);
    const got: number[] = [];
    router.feed('p1').subscribe((events) => got.push(...events.map((e) => e.seq)));
    router.deliver('p1', [ev(2)]);
    expect(got).toEqual([1, 2]);
  });
});
