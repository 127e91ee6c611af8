/**
 * The gateway's PostgreSQL listener: accepts TCP connections, runs each client's login
 * (clientLogin.ts), answers cancel requests with the target's real key, and starts one
 * PostgresSession per logged-in client.
 *
 * No client can bring the listener down or hold it: every socket has an 'error' handler,
 * silent peers meet the login deadline, and a protocol error ends only its own connection.
 */
import { X509Certificate } from 'node:crypto';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { createSecureContext } from 'node:tls';
import { postgresTargetSchema } from '../../../shared/api/apiSchemas.ts';
import type { Logger } from '../../logger.ts';
import type { RefusalCounts } from '../../policy/refusalCounts.ts';
import type { SqlParser } from '../../policy/sqlParse.ts';
import type { RecorderFactory } from '../../recorder/sessionRecorder.ts';
import type { ResourceCatalog } from '../../resources/resourceCatalog.ts';
import type { LiveSessions } from '../../sessions/liveSessions.ts';
import type { SessionService } from '../../sessions/sessionService.ts';
import type { GrantStore } from '../../store/catalogStore.ts';
import { CancelKeyRegistry } from './cancelKeys.ts';
import { type ClientAuthMethod, type LoginOutcome, loginClient } from './clientLogin.ts';
import { errorResponse, printable, SQLSTATE } from './errorResponses.ts';
import { PostgresSession } from './postgresSession.ts';
import type { ScramTicketCache } from './scramTickets.ts';
import { compileSessionPolicy } from './sessionPolicy.ts';
import type { PostgresTarget } from './upstream.ts';

export interface PostgresListenerConfig {
  /** Bind address; keep it 127.0.0.1 unless the gateway is meant to be reached from outside. */
  host: string;
  /** 0 picks a free port (see the returned `port`). */
  port: number;
  /** The gateway's server certificate chain and key (the API's, from the data directory). */
  tls: { certChainPem: string; keyPem: string };
  /**
   * The CA of database client certificates (`witness db login`, issue #15); without it the
   * listener asks for no certificate and only tickets log in.
   */
  clientCaPem?: string;
  sessions: Pick<SessionService, 'redeemTicket' | 'terminate' | 'openCertificateSession'>;
  resources: Pick<ResourceCatalog, 'credentialFor'>;
  /** Reads the session's grant (for its masking and guardrail rules). */
  store: Pick<GrantStore, 'getGrant'>;
  recorders: RecorderFactory;
  liveSessions: LiveSessions;
  log: Logger;
  /** PostgreSQL's parser, loaded once per process: every policy decision is made on its parse. */
  sqlParser: SqlParser;
  /** Refused statements, per resource and rule. */
  refusals: RefusalCounts;
  /** 'scram-sha-256' (default; for tickets this process issued) or 'password' (cleartext). */
  clientAuth?: ClientAuthMethod;
  scramTickets?: ScramTicketCache;
  /** Refuse clients that do not use TLS (default true; tests may turn it off). */
  requireTls?: boolean;
  /** Time from TCP connect to a redeemed ticket (default 60 s, PostgreSQL's authentication_timeout). */
  loginTimeoutMs?: number;
  /** Time to connect and log in to the target (default 15 s). */
  upstreamTimeoutMs?: number;
  /** Largest message accepted from a client (default: the codec's 64 MiB). */
  maxClientMessageBytes?: number;
  /** Largest message accepted from a target (default: the codec's 1 GiB). */
  maxServerMessageBytes?: number;
  /** Bytes allowed to wait per direction for the recorder or a slow reader (default 256 KiB). */
  highWaterMark?: number;
}

export interface RunningPostgresListener {
  host: string;
  port: number;
  /** Connections currently open (logging in or in a session). */
  connectionCount(): number;
  /** Stops accepting, ends every session with a notice, and waits for them to close. */
  close(): Promise<void>;
}

