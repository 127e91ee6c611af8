/**
 * Why a live watch stream (`GET /v1/recordings/:id/stream?follow=1`) ended, sent by the gateway
 * as an HTTP trailer after the last byte (issue #14). The body stays the recording, byte for
 * byte (FORMAT.md); the trailer tells the watcher what a closed stream cannot: the session
 * ended (and why), or the watch itself was ended — access taken away, the gateway stopping.
 */
export const WATCH_END_TRAILER = 'x-witness-watch-end';

export interface WatchEnd {
  kind: 'session-ended' | 'watch-ended';
  /** A sentence for the watcher. */
  message: string;
}

/** A header value carries Latin-1 only: the JSON is percent-encoded. */
export function encodeWatchEnd(end: WatchEnd): string {
  return encodeURIComponent(JSON.stringify(end));
}

/** Undefined for a missing or malformed trailer (an older gateway sends none). */
export function decodeWatchEnd(value: string | undefined): WatchEnd | undefined {
  if (value === undefined) return undefined;
  try {
    const parsed: unknown = JSON.parse(decodeURIComponent(value));
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'kind' in parsed &&
      (parsed.kind === 'session-ended' || parsed.kind === 'watch-ended') &&
      'message' in parsed &&
      typeof parsed.message === 'string'
    ) {
      return { kind: parsed.kind, message: parsed.message };
    }
  } catch {
    // fall through: not ours
  }
  return undefined;
}
