/**
 * A local PostgreSQL tunnel for one resource (DESIGN.md "Native tools"): a TCP listener on
 * loopback that any PostgreSQL client — psql, pgbench, a GUI, an ORM — connects to without a
 * password, and that opens a fresh gateway session (single-use ticket) for every connection it
 * accepts. A gateway ticket is the password of exactly one connection, while most tools open
 * several connections with one password (pgbench: a setup connection, then its clients); the
 * tunnel is what lets them work unchanged. Every connection is its own recorded session.
 *
 * Used by `witness tunnel` (cli/tunnelCommand.ts); written so the desktop can open tunnels
 * with the same call: it needs only a session source (a signed-in GatewayClient) and the
 * pinned CA.
 *
 * Security: the listener accepts only loopback addresses and has no login of its own, so anyone
 * who can connect to the port on this machine acts as the signed-in person — as with an SSH
 * port forward. The leg to the gateway is TLS, verified against the pinned CA.
 */
import { createServer, type Server, type Socket } from 'node:net';
import {
  serveTunnelConnection,
  TunnelCancelKeys,
  type TunnelSessionSource,
} from './tunnelConnection.ts';

export type { TunnelSessionSource } from './tunnelConnection.ts';

export interface PostgresTunnelOptions {
  /** The PostgreSQL resource every connection opens a session to. */
  resource: { id: string; name: string };
  /** Creates one session per accepted connection; a signed-in GatewayClient fits. */
  sessions: TunnelSessionSource;
  /** The gateway CA pinned in the profile (PEM). */
  caPem: string;
  /** A loopback address: 127.0.0.1 (default) or ::1. */
  host?: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** From accepting a connection to its ReadyForQuery (default 30 s). */
  setupTimeoutMs?: number;
  /** One line per connection opened, refused or closed. */
  log?: (line: string) => void;
}

export interface PostgresTunnel {
  readonly host: string;
  readonly port: number;
  /** Client connections currently open (being set up or relaying). */
  readonly connections: number;
  /** Stops accepting, closes every open connection, resolves once all are gone. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1']);

export async function startPostgresTunnel(options: PostgresTunnelOptions): Promise<PostgresTunnel> {
  const host = options.host ?? '127.0.0.1';
  if (!LOOPBACK.has(host)) {
    throw new Error(
      `The tunnel listens on loopback only (127.0.0.1 or ::1), not ${host}: it has no login of its own`,
    );
  }
  const log = options.log ?? (() => {});
  const sockets = new Set<Socket>();
  const served = new Set<Promise<void>>();
  const context = {
    resource: options.resource,
    sessions: options.sessions,
    caPem: options.caPem,
    setupTimeoutMs: options.setupTimeoutMs ?? 30_000,
    cancelKeys: new TunnelCancelKeys(),
    log,
  };
  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const serving = serveTunnelConnection(socket, context).finally(() => served.delete(serving));
    served.add(serving);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Later accept errors (EMFILE) must not end the process; the listener keeps serving.
  server.on('error', (error) => log(`listener error: ${error.message}`));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    host,
    port: address.port,
    get connections() {
      return sockets.size;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
      await Promise.allSettled([...served]);
    },
  };
}
