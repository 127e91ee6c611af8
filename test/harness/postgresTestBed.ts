/**
 * A gateway in this process with its PostgreSQL listener, in front of the run's real
 * PostgreSQL 15 cluster (globalSetup.ts), like startSshTestBed for SSH: users, a resource per
 * test database with a standing grant, sessions through the API, and clients that connect
 * through the listener over TLS — node-postgres (`pg`) and the real `psql`.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import pg from 'pg';
import { inject } from 'vitest';
import { handleReplicaEvents } from '../../gateway/events/replicaEventHandlers.ts';
import type { Logger } from '../../gateway/logger.ts';
import { silentLogger } from '../../gateway/logger.ts';
import {
  type ClientAuthMethod,
  type RunningPostgresGateway,
  rememberPostgresTickets,
  ScramTicketCache,
  startPostgresGateway,
} from '../../gateway/proxy/postgres/index.ts';
import { MemoryRecorderFactory } from '../../gateway/proxy/ssh/fixtures/memoryRecorder.ts';
import type { RecorderFactory } from '../../gateway/recorder/sessionRecorder.ts';
import type { DatabasePolicy } from '../../shared/api/apiSchemas.ts';
import {
  type BackendMessage,
  encodeFrontend,
  encodePasswordMessage,
  type FrontendMessage,
  MessageReader,
} from '../../shared/postgres/codec.ts';
import { PostgresWireEvents } from '../../shared/recording/postgresWire.ts';
import type { RecordingEvent } from '../../shared/recording/recordingFormat.ts';
import { verifyRecording } from '../../shared/recording/verifyRecording.ts';
import { startTestGateway, type TestGateway } from './gatewayForTests.ts';
import { freshPostgresDatabase } from './postgresForTests.ts';

export const PSQL_BIN = process.env.WITNESS_PSQL_BIN ?? '/usr/bin/psql';

export interface PostgresResourceOptions {
  /** Default: a fresh database on the run's cluster, as the superuser. */
  host?: string;
  port?: number;
  database?: string;
  username?: string;
  password?: string | null;
  tlsMode?: 'disable' | 'prefer' | 'require' | 'verify-full';
  caPem?: string | null;
  policy?: Partial<DatabasePolicy>;
  grantPolicy?: Partial<DatabasePolicy>;
  maxSessionSeconds?: number;
}

export interface PostgresResource {
  id: string;
  name: string;
  /** Superuser URL of the resource's database, for setting up and checking data directly. */
  directUrl: string;
  database: string;
}

export interface PsqlResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface PostgresTestBed {
  gw: TestGateway;
  postgres: RunningPostgresGateway;
  /** Recorder for new sessions; tests swap in the memory fake for fault injection. */
  recorders: { current: RecorderFactory };
  memory: MemoryRecorderFactory;
  scramTickets: ScramTicketCache;
  /** The gateway CA (PEM) and a file holding it, for sslrootcert. */
  caPem: string;
  caFile: string;
  adminToken: string;
  engineerToken: string;
  /** The default resource (a fresh database). */
  resource: PostgresResource;
  addResource(name: string, options?: PostgresResourceOptions): Promise<PostgresResource>;
  /** POST /v1/sessions as the engineer. */
  newSession(resource?: string): Promise<{ sessionId: string; ticket: string; expiresAt: string }>;
  /** node-postgres through the gateway (TLS, verify-full against the gateway CA). */
  connectPg(
    session: { sessionId: string; ticket: string },
    extra?: Partial<pg.ClientConfig>,
  ): Promise<pg.Client>;
  /** A fresh session and a pg client on it. */
  openPg(resource?: string): Promise<{ client: pg.Client; sessionId: string }>;
  /** Runs psql through the gateway (sslmode=verify-full); `onSpawn` sees the child. */
  psql(
    session: { sessionId: string; ticket: string },
    args: string[],
    options?: {
      stdin?: string;
      env?: Record<string, string>;
      onSpawn?: (child: ChildProcess) => void;
    },
  ): Promise<PsqlResult>;
  /** Waits for the recording to close, verifies it with the gateway's public key, returns its events. */
  verifiedRecording(sessionId: string): Promise<RecordingEvent[]>;
  logLines: string[];
  close(): Promise<void>;
}

/**
 * With WITNESS_TEST_PG_POLICY=unmatched the default resource carries masking rules and
 * guardrails that touch nothing the PostgreSQL integration tests do (issue #13: they must pass,
 * with the same output, through a resource with policies): every statement is then parsed,
 * checked, and its results planned for masking.
 */
