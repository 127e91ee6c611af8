/**
 * What the composition root (gateway/index.ts) calls to run the SSH side of the gateway.
 *
 *   const ssh = await startSshGateway({
 *     dataDir: config.dataDir,            // ssh_host_ed25519_key is created here on first start
 *     listen: { host: '127.0.0.1', port: 2222 },   // from `serve --ssh HOST:PORT`; port 0 = any
 *     sessions: services.sessions,        // redeems tickets, terminates refused sessions
 *     resources: services.resources,      // target + decrypted credential
 *     store: services.store,              // live-session polling and "ended" marking
 *     recorders,                          // the RecorderFactory (gateway/recorder)
 *     clock, log,
 *   });
 *   listeners.ssh = ssh.address;                    // → endpoint of POST /v1/sessions
 *   services.keys.sshHostKey = ssh.hostKey.publicKeyLine;   // → GET /v1/keys
 *   log.info(`SSH host key fingerprint: ${ssh.hostKey.fingerprint}`);
 *   …
 *   await ssh.close();   // before closing the store: ends live sessions with a notice
 *
 * Pass `liveSessions` to share one registry with the PostgreSQL proxy; otherwise one is made.
 */
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../logger.ts';
import type { RecorderFactory } from '../../recorder/sessionRecorder.ts';
import type { ResourceCatalog } from '../../resources/resourceCatalog.ts';
import { LiveSessions } from '../../sessions/liveSessions.ts';
import type { SessionService } from '../../sessions/sessionService.ts';
import type { SessionEnder } from '../../store/sessionStore.ts';
import { loadOrCreateSshHostKey, type SshHostKey } from './sshHostKey.ts';
import { startSshListener } from './sshListener.ts';

export { type ScannedHostKey, scanHostKey } from './scanHostKey.ts';
export { loadOrCreateSshHostKey, type SshHostKey } from './sshHostKey.ts';

export interface SshGatewayConfig {
  /** The gateway data directory (holds `ssh_host_ed25519_key`, 0600). */
  dataDir: string;
  /** A host key given from elsewhere (the cluster's, issue #17) instead of the data directory's. */
  hostKey?: SshHostKey;
  listen: { host: string; port: number };
  sessions: Pick<SessionService, 'redeemTicket' | 'terminate'>;
  resources: Pick<ResourceCatalog, 'credentialFor'>;
  store: SessionEnder;
  recorders: RecorderFactory;
  clock: Clock;
  log: Logger;
  /** Shared live-session registry; default: a new one over `store`. */
  liveSessions?: LiveSessions;
  /** Bridge `ssh -L` (direct-tcpip) channels; refused by default until grants can allow it. */
  allowDirectTcpip?: boolean;
}

export interface RunningSshGateway {
  /** Where the listener is bound (the real port when 0 was asked). */
  address: { host: string; port: number };
  hostKey: SshHostKey;
  liveSessions: LiveSessions;
  /** Stops listening, ends live SSH sessions with a notice, and waits for them to close. */
  close(): Promise<void>;
}

export async function startSshGateway(config: SshGatewayConfig): Promise<RunningSshGateway> {
  const hostKey = config.hostKey ?? loadOrCreateSshHostKey(config.dataDir);
  const ownsRegistry = config.liveSessions === undefined;
  const liveSessions =
    config.liveSessions ??
    new LiveSessions({ store: config.store, clock: config.clock, log: config.log });
  const listener = await startSshListener({
    host: config.listen.host,
    port: config.listen.port,
    hostKey,
    sessions: config.sessions,
    resources: config.resources,
    recorders: config.recorders,
    liveSessions,
    log: config.log,
    allowDirectTcpip: config.allowDirectTcpip ?? false,
  });
  return {
    address: { host: listener.host, port: listener.port },
    hostKey,
    liveSessions,
    close: async () => {
      await listener.close();
      if (ownsRegistry) liveSessions.shutdown();
    },
  };
}
