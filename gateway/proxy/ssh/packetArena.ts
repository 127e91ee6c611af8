import crypto from 'node:crypto';
import type { Socket } from 'node:net';

/**
 * Builds a client connection's large outgoing SSH packets in one reused block of memory.
 *
 * ssh2 gives every packet it sends a buffer of its own (`allocPacket`: `Buffer.allocUnsafe`),
 * so a bulk channel allocates a fresh ~32 KiB ArrayBuffer per packet — malloc, a V8 backing
 * store, external memory that sets off scavenges — and copies the payload into memory that is
 * cold. Those allocations were what the gateway's remaining scavenges freed (issue #11, DESIGN
 * "SSH relay cost per byte"). Here packets are slices of one ring per connection instead.
 *
 * When a slice may be used again: every packet ssh2 builds is encrypted and handed to the
 * socket (`socket.write`) synchronously, before it builds the next one (`Protocol.channelData`
 * → `sendPacket` → `cipher.encrypt` → `onWrite`; while a key exchange runs, ssh2 queues
 * payloads in buffers of its own and builds their packets only once the new keys are in).
 * A socket completes its writes in order, so of the bytes handed to it, all but the last
 * `writableLength` are done — taken by the kernel, no pointer into them left in libuv or in
 * the stream's buffer. A slice is free once the bytes handed to the socket up to and including
 * its packet are done. Bytes handed to the socket are counted by wrapping `socket.write`
 * (bytes it cannot count are left out, which only makes slices free later, never sooner).
 * When the ring has no room (a slow client: the socket queues more than the ring), a packet
 * gets a buffer of its own, as without the arena; the ring never grows.
 *
 * Rekeys: ssh2 replaces the cipher object at every NEWKEYS (`protocol._cipher = …`); the
 * property is turned into an accessor so each new cipher gets the arena too. Only ciphers whose
 * packet layout is known here are served (the AES-GCM and chacha20-poly1305 bindings the
 * listener offers); any other keeps ssh2's own allocation.
 */

/**
 * One ring per connection, taken at its first large packet (interactive sessions never do):
 * 16 packets of 32 KiB, about what one turn of a bulk channel sends.
 */
export const ARENA_BYTES = 1024 * 1024;
/** Smaller packets come from Node's shared 8 KiB pool already, which costs no allocation. */
export const ARENA_MIN_PACKET = 4 * 1024;

interface PacketLayout {
  /** Padding makes `padding length ‖ payload ‖ padding` a multiple of this (RFC 4253 §6). */
  block: number;
  /** Authentication tag the cipher writes after the packet. */
  tag: number;
}

/**
 * Packet layouts of ssh2's cipher classes that need no separate MAC pass: both leave the
 * length field out of the padded size (RFC 5647 §7.2, PROTOCOL.chacha20poly1305) and put a
 * 16-byte tag after the packet. Keyed by class name, checked by packetArena.test.ts against
 * ssh2's own allocPacket, so an ssh2 that renames or changes them fails a test rather than
 * silently building packets that differ.
 */
const LAYOUTS: ReadonlyMap<string, PacketLayout> = new Map([
  ['AESGCMCipherBinding', { block: 16, tag: 16 }],
  ['ChaChaPolyCipherBinding', { block: 8, tag: 16 }],
]);

interface OutboundCipher {
  allocPacket(payloadLength: number): Buffer;
}

export class PacketArena {
  /** Bytes handed to the socket so far (see buildPacketsInArena). */
  handedToSocket = 0;
  /** Packets built in the ring, and packets that found no room there. */
  served = 0;
  fallbacks = 0;
  private block: Buffer | undefined;
  /** Slices in use, oldest first: start, end (offsets in the block) and `handedToSocket` once written. */
  private slices: number[] = [];
  private first = 0;
  /** The newest slice's packet has not been handed to the socket yet when the next is taken. */
  private newestPending = false;

  constructor(
    private readonly socket: Pick<Socket, 'destroyed' | 'writableLength'>,
    private readonly blockBytes = ARENA_BYTES,
  ) {}

