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
 * Security: the listener has no login of its own. On TCP it accepts only loopback addresses, so
 * anyone who can connect to the port on this machine acts as the signed-in person — as with an
 * SSH port forward. With `socketDir` it is a Unix-domain socket (`DIR/.s.PGSQL.PORT`, libpq's
 * naming, so `host=DIR port=PORT` finds it) that only the owner of DIR's permissions can reach,
 * and each hop costs less than loopback TCP. The leg to the gateway is always TLS, verified
 * against the pinned CA.
 */
import { lstat } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import {
  serveTunnelConnection,
  TunnelCancelKeys,
  type TunnelConnectionEvent,
  type TunnelSessionSource,
} from './tunnelConnection.ts';

export type { TunnelConnectionEvent, TunnelSessionSource } from './tunnelConnection.ts';

export interface PostgresTunnelOptions {
  /** The PostgreSQL resource every connection opens a session to. */
  resource: { id: string; name: string };
  /** Creates one session per accepted connection; a signed-in GatewayClient fits. */
  sessions: TunnelSessionSource;
  /** The gateway CA pinned in the profile (PEM). */
  caPem: string;
  /** A loopback address: 127.0.0.1 (default) or ::1. */
  host?: string;
  /** 0 (default) picks a free port; with `socketDir`, the number in the socket's name (5432). */
  port?: number;
  /**
   * Listen on the Unix-domain socket `socketDir/.s.PGSQL.<port>` instead of TCP. The directory
   * must exist and should be private (0700): its permissions are the tunnel's access control.
   */
  socketDir?: string;
  /** From accepting a connection to its ReadyForQuery (default 30 s). */
  setupTimeoutMs?: number;
  /** One line per connection opened, refused or closed. */
  log?: (line: string) => void;
  /** Each connection's session created, connected, closed or refused (the desktop's panel). */
  onConnectionEvent?: (event: TunnelConnectionEvent) => void;
}

export interface PostgresTunnel {
  /** 127.0.0.1 / ::1, or the socket directory (what libpq's `host` takes for either). */
  readonly host: string;
  readonly port: number;
  /** The Unix-domain socket's path, when listening on one. */
  readonly socketPath: string | undefined;
  /** Client connections currently open (being set up or relaying). */
  readonly connections: number;
  /**
   * Stops accepting, closes every open connection, resolves once all are gone, with the ids of
   * the sessions that were open or being set up then: the gateway ends those as it sees their
   * connections close, but a setup cut short may leave a session it never connected, so the
   * owner ends them all explicitly (`witness tunnel`: POST /v1/sessions/:id/terminate).
   */
  close(): Promise<string[]>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1']);

export async function startPostgresTunnel(options: PostgresTunnelOptions): Promise<PostgresTunnel> {
  const host = options.socketDir ?? options.host ?? '127.0.0.1';
  const socketPath =
    options.socketDir === undefined
      ? undefined
      : path.join(options.socketDir, `.s.PGSQL.${options.port || 5432}`);
  if (socketPath !== undefined) {
    const existing = await lstat(socketPath).catch(() => undefined);
    if (existing) {
      throw Object.assign(new Error(`${socketPath} already exists: is another tunnel using it?`), {
        code: 'EADDRINUSE',
      });
    }
  } else if (!LOOPBACK.has(host)) {
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
    openSessions: new Set<string>(),
    ...(options.onConnectionEvent && { onEvent: options.onConnectionEvent }),
  };
  const server: Server = createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const serving = serveTunnelConnection(socket, context).finally(() => served.delete(serving));
    served.add(serving);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const listening = () => {
      server.off('error', reject);
      resolve();
    };
    if (socketPath !== undefined) server.listen(socketPath, listening);
    else server.listen(options.port ?? 0, host, listening);
  });
  // Later accept errors (EMFILE) must not end the process; the listener keeps serving.
  server.on('error', (error) => log(`listener error: ${error.message}`));
  const address = server.address();
  if (address === null) throw new Error('the tunnel has no address');
  return {
    host,
    port: typeof address === 'string' ? options.port || 5432 : address.port,
    socketPath,
    get connections() {
      return sockets.size;
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Relaying sessions leave the set as their sockets close below; they are ended too.
      const open = new Set(context.openSessions);
      for (const socket of sockets) socket.destroy();
      await closed;
      await Promise.allSettled([...served]);
      for (const id of context.openSessions) open.add(id);
      context.openSessions.clear();
      return [...open];
    },
  };
}
