/**
 * A TCP relay on loopback that can slow what the server sends (the desktop's downloads) to a
 * set rate, so an e2e test can watch a recording while its download is still under way —
 * on loopback a 30 MiB download ends before a person (or Playwright) could look. Bytes pass
 * through unchanged (TLS end to end, the gateway's pinned certificate is still the one seen).
 */
import net from 'node:net';

export interface ThrottledProxy {
  url: string;
  /** Bytes per second from the server to each client; null passes them at full speed. */
  setRate(bytesPerSecond: number | null): void;
  close(): Promise<void>;
}

export async function startThrottledProxy(target: URL): Promise<ThrottledProxy> {
  let rate: number | null = null;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      client.write(chunk);
      if (rate === null) return;
      // Paced per chunk: the next read waits as long as this chunk takes at the rate.
      upstream.pause();
      setTimeout(() => upstream.resume(), (chunk.length / rate) * 1000);
    });
    upstream.on('end', () => client.end());
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `${target.protocol}//127.0.0.1:${port}`,
    setRate(bytesPerSecond) {
      rate = bytesPerSecond;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
