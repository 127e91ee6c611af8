/**
 * The gateway's composition root (CONVENTIONS: wire each process in one place). Everything
 * below receives its dependencies from here; nothing reaches for a global.
 */
// First: ssh2 binds crypto.randomFillSync when it loads (pooledRandom.ts says why).
import './pooledRandom.ts';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Keys, PROTOCOLS } from '../shared/api/apiSchemas.ts';
import { type RunningApi, startApiServer } from './api/apiServer.ts';
import { AuditTrail } from './audit/auditTrail.ts';
import { AuthService, type AuthSettings, DEFAULT_AUTH_SETTINGS } from './auth/authService.ts';
import { type Clock, systemClock } from './clock.ts';
import { type ClusterIdentity, loadOrCreateClusterIdentity } from './config/clusterIdentity.ts';
import { type GatewayKeyMaterial, loadOrInitDataDir } from './config/dataDir.ts';
import { signBytes } from './config/recordingSignature.ts';
import { readSealingKey } from './config/sealingKey.ts';
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
import { Readiness } from './health/readiness.ts';
import { createJsonLogger, type Logger, silentLogger } from './logger.ts';
import { MachineIdentities } from './machines/machineIdentities.ts';
import { OidcProviderBook } from './oidc/oidcProviderBook.ts';
import {
  DEFAULT_OIDC_SIGN_IN_SETTINGS,
  OidcSignIn,
  type OidcSignInSettings,
} from './oidc/oidcSignIn.ts';
import { DEFAULT_PROVIDER_CHECK_MAX_AGE_MS, ProviderCheck } from './oidc/providerCheck.ts';
import { RelyingParty } from './oidc/relyingParty.ts';
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
import {
  type ListenerAddress,
  type ListenerAddresses,
  SessionService,
} from './sessions/sessionService.ts';
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
  /**
   * With `databaseUrl`: the 32-byte key that seals the identity the replicas share in the
   * database (issue #17, config/clusterIdentity.ts). Required then; never stored.
   */
  sealingKey?: Buffer | undefined;
  /** Extra DNS names / IPs for the server certificate. */
  hostnames?: string[] | undefined;
  auth?: Partial<AuthSettings>;
  /** SSH listener address; no SSH listener when absent. */
  ssh?: { host: string; port: number } | undefined;
  /** PostgreSQL listener address; no PostgreSQL listener when absent. */
  postgres?: { host: string; port: number } | undefined;
  /**
   * The URL clients and browsers reach the API at, for the OpenID Connect callback registered
   * at providers (issue #18); default the API's own address once it listens.
   */
  publicUrl?: string | undefined;
  /**
   * OpenID Connect sign-in lifetimes, and how old the provider's last word on a sign-in may
   * get while its user has sessions (`providerCheckMaxAgeMs`, default 10 min; tests shorten).
   */
  oidc?: Partial<OidcSignInSettings> & { providerCheckMaxAgeMs?: number };
  /**
   * What clients are told to connect to (issue #17): a load balancer's addresses in front of
   * several replicas. Sessions' endpoints and database certificates name these instead of the
   * listeners' own addresses; `api` goes into enrollment links.
   */
  advertise?: { api?: string; ssh?: ListenerAddress; postgres?: ListenerAddress } | undefined;
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
  /** With PostgreSQL: the identity every replica shares (issue #17), the same object as dataDir. */
  cluster: ClusterIdentity | undefined;
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
  /**
   * What clients are told to connect to per protocol: the advertised address when one is
   * configured (a load balancer, issue #17), else where this instance's listener is bound.
   */
  listeners: ListenerAddresses;
  /** What `GET /v1/readyz` answers (issue #17): listeners up, store reachable, not draining. */
  readiness: Readiness;
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
  /** The API's public URL (config, else the listening address once known) (issue #18). */
  publicUrl: { value: string | undefined };
  /** Sign-in through identity providers, and their administration (issue #18). */
  oidcSignIn: OidcSignIn;
  oidcProviders: OidcProviderBook;
  relyingParty: RelyingParty;
  /** Asks providers again while their users have sessions (issue #18). */
  providerCheck: ProviderCheck;
  /** CI jobs' identities and the exchange of their workload tokens (issue #18). */
  machines: MachineIdentities;
  /**
   * What this replica tells the others and hears from them (issue #17): PostgreSQL
   * LISTEN/NOTIFY with a catch-up log when replicas share a database, in-process on SQLite.
   */
  bus: EventBus;
}

export interface RunningGateway {
  apiUrl: string;
  /** The API URL clients are given (enrollment links): `advertise.api`, else `apiUrl`. */
  advertisedApiUrl: string;
  caFingerprint: string;
  services: GatewayServices;
  /** The SSH listener, when configured. */
  ssh: RunningSshGateway | undefined;
  /** The PostgreSQL listener, when configured. */
  postgres: RunningPostgresGateway | undefined;
  close(): Promise<void>;
  /**
   * SIGTERM (issue #17): readyz turns 503 and new connections are refused with a message at
   * once; live sessions may finish for up to `timeoutMs`, then the rest are ended ("shutting
   * down") and the gateway closes. Resolves with how many sessions had to be ended.
   */
  drain(timeoutMs: number): Promise<{ endedSessions: number }>;
}