const UNMATCHED_POLICY: Partial<DatabasePolicy> = {
  masking: [
    { name: 'pii', match: { kind: 'column', pattern: '^(ssn|card_number)$' }, style: 'full' },
    { name: 'unused-type', match: { kind: 'type', types: ['macaddr8'] }, style: 'full' },
  ],
  guardrails: [
    {
      kind: 'statement',
      name: 'unmatched',
      classes: ['merge_modify', 'call', 'create_trigger', 'create_rule'],
    },
  ],
};

const ENGINEER_PASSWORD = 'engineer-password-1';
const ADMIN_PASSWORD = 'admin-password-12';

export async function startPostgresTestBed(
  options: {
    clientAuth?: ClientAuthMethod;
    loginTimeoutMs?: number;
    maxClientMessageBytes?: number;
    maxServerMessageBytes?: number;
    highWaterMark?: number;
  } = {},
): Promise<PostgresTestBed> {
  const gw = await startTestGateway();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-pgbed-'));
  try {
    const services = gw.gateway.services;
    const memory = new MemoryRecorderFactory();
    const recorders = { current: services.recorder as RecorderFactory };
    const scramTickets = new ScramTicketCache(gw.clock);
    rememberPostgresTickets(services.sessions, scramTickets);
    const log: Logger = {
      info: (message, fields) =>
        gw.logLines.push(JSON.stringify({ level: 'info', message, ...fields })),
      warn: (message, fields) =>
        gw.logLines.push(JSON.stringify({ level: 'warn', message, ...fields })),
      error: (message, fields) =>
        gw.logLines.push(JSON.stringify({ level: 'error', message, ...fields })),
    };
    const postgres = await startPostgresGateway({
      listen: { host: '127.0.0.1', port: 0 },
      tls: {
        certChainPem: services.dataDir.serverChainPem,
        keyPem: services.dataDir.serverKeyPem,
      },
      // Database certificates (issue #15), as gateway/proxy/protocols.ts configures them.
      clientCaPem: services.dataDir.clientCaCertPem,
      sessions: services.sessions,
      resources: services.resources,
      store: services.store,
      recorders: { start: (session) => recorders.current.start(session) },
      clock: gw.clock,
      log,
      scramTickets,
      ...(options.clientAuth !== undefined && { clientAuth: options.clientAuth }),
      ...(options.loginTimeoutMs !== undefined && { loginTimeoutMs: options.loginTimeoutMs }),
      ...(options.maxClientMessageBytes !== undefined && {
        maxClientMessageBytes: options.maxClientMessageBytes,
      }),
      ...(options.maxServerMessageBytes !== undefined && {
        maxServerMessageBytes: options.maxServerMessageBytes,
      }),
      ...(options.highWaterMark !== undefined && { highWaterMark: options.highWaterMark }),
    });
    // What gateway/index.ts does with `serve --postgres`: session endpoints name the listener.
    services.listeners.postgres = postgres.address;
    // Its own registry hears the bus as the gateway's does (issue #17): see sshd.ts.
    const stopHearing = handleReplicaEvents(services.bus, {
      liveSessions: postgres.liveSessions,
      liveWatches: services.liveWatches,
      requestEvents: services.requestEvents,
      store: services.store,
      instanceId: services.instanceId,
      log: silentLogger,
    });

    const caPem = services.keys.caPem;
    const caFile = path.join(dir, 'gateway-ca.crt');
    writeFileSync(caFile, caPem, { mode: 0o600 });

    await gw.createUser('root-admin', 'admin', ADMIN_PASSWORD);
    const engineerId = await gw.createUser('alice', 'engineer', ENGINEER_PASSWORD);
    const adminToken = await gw.login('root-admin', ADMIN_PASSWORD);
    const engineerToken = await gw.login('alice', ENGINEER_PASSWORD);
    const clusterUrl = new URL(inject('postgresUrl'));

    const addResource: PostgresTestBed['addResource'] = async (name, resourceOptions = {}) => {
      let directUrl: string;
      let database: string;
      if (resourceOptions.database === undefined) {
        directUrl = await freshPostgresDatabase();
        database = new URL(directUrl).pathname.slice(1);
      } else {
        database = resourceOptions.database;
        const url = new URL(clusterUrl);
        url.pathname = `/${database}`;
        directUrl = url.toString();
      }
      const password =
        resourceOptions.password === undefined
          ? decodeURIComponent(clusterUrl.password)
          : resourceOptions.password;
      const created = await gw.request('POST', '/v1/resources', {
        token: adminToken,
        body: {
          name,
          target: {
            kind: 'postgres',
            host: resourceOptions.host ?? clusterUrl.hostname,
            port: resourceOptions.port ?? Number(clusterUrl.port),
            database,
            username: resourceOptions.username ?? decodeURIComponent(clusterUrl.username),
            tlsMode: resourceOptions.tlsMode ?? 'disable',
            caPem: resourceOptions.caPem ?? null,
          },
          ...(password !== null && { secret: { password } }),
          policy: { masking: [], guardrails: [], ...resourceOptions.policy },
        },
      });
      if (created.status !== 201) throw new Error(`creating ${name} failed: ${created.text}`);
      const grant = await gw.request('POST', '/v1/grants', {
        token: adminToken,
        body: {
          subject: { kind: 'user', userId: engineerId },
          target: { kind: 'resource', resourceId: created.json.id },
          maxSessionSeconds: resourceOptions.maxSessionSeconds ?? 3600,
          policy: { masking: [], guardrails: [], ...resourceOptions.grantPolicy },
        },
      });
      if (grant.status !== 201) throw new Error(`granting ${name} failed: ${grant.text}`);
      return { id: created.json.id as string, name, directUrl, database };
    };
    const resource = await addResource('db-main', {
      ...(process.env.WITNESS_TEST_PG_POLICY === 'unmatched' && { policy: UNMATCHED_POLICY }),
    });

    const newSession: PostgresTestBed['newSession'] = async (name = resource.name) => {
      const resources = await gw.request('GET', '/v1/resources', { token: engineerToken });
      const found = resources.json.resources.find((r: { name: string }) => r.name === name);
      if (!found) throw new Error(`no resource ${name}`);
      const created = await gw.request('POST', '/v1/sessions', {
        token: engineerToken,
        body: { resourceId: found.id },
      });
      if (created.status !== 201) throw new Error(`session for ${name} failed: ${created.text}`);
      return created.json;
    };

    const connectPg: PostgresTestBed['connectPg'] = async (session, extra = {}) => {
      const client = new pg.Client({
        host: postgres.address.host,
        port: postgres.address.port,
        user: session.sessionId,
        password: session.ticket,
        database: 'ignored-by-the-gateway',
        ssl: { ca: caPem, servername: 'localhost' },
        ...extra,
      });
      // A session the gateway ends sends a FATAL; without a listener pg would throw it.
      client.on('error', () => {});
      await client.connect();
      return client;
    };

    return {
      gw,
      postgres,
      recorders,
      memory,
      scramTickets,
      caPem,
      caFile,
      adminToken,
      engineerToken,
      resource,
      addResource,
      newSession,
      connectPg,
      async openPg(name) {
        const session = await newSession(name);
        return { client: await connectPg(session), sessionId: session.sessionId };
      },
      psql(session, args, psqlOptions = {}) {
        return new Promise((resolve, reject) => {
          const child = spawn(PSQL_BIN, ['-X', '-v', 'ON_ERROR_STOP=0', ...args], {
            env: {
              PATH: process.env.PATH ?? '/usr/bin:/bin',
              LANG: 'C.UTF-8',
              PGHOST: postgres.address.host,
              PGPORT: String(postgres.address.port),
              PGUSER: session.sessionId,
              PGPASSWORD: session.ticket,
              PGDATABASE: 'ignored',
              PGSSLMODE: 'verify-full',
              PGSSLROOTCERT: caFile,
              PGGSSENCMODE: 'disable',
              PGAPPNAME: 'witness-test',
              PGCONNECT_TIMEOUT: '10',
              ...psqlOptions.env,
            },
            stdio: ['pipe', 'pipe', 'pipe'],
          });
          let stdout = '';
          let stderr = '';
          child.stdout.setEncoding('utf8');
          child.stderr.setEncoding('utf8');
          child.stdout.on('data', (chunk: string) => {
            stdout += chunk;
          });
          child.stderr.on('data', (chunk: string) => {
            stderr += chunk;
          });
          child.once('error', reject);
          child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
          child.stdin.end(psqlOptions.stdin ?? '');
          psqlOptions.onSpawn?.(child);
        });
      },
      async verifiedRecording(sessionId) {
        const deadline = Date.now() + 15_000;
        let row = await services.store.getRecording(sessionId);
        while (!row || row.status === 'recording') {
          if (Date.now() > deadline) {
            throw new Error(`the recording of ${sessionId} did not close (${row?.status})`);
          }
          await new Promise((resolve) => setTimeout(resolve, 20));
          row = await services.store.getRecording(sessionId);
        }
        if (row.status !== 'complete') throw new Error(`recording ${sessionId} is ${row.status}`);
        // The events derived from the recorded wire (FORMAT.md §5.3), as readers see them.
        const events: RecordingEvent[] = [];
        const wire = new PostgresWireEvents();
        const report = await verifyRecording(services.recordings.open(row), {
          publicKeyPem: services.keys.recordingKey.publicKeyPem,
          expectedSessionId: sessionId,
          onEvent: (event) =>
            events.push(...wire.accept({ ...event, data: Buffer.from(event.data) })),
        });
        if (report.status !== 'verified' || !report.final) {
          throw new Error(`recording ${sessionId} did not verify: ${report.message}`);
        }
        return events;
      },
      logLines: gw.logLines,
      async close() {
        stopHearing();
        await postgres.close();
        await gw.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// A raw protocol client, for what no real client sends (bad input, unusual message sequences).

export interface RawConnection {
  socket: Socket | TLSSocket;
  /** Every message received so far, decoded. */
  readonly messages: BackendMessage[];
  send(...messages: Array<FrontendMessage | Buffer>): void;
  /** Resolves with the first message (received so far or later) that matches, after `from`. */
  waitFor(
    predicate: (message: BackendMessage) => boolean,
    options?: { from?: number; timeoutMs?: number },
  ): Promise<BackendMessage>;
  /** Resolves when the connection is closed (by either side). */
  readonly closed: Promise<void>;
  close(): void;
}

/** Connects to `address`; with `tls`, negotiates TLS first (verify against `caPem`). */
export async function rawConnect(
  address: { host: string; port: number },
  options: { tls?: { caPem: string } } = {},
): Promise<RawConnection> {
  const tcp = await new Promise<Socket>((resolve, reject) => {
    const socket = connectTcp(address.port, address.host, () => resolve(socket));
    socket.once('error', reject);
  });
  tcp.on('error', () => {});
  let socket: Socket | TLSSocket = tcp;
  if (options.tls) {
    tcp.write(encodeFrontend({ type: 'SSLRequest' }));
    const answer = await new Promise<Buffer>((resolve) => tcp.once('data', resolve));
    if (answer.toString('latin1') !== 'S') throw new Error(`SSLRequest answered ${answer}`);
    const ca = options.tls.caPem;
    socket = await new Promise<TLSSocket>((resolve, reject) => {
      const tls = connectTls({ socket: tcp, ca, servername: 'localhost' }, () => resolve(tls));
      tls.once('error', reject);
    });
    socket.on('error', () => {});
  }
  const reader = new MessageReader('backend');
  const messages: BackendMessage[] = [];
  const waiters = new Set<() => void>();
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  let broken: Error | undefined;
  socket.on('data', (chunk: Buffer) => {
    try {
      for (const frame of reader.push(chunk)) messages.push(reader.decode(frame));
    } catch (error) {
      broken = error as Error;
    }
    for (const wake of waiters) wake();
  });
  void closed.then(() => {
    for (const wake of waiters) wake();
  });
  let isClosed = false;
  void closed.then(() => {
    isClosed = true;
  });
  return {
    socket,
    messages,
    send(...items) {
      socket.write(
        Buffer.concat(items.map((item) => (Buffer.isBuffer(item) ? item : encodeFrontend(item)))),
      );
    },
    waitFor(predicate, waitOptions = {}) {
      const from = waitOptions.from ?? 0;
      const timeoutMs = waitOptions.timeoutMs ?? 10_000;
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.slice(from).find(predicate);
          if (found) {
            done();
            resolve(found);
          } else if (broken) {
            done();
            reject(broken);
          } else if (isClosed) {
            done();
            reject(
              new Error(
                `the connection closed; received: ${messages.map((m) => m.type).join(', ')}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out; received: ${messages.map((m) => m.type).join(', ')}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    closed,
    close() {
      socket.destroy();
    },
  };
}

/** A raw, logged-in connection through the gateway (TLS, cleartext ticket), at ReadyForQuery. */
export async function rawSession(
  bed: PostgresTestBed,
  session: { sessionId: string; ticket: string },
): Promise<RawConnection> {
  bed.scramTickets.forget(session.sessionId);
  const raw = await rawConnect(bed.postgres.address, { tls: { caPem: bed.caPem } });
  raw.send({
    type: 'StartupMessage',
    protocolVersion: { major: 3, minor: 0 },
    parameters: new Map([
      ['user', session.sessionId],
      ['database', 'ignored'],
    ]),
  });
  await raw.waitFor((m) => m.type === 'AuthenticationCleartextPassword');
  raw.send(encodePasswordMessage(session.ticket));
  await raw.waitFor((m) => m.type === 'ReadyForQuery');
  return raw;
}

/** The error fields of an ErrorResponse as an object. */
export function errorFields(message: BackendMessage): Record<string, string> {
  if (message.type !== 'ErrorResponse' && message.type !== 'NoticeResponse') {
    throw new Error(`not an ErrorResponse: ${message.type}`);
  }
  return Object.fromEntries(message.fields);
}