export async function startPostgresListener(
  config: PostgresListenerConfig,
): Promise<RunningPostgresListener> {
  const secureContext = createSecureContext({
    cert: config.tls.certChainPem,
    key: config.tls.keyPem,
    minVersion: 'TLSv1.2',
    // Only the client CA: a certificate the server CA signed is no database credential.
    ...(config.clientCaPem !== undefined && { ca: config.clientCaPem }),
  });
  const clientCa =
    config.clientCaPem !== undefined ? new X509Certificate(config.clientCaPem) : undefined;
  const cancelKeys = new CancelKeyRegistry();
  const logins = new Set<Socket>();
  const sessions = new Set<PostgresSession>();
  let closing: Promise<void> | undefined;

  const openSession = async (outcome: Extract<LoginOutcome, { kind: 'session' }>) => {
    const { session, resource, user } = outcome.redeemed;
    const refuse = async (message: string) => {
      config.log.info('postgres session refused', { sessionId: session.id, reason: message });
      await config.sessions.terminate(session.id, `refused at connect: ${message}`).catch(() => {});
      outcome.socket.end(
        errorResponse('FATAL', SQLSTATE.invalidAuthorization, printable(message)).bytes,
      );
      setTimeout(() => outcome.socket.destroy(), 1_000).unref();
    };
    if (closing) return refuse('The Witness gateway is shutting down; connect again shortly.');
    const parsed =
      resource.kind === 'postgres' ? postgresTargetSchema.safeParse(resource.target) : undefined;
    if (!parsed?.success) {
      return refuse(
        resource.kind === 'postgres'
          ? `The resource ${resource.name} has an invalid PostgreSQL target; an admin must fix it.`
          : `${resource.name} is a ${resource.kind} resource, not a PostgreSQL database — connect to it with the matching client.`,
      );
    }
    const grant = await config.store.getGrant(session.grantId).catch(() => undefined);
    const policy = compileSessionPolicy(
      config.sqlParser,
      resource.policy,
      ...(grant ? [grant.policy] : []),
    );
    if (policy.masker.unknownTypeNames.length > 0) {
      config.log.warn('masking rules name unknown types; they match nothing', {
        resource: resource.name,
        types: policy.masker.unknownTypeNames,
      });
    }
    const target: PostgresTarget = {
      name: resource.name,
      host: parsed.data.host,
      port: parsed.data.port,
      database: parsed.data.database,
      username: parsed.data.username,
      tlsMode: parsed.data.tlsMode,
      caPem: parsed.data.caPem,
    };
    const raw = outcome.socket;
    const proxied = new PostgresSession({
      client: {
        socket: raw,
        reader: outcome.reader,
        pending: outcome.pending,
        ip: raw.remoteAddress,
        port: raw.remotePort,
        application: outcome.parameters.get('application_name'),
        parameters: outcome.parameters,
      },
      session,
      resource,
      user,
      target,
      policy,
      recorders: config.recorders,
      resources: config.resources,
      liveSessions: config.liveSessions,
      cancelKeys,
      refusals: config.refusals,
      log: config.log,
      ...(config.upstreamTimeoutMs !== undefined && {
        upstreamTimeoutMs: config.upstreamTimeoutMs,
      }),
      ...(config.maxServerMessageBytes !== undefined && {
        maxServerMessageBytes: config.maxServerMessageBytes,
      }),
      ...(config.highWaterMark !== undefined && { highWaterMark: config.highWaterMark }),
    });
    sessions.add(proxied);
    void proxied.closed.then(() => sessions.delete(proxied));
    await proxied.start();
  };

  const server = createServer((socket) => {
    socket.setNoDelay(true);
    // Finds clients that vanished without closing (a laptop lid, a dropped VPN).
    socket.setKeepAlive(true, 60_000);
    socket.on('error', (error: Error) =>
      config.log.info('postgres client socket error', { error: error.message }),
    );
    logins.add(socket);
    void loginClient(socket, {
      secureContext,
      clientCa,
      sessions: config.sessions,
      log: config.log,
      clientAuth: config.clientAuth ?? 'scram-sha-256',
      scramTickets: config.scramTickets,
      requireTls: config.requireTls ?? true,
      loginTimeoutMs: config.loginTimeoutMs ?? 60_000,
      maxClientMessageBytes: config.maxClientMessageBytes,
    })
      .then(async (outcome) => {
        logins.delete(socket);
        switch (outcome.kind) {
          case 'cancel':
            if (!cancelKeys.cancel(outcome.processId, outcome.secretKey)) {
              // As PostgreSQL: an unknown key gets no answer, so keys cannot be probed.
              config.log.info('postgres cancel request with an unknown key');
            }
            return;
          case 'session':
            await openSession(outcome);
            return;
          case 'closed':
            return;
        }
      })
      .catch((error: unknown) => {
        logins.delete(socket);
        config.log.error('postgres connection failed', { error: String(error) });
        socket.destroy();
      });
  });
  server.on('error', (error: Error) =>
    config.log.error('postgres listener error', { error: String(error) }),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  config.log.info('postgres listener started', { host: address.address, port: address.port });

  return {
    host: address.address,
    port: address.port,
    connectionCount: () => logins.size + sessions.size,
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const socket of logins) socket.destroy();
        logins.clear();
        for (const session of sessions) session.end({ kind: 'shutdown' });
        await Promise.race([
          Promise.all([...sessions].map((session) => session.closed)),
          new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
        ]);
        await stopped;
      })();
      return closing;
    },
  };
}