/** `--drain-timeout`'s default: how long live sessions may run on after SIGTERM. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000;
const DRAIN_POLL_MS = 100;

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
  const sqliteFile = config.databaseUrl ? undefined : path.join(config.dataDir, SQLITE_FILE_NAME);
  // Before the database is touched: a replica without its sealing key must not start at all.
  const sealingKey =
    sqliteFile === undefined ? (config.sealingKey ?? readSealingKey({})) : undefined;
  const store =
    sqliteFile === undefined
      ? await openPostgresStore(config.databaseUrl as string)
      : await openSqliteStore(sqliteFile);
  let cluster: ClusterIdentity | undefined;
  let dataDir: GatewayKeyMaterial;
  try {
    cluster =
      sealingKey === undefined ? undefined : await openClusterIdentity(store, sealingKey, config);
    dataDir =
      cluster ??
      loadOrInitDataDir(config.dataDir, {
        hostnames: config.hostnames,
        masterKeyBase64: config.masterKeyBase64,
      });
  } catch (error) {
    await store.close();
    throw error;
  }
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
  // After a rotation (issue #17) the earlier keys still verify what they signed.
  const earlierRecordingKeys = (cluster?.recordingKeys ?? []).filter(
    (key) => key.keyId !== dataDir.recordingKey.keyId,
  );
  const recordings = new RecordingArchive(
    [segments, chunks],
    dataDir.recordingKey.publicKeyPem,
    (bytes) => signBytes(dataDir.recordingKey.privateKey, bytes),
    earlierRecordingKeys.map((key) => key.publicKeyPem),
  );
  const recordingJudge = new RecordingJudge({ recordings, store, clock });
  const relyingParty = new RelyingParty();
  // Provider refusals and group changes end sessions: announced like every other access change.
  const providerCheck = new ProviderCheck({
    store: announcingStore,
    relyingParty,
    clock,
    masterKey: dataDir.masterKey,
    maxAgeMs: config.oidc?.providerCheckMaxAgeMs ?? DEFAULT_PROVIDER_CHECK_MAX_AGE_MS,
    ...(log && { log }),
  });
  const auth = new AuthService(
    store,
    clock,
    dataDir.masterKey,
    { ...DEFAULT_AUTH_SETTINGS, ...config.auth },
    providerCheck,
  );
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
  const publicUrl = { value: config.publicUrl?.replace(/\/+$/, '') };
  const callbackUrl = () => `${publicUrl.value ?? 'https://GATEWAY'}/v1/oidc/callback`;
  let sqlParser: Promise<SqlParser> | undefined;
  return {
    audit,
    publicUrl,
    relyingParty,
    providerCheck,
    machines: new MachineIdentities({ store: announcingStore, auth, clock }),
    oidcSignIn: new OidcSignIn({
      store: announcingStore,
      auth,
      relyingParty,
      clock,
      masterKey: dataDir.masterKey,
      callbackUrl,
      settings: { ...DEFAULT_OIDC_SIGN_IN_SETTINGS, ...config.oidc },
    }),
    oidcProviders: new OidcProviderBook({
      store,
      clock,
      masterKey: dataDir.masterKey,
      callbackUrl,
      forget: (id) => relyingParty.forget(id),
    }),
    scanHostKey: scanTargetHostKey,
    // libpg-query keeps one WebAssembly module per process; loading it twice is harmless.
    sqlParser: () => {
      sqlParser ??= loadSqlParser();
      return sqlParser;
    },
    store,
    dataDir,
    cluster,
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
    readiness: new Readiness({ ping: () => store.ping(), instanceId }),
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
      earlierRecordingKeys: earlierRecordingKeys.map((key) => ({
        algorithm: 'ed25519' as const,
        keyId: key.keyId,
        publicKeyPem: key.publicKeyPem,
      })),
    },
  };
}

/** The replicas' shared identity (issue #17); the data dir keeps only this replica's own state. */
async function openClusterIdentity(
  store: Store,
  sealingKey: Buffer,
  config: GatewayConfig,
): Promise<ClusterIdentity> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  return loadOrCreateClusterIdentity(store, sealingKey, {
    dataDir: config.dataDir,
    hostnames: config.hostnames,
    masterKeyBase64: config.masterKeyBase64,
  });
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
    ...(services.cluster && { sshHostKey: services.cluster.sshHostKey }),
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
      services.listeners[protocol] = config.advertise?.[protocol] ?? started.address;
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
    services.publicUrl.value ??= config.advertise?.api ?? api.url;
    services.providerCheck.start();
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
    services.store.deleteExpiredOidcGrants(clock.now()).catch((error: unknown) => {
      log.warn('could not delete expired sign-in states', { error: String(error) });
    });
  }, TOKEN_SWEEP_INTERVAL_MS);
  sweep.unref();
  services.readiness.markServing();
  const close = async () => {
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
    await services.providerCheck.stop();
    await services.hashPool.close();
    await services.textIndex.close();
    await services.audit.close();
    stopHandlingEvents();
    await services.bus.close();
    await services.store.close();
  };
  return {
    apiUrl: api.url,
    advertisedApiUrl: config.advertise?.api ?? api.url,
    caFingerprint: services.dataDir.caFingerprint,
    services,
    ssh: protocols.ssh,
    postgres: protocols.postgres,
    close,
    drain: async (timeoutMs) => {
      services.readiness.startDraining(clock.now());
      services.sessions.refuseNewConnections(
        'This gateway replica is shutting down and takes no new sessions — connect again; the load balancer sends you to another replica.',
      );
      // Real time, not the injected clock: this waits for people to finish their work.
      const deadline = Date.now() + timeoutMs;
      while (liveSessions.sessionIds.length > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
      }
      const endedSessions = liveSessions.sessionIds.length;
      if (endedSessions > 0) {
        log.info('drain timeout reached, ending live sessions', { sessions: endedSessions });
      }
      await close();
      return { endedSessions };
    },
  };
}
