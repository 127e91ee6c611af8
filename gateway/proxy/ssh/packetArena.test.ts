/**
 * The packet arena against ssh2 itself: the packets it builds have ssh2's own layout, and a
 * real ssh2 Client receives every byte of a bulk transfer intact through it — with the client
 * reading slowly (the socket keeps packets queued, so blocks must not be reused under them) and
 * with key exchanges in the middle (ssh2 replaces the cipher object at each).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import ssh2, { type CipherAlgorithm, type Client, type Connection } from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../../shared/ssh/sshKeyPair.ts';
import { AES_GCM_CIPHERS } from './cipherPreference.ts';
import { corkWritesPerTurn } from './corkPerTurn.ts';
import { ARENA_MIN_PACKET, buildPacketsInArena, PacketArena } from './packetArena.ts';

const hostKey = generateEd25519KeyPair().private;

interface SshCipherInfo {
  keyLen: number;
  ivLen: number;
}
interface OutboundCipher {
  allocPacket(payloadLength: number): Buffer;
  encrypt(packet: Buffer): void;
}
// ssh2's internal cipher factory: the classes whose layout the arena repeats.
const sshCrypto = createRequire(import.meta.url)('ssh2/lib/protocol/crypto.js') as {
  CIPHER_INFO: Record<string, SshCipherInfo>;
  createCipher(config: object): OutboundCipher;
  createDecipher(config: object): { decrypt(data: Buffer, p: number, length: number): void };
};

const OFFERED: CipherAlgorithm[] = [...AES_GCM_CIPHERS, 'chacha20-poly1305@openssh.com'];

function cipherPair(name: string, onWrite: (data: Buffer) => void, onPayload: (p: Buffer) => void) {
  const info = sshCrypto.CIPHER_INFO[name]!;
  const key = randomBytes(info.keyLen);
  const iv = info.ivLen ? randomBytes(info.ivLen) : undefined;
  const cipher = sshCrypto.createCipher({
    outbound: { onWrite, cipherInfo: info, cipherKey: key, cipherIV: iv, seqno: 0 },
  });
  const decipher = sshCrypto.createDecipher({
    inbound: {
      onPayload,
      decipherInfo: info,
      decipherKey: key,
      decipherIV: iv,
      seqno: 0,
    },
  });
  return { cipher, decipher };
}

/** A socket with nothing queued: the arena may start its block over at every packet. */
const idleSocket = { destroyed: false, writableLength: 0 } as Socket;

describe('PacketArena', () => {
  it.each(OFFERED)('builds %s packets with ssh2’s own layout, which decrypt', (name) => {
    const written: Buffer[] = [];
    const payloads: Buffer[] = [];
    const { cipher, decipher } = cipherPair(
      name,
      (data) => written.push(Buffer.from(data)),
      (payload) => {
        payloads.push(Buffer.from(payload));
      },
    );
    const own = cipher.allocPacket.bind(cipher);
    const arena = buildPacketsInArena({ _protocol: { _cipher: cipher } }, idleSocket)!;
    const sizes = [ARENA_MIN_PACKET, ARENA_MIN_PACKET + 1, 5000, 16_383, 32_768 + 9, 34_000];
    for (const size of sizes) {
      const theirs = own(size);
      const ours = cipher.allocPacket(size);
      expect(ours.length).toBe(theirs.length);
      // Length field and padding length; the padding itself is random in both.
      expect(ours.subarray(0, 5).equals(theirs.subarray(0, 5))).toBe(true);
      const payload = randomBytes(size);
      payload.copy(ours, 5);
      cipher.encrypt(ours);
    }
    // Small packets stay ssh2's own; the large ones all came from one reused block.
    const block = cipher.allocPacket(ARENA_MIN_PACKET).buffer;
    expect(cipher.allocPacket(100).buffer).not.toBe(block);
    expect(arena.served).toBe(sizes.length + 1);
    expect(arena.fallbacks).toBe(0);
    const wire = Buffer.concat(written);
    decipher.decrypt(wire, 0, wire.length);
    expect(payloads.map((p) => p.length)).toEqual(sizes);
  });

  it('leaves ciphers whose packet layout it does not know to ssh2', () => {
    const cipher = { allocPacket: (n: number) => Buffer.alloc(n + 5) };
    const own = cipher.allocPacket;
    buildPacketsInArena({ _protocol: { _cipher: cipher } }, idleSocket);
    expect(cipher.allocPacket).toBe(own);
  });

  it('uses a slice again only once the socket has written the bytes up to its packet', () => {
    const socket = { destroyed: false, writableLength: 0 };
    const arena = new PacketArena(socket, 4096);
    // What ssh2 does with each packet: hands it to the socket, which queues it.
    const send = (packet: Buffer) => {
      arena.handedToSocket += packet.length;
      socket.writableLength += packet.length;
      return packet;
    };
    const [a, b, c, d] = [1, 2, 3, 4].map(() => send(arena.take(1000)));
    // Back to back on cache lines while all are queued; the fifth finds no room.
    expect([a, b, c, d].map((p) => p!.byteOffset - a!.byteOffset)).toEqual([0, 1024, 2048, 3072]);
    const e = send(arena.take(1000));
    expect(e.buffer).not.toBe(a!.buffer);
    expect(arena.fallbacks).toBe(1);

    socket.writableLength -= 1000; // the kernel took the first packet
    const f = send(arena.take(1000));
    expect(f.buffer).toBe(a!.buffer);
    expect(f.byteOffset).toBe(a!.byteOffset);
    // b is still queued, and the ring has wrapped up to it.
    send(arena.take(1000));
    expect(arena.fallbacks).toBe(2);

    socket.writableLength = 0;
    const g = arena.take(4000);
    expect(g.buffer).toBe(a!.buffer);
    expect(g.byteOffset).toBe(a!.byteOffset);
    expect(arena.served).toBe(6);
  });
});

