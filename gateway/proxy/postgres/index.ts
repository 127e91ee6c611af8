/**
 * What the composition root (gateway/index.ts) calls to run the PostgreSQL side of the gateway.
 *
 *   const scramTickets = new ScramTicketCache(clock);
 *   rememberPostgresTickets(services.sessions, scramTickets);   // lets clients use SCRAM
 *   const postgres = await startPostgresGateway({
 *     listen: { host: '127.0.0.1', port: 5433 },   // from `serve --postgres HOST:PORT`; 0 = any
 *     tls: { certChainPem: dataDir.serverChainPem, keyPem: dataDir.serverKeyPem },
 *     clientCaPem: dataDir.clientCaCertPem,  // database certificates (`witness db login`)
 *     sessions: services.sessions,        // redeems tickets, terminates refused sessions
 *     resources: services.resources,      // target + decrypted credential
 *     store: services.store,              // grants (policy), live-session polling
 *     recorders,                          // the RecorderFactory (gateway/recorder)
 *     scramTickets, liveSessions, clock, log,
 *   });
 *   listeners.postgres = postgres.address;          // → endpoint of POST /v1/sessions
 *   …
 *   await postgres.close();   // before closing the store: ends live sessions with a notice
 *
 * Pass `liveSessions` to share one registry with the SSH proxy; otherwise one is made.
 */
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../logger.ts';
import { RefusalCounts } from '../../policy/refusalCounts.ts';
import { loadSqlParser } from '../../policy/sqlParse.ts';
import type { RecorderFactory } from '../../recorder/sessionRecorder.ts';
import type { ResourceCatalog } from '../../resources/resourceCatalog.ts';
import { LiveSessions } from '../../sessions/liveSessions.ts';
import type { SessionService } from '../../sessions/sessionService.ts';
import type { GrantStore } from '../../store/catalogStore.ts';
import type { SessionEnder } from '../../store/sessionStore.ts';
import type { ClientAuthMethod } from './clientLogin.ts';
import { startPostgresListener } from './postgresListener.ts';
import type { ScramTicketCache } from './scramTickets.ts';

export type { ClientAuthMethod } from './clientLogin.ts';
export { rememberPostgresTickets, ScramTicketCache } from './scramTickets.ts';

export interface PostgresGatewayConfig {
  listen: { host: string; port: number };
  /** The gateway's TLS server certificate chain and key (data directory). */
  tls: { certChainPem: string; keyPem: string };
  /** The CA of database client certificates (issue #15); none: tickets only. */
  clientCaPem?: string;
  sessions: Pick<SessionService, 'redeemTicket' | 'terminate' | 'openCertificateSession'>;
  resources: Pick<ResourceCatalog, 'credentialFor'>;
  store: SessionEnder & Pick<GrantStore, 'getGrant'>;
  recorders: RecorderFactory;
  clock: Clock;
  log: Logger;
  /** Shared live-session registry; default: a new one over `store`. */
  liveSessions?: LiveSessions;
  /**
   * How clients prove their ticket: 'scram-sha-256' (default) asks for SCRAM when this process
   * issued the ticket (see `scramTickets`) and for the cleartext password — over TLS — when it
   * did not; 'password' always asks for the cleartext password.
   */
  clientAuth?: ClientAuthMethod;
  /** Tickets this process issued (see scramTickets.ts); without it clients use cleartext. */
  scramTickets?: ScramTicketCache;
  /** Refuse clients without TLS (default true). */
  requireTls?: boolean;
  loginTimeoutMs?: number;
  upstreamTimeoutMs?: number;
  maxClientMessageBytes?: number;
  maxServerMessageBytes?: number;
  highWaterMark?: number;
}

export interface RunningPostgresGateway {
  /** Where the listener is bound (the real port when 0 was asked). */
  address: { host: string; port: number };
  liveSessions: LiveSessions;
  /** Statements refused by a policy rule, per resource and rule. */
  refusals: RefusalCounts;
  /** Connections open now (logging in or proxied). */
  connectionCount(): number;
  /** Stops listening, ends live PostgreSQL sessions with a notice, and waits for them to close. */
  close(): Promise<void>;
}

export async function startPostgresGateway(
  config: PostgresGatewayConfig,
): Promise<RunningPostgresGateway> {
  const ownsRegistry = config.liveSessions === undefined;
  const liveSessions =
    config.liveSessions ??
    new LiveSessions({ store: config.store, clock: config.clock, log: config.log });
  // PostgreSQL's parser (WebAssembly) is loaded once, before the first session needs it.
  const sqlParser = await loadSqlParser();
  const refusals = new RefusalCounts();
  const listener = await startPostgresListener({
    sqlParser,
    refusals,
    host: config.listen.host,
    port: config.listen.port,
    tls: config.tls,
    ...(config.clientCaPem !== undefined && { clientCaPem: config.clientCaPem }),
    sessions: config.sessions,
    resources: config.resources,
    store: config.store,
    recorders: config.recorders,
    liveSessions,
    log: config.log,
    ...(config.clientAuth !== undefined && { clientAuth: config.clientAuth }),
    ...(config.scramTickets !== undefined && { scramTickets: config.scramTickets }),
    ...(config.requireTls !== undefined && { requireTls: config.requireTls }),
    ...(config.loginTimeoutMs !== undefined && { loginTimeoutMs: config.loginTimeoutMs }),
    ...(config.upstreamTimeoutMs !== undefined && { upstreamTimeoutMs: config.upstreamTimeoutMs }),
    ...(config.maxClientMessageBytes !== undefined && {
      maxClientMessageBytes: config.maxClientMessageBytes,
    }),
    ...(config.maxServerMessageBytes !== undefined && {
      maxServerMessageBytes: config.maxServerMessageBytes,
    }),
    ...(config.highWaterMark !== undefined && { highWaterMark: config.highWaterMark }),
  });
  return {
    address: { host: listener.host, port: listener.port },
    liveSessions,
    refusals,
    connectionCount: () => listener.connectionCount(),
    close: async () => {
      await listener.close();
      if (ownsRegistry) liveSessions.shutdown();
    },
  };
}
