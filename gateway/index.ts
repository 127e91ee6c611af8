/**
 * The gateway's composition root (CONVENTIONS: wire each process in one place). Everything
 * below receives its dependencies from here; nothing reaches for a global.
 */
// First: ssh2 binds crypto.randomFillSync when it loads (pooledRandom.ts says why).
import './pooledRandom.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type Keys, PROTOCOLS } from '../shared/api/apiSchemas.ts';
import { type RunningApi, startApiServer } from './api/apiServer.ts';
import { AuditTrail } from './audit/auditTrail.ts';
import { AuthService, type AuthSettings, DEFAULT_AUTH_SETTINGS } from './auth/authService.ts';
import { type Clock, systemClock } from './clock.ts';
import { type GatewayKeyMaterial, loadOrInitDataDir } from './config/dataDir.ts';
import { signBytes } from './config/recordingSignature.ts';
import { DbCertificateIssuer } from './dbCertificates/dbCertificateIssuer.ts';
import type { EventBus } from './events/eventBus.ts';
import { InProcessEventBus } from './events/inProcessEventBus.ts';
import { PostgresEventBus } from './events/postgresEventBus.ts';
import {
  announceRequestChanges,
  announceSessionChanges,
  announceWatchEnds,
} from './events/replicaAnnouncements.ts';
import { handleReplicaEvents } from './events/replicaEventHandlers.ts';
import { GrantBook } from './grants/grantBook.ts';
import { GroupDirectory } from './groups/groupDirectory.ts';
import { createJsonLogger, type Logger, silentLogger } from './logger.ts';
import { loadSqlParser, type SqlParser } from './policy/sqlParse.ts';
import type { RunningPostgresGateway } from './proxy/postgres/index.ts';
import {
  type ProtocolContext,
  type RunningProtocol,
  type RunningProtocols,
  startProtocol,
} from './proxy/protocols.ts';
import type { RunningSshGateway } from './proxy/ssh/index.ts';
import { scanHostKey } from './proxy/ssh/scanHostKey.ts';
import { ChainHashPool } from './recorder/chainHashPool.ts';
import { loadOrCreateGatewayInstanceId } from './recorder/gatewayInstanceId.ts';
import { Recorder } from './recorder/recorder.ts';
import { RecordingArchive } from './recorder/recordingArchive.ts';
import { DatabaseChunkStorage, SegmentFileStorage } from './recorder/recordingStorage.ts';
import {
  DEFAULT_RECORDING_CHECK_INTERVAL_MS,
  RecordingCheck,
} from './recordingCheck/recordingCheck.ts';
import { RecordingJudge } from './recordingCheck/recordingJudge.ts';
import {
  DEFAULT_REVERIFY_INTERVAL_MS,
  RecordingReverifier,
} from './recordingCheck/recordingReverifier.ts';
import { AccessRequestDesk } from './requests/accessRequestDesk.ts';
import { AccessRequestEvents } from './requests/accessRequestEvents.ts';
import { ResourceCatalog } from './resources/resourceCatalog.ts';
import { RecordingTextIndexer } from './search/recordingTextIndexer.ts';
import { endCarriedSessions } from './sessions/endCarriedSessions.ts';
import { LiveSessions } from './sessions/liveSessions.ts';
import { LiveWatches } from './sessions/liveWatches.ts';
import { ReplicaLease } from './sessions/replicaLease.ts';
import { type ListenerAddresses, SessionService } from './sessions/sessionService.ts';
import { openPostgresStore, openSqliteStore } from './store/openStore.ts';
import type { Store } from './store/store.ts';
import { UserAdmin } from './users/userAdmin.ts';

export interface GatewayConfig {
  dataDir: string;
  api: { host: string; port: number };
  /** PostgreSQL instead of the embedded SQLite file (several replicas can share it). */
  databaseUrl?: string | undefined;
  /** Base64 of 32 bytes; overrides the generated master.key file. */
  masterKeyBase64?: string | undefined;
  /** Extra DNS names / IPs for the server certificate. */
  hostnames?: string[] | undefined;
  auth?: Partial<AuthSettings>;
  /** SSH listener address; no SSH listener when absent. */
  ssh?: { host: string; port: number } | undefined;
  /** PostgreSQL listener address; no PostgreSQL listener when absent. */
  postgres?: { host: string; port: number } | undefined;
  /** How often the background recordings check runs (it also runs at start); default 6 h. */
  recordingCheckIntervalMs?: number | undefined;
  /** How often every stored recording is verified again (also at start); default 1 h. */
  reverifyIntervalMs?: number | undefined;
  clock?: Clock;
  log?: Logger;
}