interface Harness {
  client: Client;
  serverConnection: () => Connection;
  arena: () => PacketArena;
  close(): Promise<void>;
}

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

/** An ssh2 server wired as the gateway's listener wires it (corked, arena); a client. */
async function start(cipher: CipherAlgorithm, output: Buffer): Promise<Harness> {
  let socket: Socket | undefined;
  let connection: Connection | undefined;
  let arena: PacketArena | undefined;
  const server = new ssh2.Server(
    { hostKeys: [hostKey], algorithms: { cipher: [cipher] } },
    (client) => {
      connection = client;
      arena = buildPacketsInArena(client, socket!);
      client.on('error', () => {});
      client.on('authentication', (ctx) => ctx.accept());
      client.on('session', (accept) => {
        accept().on('exec', (acceptExec) => {
          const channel = acceptExec();
          // As the relay forwards: a socket read's worth per turn, waiting while the
          // channel's buffer is full.
          void (async () => {
            for (let at = 0; at < output.length; at += 64 * 1024) {
              await new Promise((resolve) => setImmediate(resolve));
              if (!channel.write(output.subarray(at, at + 64 * 1024))) {
                await new Promise((resolve) => channel.once('drain', resolve));
              }
            }
            channel.exit(0);
            channel.end();
          })();
        });
      });
    },
  );
  const tcp = createServer((accepted) => {
    socket = accepted;
    corkWritesPerTurn(accepted);
    server.injectSocket(accepted);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    client.connect({
      host: '127.0.0.1',
      port: (tcp.address() as AddressInfo).port,
      username: 'test',
      password: 'test',
      algorithms: { cipher: [cipher] },
    });
  });
  return {
    client,
    serverConnection: () => connection!,
    arena: () => arena!,
    close: async () => {
      client.end();
      socket?.destroy();
      await new Promise((resolve) => tcp.close(resolve));
    },
  };
}

const digest = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('the arena on a real connection', () => {
  it.each(OFFERED)(
    'delivers a %s transfer intact across key exchanges and a slow reader',
    async (cipher) => {
      const output = randomBytes(6 * 1024 * 1024);
      harness = await start(cipher, output);
      const { client } = harness;
      const rekeyAt = [1, 2.5, 4].map((mib) => mib * 1024 * 1024);
      const servedAtRekey: number[] = [];
      const received = await new Promise<Buffer>((resolve, reject) => {
        client.exec('x', (error, channel) => {
          if (error) return reject(error);
          const chunks: Buffer[] = [];
          let bytes = 0;
          channel.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            bytes += chunk.length;
            if (rekeyAt[0] !== undefined && bytes >= rekeyAt[0]) {
              rekeyAt.shift();
              servedAtRekey.push(harness!.arena().served);
              // ssh2's Client cannot start one; OpenSSH's does in sshOpenssh.test.ts.
              harness!.serverConnection().rekey();
            }
            if (bytes > 1024 * 1024 && bytes < 3 * 1024 * 1024) {
              // A slow reader for a while: the server's socket keeps packets queued.
              channel.pause();
              setTimeout(() => channel.resume(), 1);
            }
          });
          channel.on('close', () => resolve(Buffer.concat(chunks)));
        });
      });
      expect(received.length).toBe(output.length);
      expect(digest(received)).toBe(digest(output));
      const arena = harness.arena();
      expect(servedAtRekey).toHaveLength(3);
      // The cipher of the last key exchange built packets in the arena too.
      expect(arena.served).toBeGreaterThan(servedAtRekey[2]!);
    },
    30_000,
  );
});
