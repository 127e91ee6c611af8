/**
 * The protocols the gateway proxies, registered in one place: one module per entry of the
 * shared protocol list (shared/api/apiSchemas.ts `PROTOCOLS`), each starting its listener —
 * login, upstream, policy hooks and the recorded relay live inside it — and publishing what
 * the API tells clients about it (its endpoint, the SSH host key). The composition root
 * (gateway/index.ts) starts whichever protocols the configuration gives an address, in this
 * order, and closes them in the same order. Adding a protocol is one entry in the shared list
 * plus one module here: the type below refuses a list entry without a module.
 */
import type { Protocol } from '../../shared/api/apiSchemas.ts';
import type { Clock } from '../clock.ts';
import type { GatewayKeyMaterial } from '../config/dataDir.ts';
import type { Logger } from '../logger.ts';
import type { RecorderFactory } from '../recorder/sessionRecorder.ts';
import type { ResourceCatalog } from '../resources/resourceCatalog.ts';
import type { LiveSessions } from '../sessions/liveSessions.ts';
import type { SessionService } from '../sessions/sessionService.ts';
import type { Store } from '../store/store.ts';
import {
  type RunningPostgresGateway,
  rememberPostgresTickets,
  ScramTicketCache,
  startPostgresGateway,
} from './postgres/index.ts';
import { type RunningSshGateway, type SshHostKey, startSshGateway } from './ssh/index.ts';

/** What every protocol's proxy is built from. */
export interface ProtocolContext {
  /** The gateway data directory (the SSH host key lives there). */
  dataDir: string;
  keyMaterial: Pick<GatewayKeyMaterial, 'serverChainPem' | 'serverKeyPem' | 'clientCaCertPem'>;
  /** The cluster's SSH host key (issue #17); absent: the data directory's own. */
  sshHostKey?: SshHostKey;
  sessions: SessionService;
  resources: ResourceCatalog;
  store: Store;
  recorders: RecorderFactory;
  /** One registry ends the sessions of every protocol (expiry, terminate, revoke). */
  liveSessions: LiveSessions;
  /** Where the API publishes the SSH host key (GET /v1/keys). */
  keys: { sshHostKey: string | null };
  clock: Clock;
  log: Logger;
}

/** A protocol's running listener, as the composition root sees it. */
export interface RunningProtocol {
  /** Where it is bound (the real port when 0 was asked): the endpoint of POST /v1/sessions. */
  address: { host: string; port: number };
  /** Stops listening, ends its live sessions with a notice, and waits for them to close. */
  close(): Promise<void>;
}

/** Each protocol's own running type (tests reach into the SSH host key, the PG connections). */
export interface RunningProtocols {
  ssh: RunningSshGateway;
  postgres: RunningPostgresGateway;
}

export interface ProtocolModule<R extends RunningProtocol> {
  start(listen: { host: string; port: number }, context: ProtocolContext): Promise<R>;
}

/** The parts every proxy is handed unchanged: sessions, policy, storage, recording, time, logs. */
function relayParts(context: ProtocolContext) {
  const { sessions, resources, store, recorders, clock, log, liveSessions } = context;
  return { sessions, resources, store, recorders, clock, log, liveSessions };
}

export const protocolModules: { [P in Protocol]: ProtocolModule<RunningProtocols[P]> } = {
  ssh: {
    async start(listen, context) {
      const ssh = await startSshGateway({
        dataDir: context.dataDir,
        ...(context.sshHostKey && { hostKey: context.sshHostKey }),
        listen,
        ...relayParts(context),
      });
      context.keys.sshHostKey = ssh.hostKey.publicKeyLine;
      return ssh;
    },
  },
  postgres: {
    async start(listen, context) {
      // Tickets issued here can be proven with SCRAM (scramTickets.ts says why this is needed).
      const scramTickets = new ScramTicketCache(context.clock);
      rememberPostgresTickets(context.sessions, scramTickets);
      return startPostgresGateway({
        listen,
        tls: {
          certChainPem: context.keyMaterial.serverChainPem,
          keyPem: context.keyMaterial.serverKeyPem,
        },
        clientCaPem: context.keyMaterial.clientCaCertPem,
        ...relayParts(context),
        scramTickets,
      });
    },
  },
};

/** Starts one protocol's module (the generic step the composition root loops over). */
export function startProtocol<P extends Protocol>(
  protocol: P,
  listen: { host: string; port: number },
  context: ProtocolContext,
): Promise<RunningProtocols[P]> {
  const module = protocolModules[protocol] as ProtocolModule<RunningProtocols[P]>;
  return module.start(listen, context);
}