export interface GatewayServices {
  store: Store;
  dataDir: GatewayKeyMaterial;
  auth: AuthService;
  resources: ResourceCatalog;
  grants: GrantBook;
  /** Groups as the names users carry, by group (issue #14). */
  groups: GroupDirectory;
  /** Access requests and approvals (issue #14), and the events their streams carry. */
  requests: AccessRequestDesk;
  requestEvents: AccessRequestEvents;
  sessions: SessionService;
  /** Database client certificates for `witness db login` (issue #15). */
  dbCertificates: DbCertificateIssuer;
  /** What the SSH and PostgreSQL proxies record through (RecorderFactory). */
  recorder: Recorder;
  recordings: RecordingArchive;
  /** Keeps the recordings' search index up to date as the recorder writes (issue #6). */
  textIndex: RecordingTextIndexer;
  /** Hashes recordings' bulk frames off the event loop; its threads start with the first bulk session. */
  hashPool: ChainHashPool;
  keys: Keys;
  /** Where this instance's protocol listeners are bound; filled in as they start. */
  listeners: ListenerAddresses;
  /** Finds recordings that are missing a row or their bytes (issue #12). */
  recordingCheck: RecordingCheck;
  /** Verifies a recording and its row, and stores the verdict with when it was made (issue #12). */
  recordingJudge: RecordingJudge;
  /** Keeps the stored verdicts fresh: on a schedule and after each read (issue #12). */
  reverifier: RecordingReverifier;
  /** This gateway instance's id (recorder/gatewayInstanceId.ts): owner of what it records. */
  instanceId: string;
  /** Live watch streams by watcher, so offboarding ends them (issue #14). */
  liveWatches: LiveWatches;
  /** Admins' user management and offboarding (issue #14). */
  users: UserAdmin;
  /** Reads the host key an SSH target presents, for admins to confirm and pin (issue #14). */
  scanHostKey: (host: string, port: number) => ReturnType<typeof scanHostKey>;
  /** The process's PostgreSQL parser, loaded on first use (policy trials, issue #14). */
  sqlParser: () => Promise<SqlParser>;
  /** The audit log's one writer, signing its head with the recording key (issue #14). */
  audit: AuditTrail;
  /**
   * What this replica tells the others and hears from them (issue #17): PostgreSQL
   * LISTEN/NOTIFY with a catch-up log when replicas share a database, in-process on SQLite.
   */
  bus: EventBus;
}

export interface RunningGateway {
  apiUrl: string;
  caFingerprint: string;
  services: GatewayServices;
  /** The SSH listener, when configured. */
  ssh: RunningSshGateway | undefined;
  /** The PostgreSQL listener, when configured. */
  postgres: RunningPostgresGateway | undefined;
  close(): Promise<void>;
}

export const SQLITE_FILE_NAME = 'witness.sqlite';
const TOKEN_SWEEP_INTERVAL_MS = 3600_000;

export function gatewayVersion(): string {
  const packageJson = path.join(import.meta.dirname, '..', 'package.json');
  return (JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string }).version;
}

