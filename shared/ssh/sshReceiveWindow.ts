/**
 * A smaller SSH receive window for one ssh2 client channel (interactive terminals).
 *
 * ssh2 1.17 grants every channel it opens a 2 MiB window and tops it back up to 2 MiB whenever
 * it falls to 1 MiB, and its channel streams buffer up to 2 MiB more while paused — there is no
 * option to change either. For a bulk transfer that is what keeps the pipe full; for a terminal
 * it means up to ~4 MiB of output per hop is already on its way when the user types, and the
 * echo of a key waits behind all of it (issue #5: a `seq` flood delayed echo by 1.5-2 s).
 *
 * `openWithReceiveWindow` opens a channel through ssh2 as usual, but:
 * - the CHANNEL_OPEN it sends offers `windowBytes` instead of 2 MiB (Protocol#session is
 *   swapped for the duration of the synchronous open call only);
 * - window adjusts for that channel are clamped so the peer may have at most `windowBytes`
 *   unread bytes outstanding, and one is sent only once half of that has been consumed (not a
 *   WINDOW_ADJUST per 32 KiB packet);
 * - the channel's stdout/stderr streams buffer at most `bufferBytes` before ssh2 stops
 *   re-opening the window (ssh2 grants more only while `push()` returns true), so a paused
 *   consumer holds at most `bufferBytes` + `windowBytes` (+ one packet) on this hop.
 *
 * Like gateway/proxy/ssh/serverChannelWindowing.ts it relies on ssh2 internals (named in
 * `ProtocolInternals` / `ChannelInternals`); sshReceiveWindow.test.ts checks the bound against a
 * real sshd, so an ssh2 upgrade that changes them fails there. Other channels on the same
 * connection keep ssh2's defaults.
 */
import type { Client, ClientChannel } from 'ssh2';

/** ssh2's MAX_WINDOW (lib/Channel.js): what it believes it granted after each adjust. */
const SSH2_MAX_WINDOW = 2 * 1024 * 1024;

export interface ReceiveWindow {
  /** Unread bytes the peer may have outstanding on this channel. */
  windowBytes: number;
  /** Bytes each of stdout / stderr may buffer while paused before the window stops opening. */
  bufferBytes: number;
}

type SessionFn = (chan: number, initWindow: number, maxPacket: number) => void;
type AdjustFn = (remoteId: number, amount: number) => void;

interface ProtocolInternals {
  session: SessionFn;
  channelWindowAdjust: AdjustFn;
}

interface ChannelInternals {
  incoming: { id: number; window: number };
  outgoing: { id: number };
  _readableState?: { highWaterMark: number };
  stderr?: { _readableState?: { highWaterMark: number } };
  _client?: { _protocol?: ProtocolInternals };
}

/** Per protocol: remote channel id → the limit applied to it. */
const limited = new WeakMap<
  ProtocolInternals,
  Map<number, { channel: ChannelInternals; window: number }>
>();

function protocolOf(client: Client): ProtocolInternals | undefined {
  const protocol = (client as unknown as { _protocol?: ProtocolInternals })._protocol;
  return protocol && typeof protocol.session === 'function' ? protocol : undefined;
}

/**
 * Runs `open` (which must call client.shell / client.exec synchronously) so that the channel it
 * opens offers the small window; call `limitReceiveWindow` on the channel once it exists.
 */
export function openWithReceiveWindow(
  client: Client,
  window: ReceiveWindow,
  open: () => void,
): void {
  const protocol = protocolOf(client);
  if (!protocol) {
    open();
    return;
  }
  const original = protocol.session;
  let used = false;
  protocol.session = (chan, initWindow, maxPacket) => {
    if (used) return original.call(protocol, chan, initWindow, maxPacket);
    used = true;
    return original.call(protocol, chan, Math.min(initWindow, window.windowBytes), maxPacket);
  };
  try {
    open();
  } finally {
    protocol.session = original;
  }
}

/**
 * Applies the limit to a channel opened through `openWithReceiveWindow` (before ssh2 can have
 * re-opened its window, i.e. before 1 MiB arrived — always so in the open callback).
 */
export function limitReceiveWindow(channel: ClientChannel, window: ReceiveWindow): void {
  const internals = channel as unknown as ChannelInternals;
  const protocol = internals._client?._protocol;
  if (!protocol || typeof protocol.channelWindowAdjust !== 'function' || !internals.incoming)
    return;
  // ssh2 recorded the 2 MiB it normally offers; the peer was offered windowBytes.
  internals.incoming.window -= SSH2_MAX_WINDOW - window.windowBytes;
  if (internals._readableState) internals._readableState.highWaterMark = window.bufferBytes;
  if (internals.stderr?._readableState)
    internals.stderr._readableState.highWaterMark = window.bufferBytes;

  let channels = limited.get(protocol);
  if (!channels) {
    const byRemote = new Map<number, { channel: ChannelInternals; window: number }>();
    channels = byRemote;
    limited.set(protocol, byRemote);
    const adjust = protocol.channelWindowAdjust.bind(protocol);
    protocol.channelWindowAdjust = (remoteId, amount) => {
      const entry = byRemote.get(remoteId);
      if (!entry) return adjust(remoteId, amount);
      // ssh2 has just set incoming.window to its 2 MiB; what the peer really has left:
      const outstanding = SSH2_MAX_WINDOW - amount;
      const grant = entry.window - outstanding;
      if (grant < entry.window / 2) {
        entry.channel.incoming.window = outstanding;
        return;
      }
      entry.channel.incoming.window = entry.window;
      adjust(remoteId, grant);
    };
  }
  const remoteId = internals.outgoing.id;
  channels.set(remoteId, { channel: internals, window: window.windowBytes });
  channel.once('close', () => channels.delete(remoteId));
}
