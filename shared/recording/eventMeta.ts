/**
 * Reading the JSON payloads of recorded events (FORMAT.md: meta `m`, resize `r`, query `q`, …)
 * and classifying channels by their meta events. Shared by the `.cast` export, the query log and
 * the desktop's replay index, so all three agree on which channels are terminals.
 */

/** The event's data as JSON, or undefined when it is not valid JSON (never throws). */
export function parseEventJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
}

/** The `type` of a meta event's payload, when it has one. */
export function metaType(meta: unknown): string | undefined {
  if (typeof meta !== 'object' || meta === null) return undefined;
  const type = (meta as { type?: unknown }).type;
  return typeof type === 'string' ? type : undefined;
}

/** sftp and other subsystems carry a protocol, direct-tcpip channels a TCP stream. */
export function isNonTerminalMeta(meta: unknown): boolean {
  const type = metaType(meta);
  if (type === 'subsystem' || type === 'direct-tcpip') return true;
  return (
    type === 'channel-open' &&
    (meta as { channelType?: unknown }).channelType !== undefined &&
    (meta as { channelType?: unknown }).channelType !== 'session'
  );
}