/** Opens the data dir and the store and builds the services, without any listener. */
export async function openGatewayServices(
  config: GatewayConfig,
  log?: Logger,
): Promise<GatewayServices> {
  const clock = config.clock ?? systemClock;
  const dataDir = loadOrInitDataDir(config.dataDir, {
    hostnames: config.hostnames,
    masterKeyBase64: config.masterKeyBase64,
  });
  const sqliteFile = config.databaseUrl ? undefined : path.join(config.dataDir, SQLITE_FILE_NAME);
  const store =
    sqliteFile === undefined
      ? await openPostgresStore(config.databaseUrl as string)
      : await openSqliteStore(sqliteFile);
  const listeners: ListenerAddresses = {};
  const instanceId = loadOrCreateGatewayInstanceId(config.dataDir);
  const busLog = log ?? silentLogger;
  let bus: EventBus;
  try {
    bus =
      config.databaseUrl === undefined
        ? new InProcessEventBus(busLog)
        : await PostgresEventBus.open(config.databaseUrl, { log: busLog });
  } catch (error) {
    await store.close();
    throw error;
  }
  // Services that end sessions or take access away announce it, so every replica acts at once.
  const announcingStore = announceSessionChanges(store, bus, busLog);
  // SQLite deployment: segment files in the data dir; PostgreSQL: rows shared by all replicas.
  const segmentRoot = path.join(config.dataDir, 'recordings');
  const segments = new SegmentFileStorage(segmentRoot);
  const chunks = new DatabaseChunkStorage(store);
  // On SQLite the search-text worker writes the index over its own connection to the file.
  const textIndex = new RecordingTextIndexer(store, {
    ...(log && { log }),
    ...(sqliteFile !== undefined && { worker: { indexFile: sqliteFile } }),
  });
  const hashPool = new ChainHashPool(log ? { log } : {});
  const recordings = new RecordingArchive(
    [segments, chunks],
    dataDir.recordingKey.publicKeyPem,
    (bytes) => signBytes(dataDir.recordingKey.privateKey, bytes),
  );
  const recordingJudge = new RecordingJudge({ recordings, store, clock });
  const auth = new AuthService(store, clock, dataDir.masterKey, {
    ...DEFAULT_AUTH_SETTINGS,
    ...config.auth,
  });
  const liveWatches = new LiveWatches();
  const requestEvents = new AccessRequestEvents();
  const announcedRequestEvents = announceRequestChanges(requestEvents, bus, instanceId, busLog);
  // The recording key signs the audit log too: one key to pin, one way to verify (issue #14).
  const audit = new AuditTrail({
    store,
    clock,
    signer: {
      keyId: dataDir.recordingKey.keyId,
      sign: (bytes) => signBytes(dataDir.recordingKey.privateKey, bytes),
    },
    ...(log && { log }),
  });
  const sessions = new SessionService(announcingStore, clock, () => listeners, audit);
  const scanTargetHostKey = (host: string, port: number) => scanHostKey(host, port);
  let sqlParser: Promise<SqlParser> | undefined;
  return {
    audit,
    scanHostKey: scanTargetHostKey,
    // libpg-query keeps one WebAssembly module per process; loading it twice is harmless.
    sqlParser: () => {
      sqlParser ??= loadSqlParser();
      return sqlParser;
    },
    store,
    dataDir,
    auth,
    liveWatches,
    users: new UserAdmin({
      store: announcingStore,
      auth,
      liveWatches: announceWatchEnds(liveWatches, bus, busLog),
      clock,
    }),
    resources: new ResourceCatalog(announcingStore, clock, dataDir.masterKey, scanTargetHostKey),
    grants: new GrantBook(announcingStore, clock),
    groups: new GroupDirectory(announcingStore, clock),
    requests: new AccessRequestDesk(announcingStore, clock, announcedRequestEvents, audit),
    requestEvents,
    sessions,
    dbCertificates: new DbCertificateIssuer({
      sessions,
      store,
      clock,
      clientCa: { certPem: dataDir.clientCaCertPem, keyPem: dataDir.clientCaKeyPem },
      serverCaPem: dataDir.caCertPem,
      listeners: () => listeners,
    }),
    listeners,
    instanceId,
    recordingCheck: new RecordingCheck({ store, segmentRoot }, clock),
    recorder: new Recorder({
      store,
      storage: store.kind === 'postgres' ? chunks : segments,
      recordingKey: dataDir.recordingKey,
      owner: instanceId,
      clock,
      ...(log ? { log } : {}),
      observe: (session) => textIndex.observe(session.sessionId),
      hashPool,
    }),
    textIndex,
    hashPool,
    recordings,
    recordingJudge,
    reverifier: new RecordingReverifier({
      store,
      judge: recordingJudge,
      now: () => clock.now(),
    }),
    bus,
    keys: {
      caFingerprint: dataDir.caFingerprint,
      caPem: dataDir.caCertPem,
      recordingKey: {
        algorithm: 'ed25519',
        keyId: dataDir.recordingKey.keyId,
        publicKeyPem: dataDir.recordingKey.publicKeyPem,
      },
      sshHostKey: null,
    },
  };
}

