/**
 * Named prepared statements and portals are remembered per connection, but a client may name
 * as many as it likes: the trackers (the gateway's live proxy and the recording reader) keep
 * only the newest `limit` of them, in insertion order, so memory stays bounded.
 */

/** Sets `key` (as the newest entry), forgetting the oldest entry beyond `limit`. */
export function remember<T>(map: Map<string, T>, key: string, limit: number, value: T): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > limit) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}