  /** `length` bytes nothing else references until the socket has written them. */
  take(length: number): Buffer {
    if (this.newestPending) {
      // Taken after the previous slice's packet was handed to the socket (see the class note).
      this.slices[this.slices.length - 1] = this.handedToSocket;
      this.newestPending = false;
    }
    if (length > this.blockBytes || this.socket.destroyed) return this.fallback(length);
    this.release();
    this.block ??= Buffer.allocUnsafeSlow(this.blockBytes);
    const block = this.block;
    const start = this.place(length);
    if (start < 0) return this.fallback(length);
    // Slices start on cache lines: the payload copy and the cipher then run aligned.
    this.slices.push(start, Math.min(block.length, (start + length + 63) & ~63), 0);
    this.newestPending = true;
    this.served++;
    return block.subarray(start, start + length);
  }

  /** Drops the oldest slices whose bytes the socket has written. */
  private release(): void {
    const done = this.handedToSocket - this.socket.writableLength;
    const slices = this.slices;
    let first = this.first;
    while (first < slices.length && slices[first + 2]! <= done) first += 3;
    if (first === slices.length) {
      slices.length = 0;
      first = 0;
    } else if (first >= 3 * 64) {
      // A ring that never empties (a steadily slow client) must not grow its list.
      slices.splice(0, first);
      first = 0;
    }
    this.first = first;
  }

  /** Where `length` bytes fit after the newest slice (wrapping to the start), or -1. */
  private place(length: number): number {
    const slices = this.slices;
    if (slices.length === 0) return 0;
    const oldestStart = slices[this.first]!;
    const newestStart = slices[slices.length - 3]!;
    const newestEnd = slices[slices.length - 2]!;
    if (newestStart >= oldestStart) {
      // In use: [oldestStart, newestEnd).
      if (newestEnd + length <= this.blockBytes) return newestEnd;
      return length <= oldestStart ? 0 : -1;
    }
    // Wrapped; in use: [oldestStart, end of block) and [0, newestEnd).
    return newestEnd + length <= oldestStart ? newestEnd : -1;
  }

  private fallback(length: number): Buffer {
    this.fallbacks++;
    return Buffer.allocUnsafe(length);
  }

  /** ssh2's allocPacket for `layout`, with the packet's memory taken from the arena. */
  allocPacket(layout: PacketLayout, payloadLength: number): Buffer {
    let packetLength = 4 + 1 + payloadLength;
    let padding = layout.block - ((packetLength - 4) & (layout.block - 1));
    if (padding < 4) padding += layout.block;
    packetLength += padding;
    const packet = this.take(packetLength + layout.tag);
    packet.writeUInt32BE(packetLength - 4, 0);
    packet[4] = padding;
    // Looked up per call: gateway/pooledRandom.ts replaces it at startup, as ssh2 sees it.
    crypto.randomFillSync(packet, 5 + payloadLength, padding);
    return packet;
  }

  /** Serves `cipher`'s large packets from the arena if its layout is known; returns it. */
  adopt<T>(cipher: T): T {
    const name = (cipher as { constructor?: { name?: string } } | null)?.constructor?.name;
    const layout = name === undefined ? undefined : LAYOUTS.get(name);
    if (layout === undefined) return cipher;
    const outbound = cipher as T & OutboundCipher;
    const own = outbound.allocPacket;
    outbound.allocPacket = (payloadLength: number) =>
      payloadLength < ARENA_MIN_PACKET
        ? own.call(outbound, payloadLength)
        : this.allocPacket(layout, payloadLength);
    return cipher;
  }
}

/**
 * Makes the ssh2 connection `connection` (a server-side client, or a Client: anything with an
 * ssh2 `_protocol`) build its large packets in an arena tied to `socket`, the socket its
 * packets are written to — now and after every rekey. Returns the arena, or undefined when
 * the connection has no protocol object to hook (another ssh2 version: nothing changes).
 */
export function buildPacketsInArena(connection: object, socket: Socket): PacketArena | undefined {
  const protocol = (connection as { _protocol?: { _cipher?: unknown } })._protocol;
  if (protocol === undefined || protocol === null || !('_cipher' in protocol)) return undefined;
  const arena = new PacketArena(socket);
  const write = socket.write;
  socket.write = function countedWrite(this: Socket, ...args: Parameters<Socket['write']>) {
    const chunk: unknown = args[0];
    // ssh2 writes Buffers only; anything else is not counted (slices then free later).
    if (chunk instanceof Uint8Array) arena.handedToSocket += chunk.length;
    return write.apply(this, args);
  } as Socket['write'];
  let cipher = arena.adopt(protocol._cipher);
  Object.defineProperty(protocol, '_cipher', {
    configurable: true,
    enumerable: true,
    get: () => cipher,
    set: (next: unknown) => {
      cipher = arena.adopt(next);
    },
  });
  return arena;
}