export async function startGateway(config: GatewayConfig): Promise<RunningGateway> {
  const clock = config.clock ?? systemClock;
  const log = config.log ?? createJsonLogger();
  const services = await openGatewayServices(config, log);
  let api: RunningApi;
  const protocols: Partial<RunningProtocols> = {};
  const running: RunningProtocol[] = [];
  const closeProtocols = async () => {
    for (const protocol of running) await protocol.close();
  };
  // One registry ends the sessions of every protocol (expiry, terminate, revoke).
  const liveSessions = new LiveSessions({ store: services.store, clock, log });
  const stopHandlingEvents = handleReplicaEvents(services.bus, {
    liveSessions,
    liveWatches: services.liveWatches,
    requestEvents: services.requestEvents,
    store: services.store,
    instanceId: services.instanceId,
    log,
  });
  const context: ProtocolContext = {
    dataDir: config.dataDir,
    keyMaterial: services.dataDir,
    sessions: services.sessions,
    resources: services.resources,
    store: services.store,
    recorders: services.recorder,
    liveSessions,
    keys: services.keys,
    clock,
    log,
  };
  // Replicas on one PostgreSQL watch each other's heartbeat (issue #17); a SQLite gateway is
  // alone, and its own restart recovery below covers it.
  const lease =
    services.store.kind === 'postgres'
      ? new ReplicaLease({ store: services.store, instanceId: services.instanceId, clock, log })
      : undefined;
  try {
    // Before any session can start: what this instance left unfinished was interrupted.
    await services.recorder.recoverInterruptedRecordings();
    await endCarriedSessions(services.store, services.instanceId, clock, log);
    await lease?.start();
    for (const protocol of PROTOCOLS) {
      const listen = config[protocol];
      if (!listen) continue;
      const started = await startProtocol(protocol, listen, context);
      (protocols as Record<string, RunningProtocol>)[protocol] = started;
      running.push(started);
      services.listeners[protocol] = started.address;
    }
    api = await startApiServer(
      {
        ...services,
        storeKind: services.store.kind,
        clock,
        version: gatewayVersion(),
      },
      {
        host: config.api.host,
        port: config.api.port,
        certChainPem: services.dataDir.serverChainPem,
        keyPem: services.dataDir.serverKeyPem,
      },
      log,
    );
    services.recordingCheck.start(
      config.recordingCheckIntervalMs ?? DEFAULT_RECORDING_CHECK_INTERVAL_MS,
      log,
    );
    services.reverifier.start(config.reverifyIntervalMs ?? DEFAULT_REVERIFY_INTERVAL_MS, log);
  } catch (error) {
    await closeProtocols();
    liveSessions.shutdown();
    await lease?.stop();
    stopHandlingEvents();
    await services.bus.close();
    await services.hashPool.close();
    await services.store.close();
    throw error;
  }
  const sweep = setInterval(() => {
    services.store.deleteExpiredAuthTokens(clock.now()).catch((error: unknown) => {
      log.warn('could not delete expired tokens', { error: String(error) });
    });
  }, TOKEN_SWEEP_INTERVAL_MS);
  sweep.unref();
  return {
    apiUrl: api.url,
    caFingerprint: services.dataDir.caFingerprint,
    services,
    ssh: protocols.ssh,
    postgres: protocols.postgres,
    close: async () => {
      clearInterval(sweep);
      await api.close();
      // Ends live sessions with a notice, so their recordings close with a final checkpoint.
      await closeProtocols();
      liveSessions.shutdown();
      await services.recorder.closeAll();
      // After the recordings closed: nothing is left for another replica to take over.
      await lease?.stop();
      await services.recordingCheck.stop();
      await services.reverifier.stop();
      await services.hashPool.close();
      await services.textIndex.close();
      await services.audit.close();
      stopHandlingEvents();
      await services.bus.close();
      await services.store.close();
    },
  };
}
