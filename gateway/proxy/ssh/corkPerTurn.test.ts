import { once } from 'node:events';
import {
  type AddressInfo,
  createConnection,
  createServer,
  type Server,
  type Socket,
} from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { corkWritesPerTurn } from './corkPerTurn.ts';

/** A real loopback connection: the corked side and the bytes its peer received. */
async function connected(): Promise<{ socket: Socket; received: () => Buffer; server: Server }> {
  const chunks: Buffer[] = [];
  const server = createServer((peer) => peer.on('data', (chunk: Buffer) => chunks.push(chunk)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = createConnection((server.address() as AddressInfo).port, '127.0.0.1');
  await once(socket, 'connect');
  return { socket, received: () => Buffer.concat(chunks), server };
}

const open: Array<{ socket: Socket; server: Server }> = [];
afterEach(() => {
  for (const { socket, server } of open.splice(0)) {
    socket.destroy();
    server.close();
  }
});

describe('corkWritesPerTurn', () => {
  it("holds a turn's writes and sends them together, in order, once the turn is done", async () => {
    const connection = await connected();
    open.push(connection);
    const { socket, received } = connection;
    corkWritesPerTurn(socket);
    const packets = [Buffer.alloc(32 * 1024, 1), Buffer.alloc(32 * 1024, 2), Buffer.from('end')];

    for (const packet of packets) socket.write(packet);
    // Nothing reached the kernel yet: all three wait in the socket, corked.
    expect(socket.writableLength).toBe(64 * 1024 + 3);
    expect(socket.writableCorked).toBe(1);

    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.writableCorked).toBe(0);

    const expected = Buffer.concat(packets);
    for (let waited = 0; received().length < expected.length && waited < 2000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(received().equals(expected)).toBe(true);
  });

  it('uncorks after the promise callbacks of the turn, so writes they make join the same batch', async () => {
    const connection = await connected();
    open.push(connection);
    const { socket } = connection;
    corkWritesPerTurn(socket);

    socket.write('a');
    await Promise.resolve();
    socket.write('b'); // a later microtask of the same turn: still corked
    expect(socket.writableCorked).toBe(1);
    expect(socket.writableLength).toBe(2);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.writableCorked).toBe(0);
    // A write in a later turn corks anew.
    socket.write('c');
    expect(socket.writableCorked).toBe(1);
  });

  it('leaves a destroyed socket alone', async () => {
    const connection = await connected();
    open.push(connection);
    const { socket } = connection;
    corkWritesPerTurn(socket);
    socket.destroy();
    socket.on('error', () => {});
    socket.write('late');
    expect(socket.writableCorked).toBe(0);
  });
});
