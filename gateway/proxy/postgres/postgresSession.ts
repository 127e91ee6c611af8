/**
 * One proxied PostgreSQL session, after the client logged in with its ticket: opens the
 * recording and the gateway's own connection to the target, then relays both ways through
 * the recorded relay (gateway/proxy/relay/recordedRelay.ts), one per direction. What each
 * side is forwarded is recorded as wire bytes, one frame per socket read (FORMAT.md §5.3:
 * `p` client → target, `P` target → client, masked rows included), before it is forwarded;
 * queries, rows and tags are derived from those bytes when the recording is read
 * (shared/recording/postgresWire.ts), not here.
 *
 * What to forward is decided by the protocol tracker (protocolTracker.ts: guardrails on what
 * the client sends, masking of the rows the server returns, the gateway's own answers to
 * refused statements); this class does the login to the target, the wiring and the teardown.
 * A refused statement is recorded as a `b` event in its place among the forwarded bytes.
 *
 * Fail closed: if the recording cannot be saved, nothing more is forwarded and the client gets
 * a FATAL ErrorResponse saying so. A malformed message from either side ends this session
 * only, with a FATAL that says which side broke the protocol.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  encodeBackend,
  encodeFrontend,
  type Frame,
  type MessageReader,
  ProtocolError,
} from '../../../shared/postgres/codec.ts';
import type { EventKind } from '../../../shared/recording/recordingFormat.ts';
import { eventKinds } from '../../../shared/recording/recordingFormat.ts';
import type { Logger } from '../../logger.ts';
import type { RefusalCounts } from '../../policy/refusalCounts.ts';
import type { RecorderFactory, SessionRecorder } from '../../recorder/sessionRecorder.ts';
import type { ResourceCatalog } from '../../resources/resourceCatalog.ts';
import {
  describeSessionEnd,
  type LiveSession,
  type LiveSessions,
  type SessionEndCause,
} from '../../sessions/liveSessions.ts';
import { principalOf } from '../../sessions/sessionPrincipal.ts';
import type { ResourceRecord } from '../../store/catalogStore.ts';
import type { UserRecord } from '../../store/identityStore.ts';
import type { SessionRecord } from '../../store/sessionStore.ts';
import { RecordedRelay, type RelayBatch } from '../relay/recordedRelay.ts';
import type { CancelKey, CancelKeyRegistry } from './cancelKeys.ts';
import { errorResponse, type GatewayErrorResponse, printable, SQLSTATE } from './errorResponses.ts';
import { encodeEventJson } from './eventJson.ts';
import {
  type BlockedStatement,
  ClientEncodingChanged,
  type Decisions,
  LexingSettingChanged,
  OutOfOrder,
  PostgresProtocolTracker,
} from './protocolTracker.ts';
import { LEXING_SETTINGS_RULE, type SessionPolicy } from './sessionPolicy.ts';
import {
  connectUpstream,
  type PostgresTarget,
  sendCancelRequest,
  UpstreamError,
} from './upstream.ts';

export interface PostgresSessionContext {
  client: {
    socket: Socket | TLSSocket;
    /** The frontend reader, typed phase (after the startup packet and the password). */
    reader: MessageReader<'frontend'>;
    /** Frames already framed after the password message (normally none). */
    pending: Frame[];
    ip: string | undefined;
    port: number | undefined;
    application: string | undefined;
    /** The client's harmless startup parameters, passed on to the target. */
    parameters: ReadonlyMap<string, string>;
  };
  session: SessionRecord;
  resource: ResourceRecord;
  user: UserRecord;
  target: PostgresTarget;
  policy: SessionPolicy;
  recorders: RecorderFactory;
  resources: Pick<ResourceCatalog, 'credentialFor'>;
  liveSessions: LiveSessions;
  cancelKeys: CancelKeyRegistry;
  /** Every refused statement is counted here, per resource and rule. */
  refusals?: RefusalCounts;
  log: Logger;
  upstreamTimeoutMs?: number;
  /** Largest message accepted from the target. */
  maxServerMessageBytes?: number;
  /** Bytes allowed to wait (per direction) for the recorder or a slow reader (default 256 KiB). */
  highWaterMark?: number;
}

type SessionState = 'starting' | 'live' | 'ending' | 'ended';

const RECORDER_FAILURE_MESSAGE = 'the recording could not be saved; this session was closed';
const SETTLE_TIMEOUT_MS = 3_000;
const CLOSE_GRACE_MS = 1_000;
const TERMINATE = encodeFrontend({ type: 'Terminate' });
const AUTHENTICATION_OK = encodeBackend({ type: 'AuthenticationOk' });
const SESSION_CHANNEL = 0;
/** Bytes allowed to wait per direction for the recorder or a slow reader. */
const DEFAULT_HIGH_WATER_MARK = 256 * 1024;

export class PostgresSession {
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  private state: SessionState = 'starting';
  private pendingEnd: { cause: SessionEndCause } | undefined;
  private recorder: SessionRecorder | undefined;
  private recorderStarted: Promise<SessionRecorder> | undefined;
  private recorderFailed = false;
  private live: LiveSession | undefined;
  private cancelKey: CancelKey | undefined;
  private server: Socket | TLSSocket | undefined;
  private targetKey: { processId: number; secretKey: Buffer } | undefined;
  private toServer: RecordedRelay | undefined;
  private toClient: RecordedRelay | undefined;
  private finishing: Promise<void> | undefined;
  private tracker: PostgresProtocolTracker | undefined;
  private clientReader: MessageReader<'frontend'> | undefined;
  private serverReader: MessageReader<'backend'> | undefined;

  constructor(private readonly context: PostgresSessionContext) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
  }

  get sessionId(): string {
    return this.context.session.id;
  }

  /** Opens the recording and the target connection, then relays. Never rejects. */
  async start(): Promise<void> {
    const { session, resource, user, target, client, log } = this.context;
    this.live = this.context.liveSessions.register(session.id, session.expiresAt, (cause) =>
      this.end(cause),
    );
    client.socket.on('error', (error: Error) =>
      log.info('postgres client connection error', {
        sessionId: session.id,
        error: error.message,
      }),
    );
    client.socket.once('close', this.onClientClosed);

    const recorderStarted = this.context.recorders.start({
      sessionId: session.id,
      userId: user.id,
      resourceId: resource.id,
      protocol: 'postgres',
    });
    recorderStarted.catch(() => {});
    this.recorderStarted = recorderStarted;
    // Logging in to the target carries none of the client's data, so it may start while the
    // recorder opens; nothing is relayed before both are ready.
    const upstreamConnected = (async () => {
      const credential = await this.context.resources.credentialFor(resource);
      const upstream = await connectUpstream(
        target,
        credential?.password ?? null,
        client.parameters,
        {
          ...(this.context.upstreamTimeoutMs !== undefined && {
            timeoutMs: this.context.upstreamTimeoutMs,
          }),
          ...(this.context.maxServerMessageBytes !== undefined && {
            maxMessageBytes: this.context.maxServerMessageBytes,
          }),
          ...(this.context.policy.catalogQuery !== undefined && {
            catalogQuery: this.context.policy.catalogQuery,
          }),
        },
      );
      // Strict masking decides on the target's views from the first statement on (issue #13).
      this.context.policy.learnCatalog(upstream.catalogRows);
      return upstream;
    })();
    upstreamConnected.catch(() => {});

    try {
      this.recorder = await recorderStarted;
    } catch (error) {
      log.error('recorder could not start', { sessionId: session.id, error: String(error) });
      void upstreamConnected.then(
        (upstream) => upstream.socket.destroy(),
        () => {},
      );
      this.refuseStart(
        errorResponse(
          'FATAL',
          SQLSTATE.ioError,
          'The recording could not be started, so the session was not opened. Try again later.',
        ),
        'recording could not be started',
      );
      return;
    }
    void this.recorder.failed.then((failure) => this.onRecordFailure(failure));
    try {
      await this.recordJson(eventKinds.meta, {
        type: 'session-start',
        user: user.username,
        resource: resource.name,
        // Ids too: names can be renamed, and the API checks its row against these (issue #12).
        userId: user.id,
        resourceId: resource.id,
        // A machine identity and its token's claims (repository, run id), signed (issue #18).
        ...principalOf(session),
        target: {
          host: target.host,
          port: target.port,
          database: target.database,
          username: target.username,
        },
        client: { ip: client.ip, port: client.port, application: client.application },
      });
    } catch (error) {
      void upstreamConnected.then(
        (upstream) => upstream.socket.destroy(),
        () => {},
      );
      this.onRecordFailure(error);
      return;
    }

    let upstream: Awaited<typeof upstreamConnected>;
    try {
      upstream = await upstreamConnected;
    } catch (error) {
      const message =
        error instanceof UpstreamError
          ? error.message
          : `Could not open the session on ${resource.name}: ${String(error)}`;
      log.info('postgres upstream refused', { sessionId: session.id, error: message });
      await this.recordJson(eventKinds.meta, { type: 'refused', request: 'upstream', message })
        .then(() => undefined)
        .catch(() => {});
      this.refuseStart(
        errorResponse('FATAL', SQLSTATE.cannotConnect, printable(message)),
        `refused: ${message}`,
      );
      return;
    }

    if (this.state !== 'starting' || this.recorderFailed || this.pendingEnd) {
      upstream.socket.end(TERMINATE);
      if (this.pendingEnd) this.shutDownStarting(this.pendingEnd.cause);
      return;
    }
    const encoding = upstream.parameters.get('client_encoding');
    if (encoding !== undefined && encoding.toUpperCase() !== 'UTF8') {
      upstream.socket.end(TERMINATE);
      this.refuseStart(
        errorResponse(
          'FATAL',
          SQLSTATE.featureNotSupported,
          `${resource.name} reports client_encoding ${encoding}; the gateway needs UTF8`,
        ),
        `refused: target client_encoding ${encoding}`,
      );
      return;
    }

    // The policy's parse reads SQL as the server does with standard_conforming_strings on
    // (issue #13); a target (or role, or database) that starts sessions with it off is refused.
    const conformingStrings = upstream.parameters.get('standard_conforming_strings');
    if (this.context.policy.enforcing && conformingStrings === 'off') {
      upstream.socket.end(TERMINATE);
      const message = `${resource.name} starts sessions with standard_conforming_strings off; masking and guardrails on this database need it on (blocked by gateway rule "${LEXING_SETTINGS_RULE}"). An admin must reset it on the database or role.`;
      this.context.refusals?.count(resource.name, LEXING_SETTINGS_RULE);
      await this.recordJson(eventKinds.meta, {
        type: 'refused',
        request: 'session',
        rule: LEXING_SETTINGS_RULE,
        message,
      }).catch(() => {});
      this.refuseStart(
        errorResponse('FATAL', SQLSTATE.insufficientPrivilege, message),
        'refused: target standard_conforming_strings off',
      );
      return;
    }

    this.server = upstream.socket;
    this.targetKey = upstream.backendKey;
    const status = upstream.readyForQuery.body.toString('latin1', 0, 1);
    this.tracker = new PostgresProtocolTracker(
      this.context.policy,
      {
        blocked: this.onBlocked,
        unknownColumns: (portal) =>
          log.warn('postgres rows with unknown columns are masked to NULL', {
            sessionId: session.id,
            portal,
          }),
      },
      {
        standardConformingStrings: upstream.parameters.get('standard_conforming_strings') !== 'off',
        ...((status === 'I' || status === 'T' || status === 'E') && {
          transactionStatus: status,
        }),
      },
    );
    this.cancelKey = this.context.cancelKeys.issue(() => this.cancel());
    this.state = 'live';
    this.server.on('error', (error: Error) =>
      log.info('postgres upstream error', { sessionId: session.id, error: error.message }),
    );
    this.server.once('close', this.onServerClosed);
    this.clientReader = client.reader;
    this.serverReader = upstream.reader;

    const highWaterMark = this.context.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.toServer = new RecordedRelay({
      source: client.socket,
      sink: this.server,
      record: (bytes) => this.record(eventKinds.postgresFrontend, bytes),
      translate: this.fromClient,
      onTranslateError: (error) => this.clientBrokeProtocol(error),
      onRecordFailure: (error) => this.onRecordFailure(error),
      highWaterMark,
    });
    this.toClient = new RecordedRelay({
      source: this.server,
      sink: client.socket,
      record: (bytes) => this.record(eventKinds.postgresBackend, bytes),
      translate: this.fromServer,
      onTranslateError: (error) => this.serverBrokeProtocol(error),
      onRecordFailure: (error) => this.onRecordFailure(error),
      highWaterMark,
    });

    // The greeting: what the target said after authentication, with the gateway's cancel key.
    const cancelKey = this.cancelKey;
    this.toClient.inject((greeting) => {
      greeting.add(AUTHENTICATION_OK);
      for (const frame of upstream.parameterStatus) greeting.forward(frame.raw);
      for (const frame of upstream.notices) greeting.forward(frame.raw);
      greeting.add(encodeBackend({ type: 'BackendKeyData', ...cancelKey }));
      greeting.forward(upstream.readyForQuery.raw);
    });
    log.info('postgres session started', {
      sessionId: session.id,
      user: user.username,
      resource: resource.name,
      ip: client.ip,
      targetTls: upstream.tls,
    });

    // Messages framed during the login and not handled yet (normally none).
    if (upstream.pending.length > 0) this.relayPending(this.toClient, upstream.pending, 'server');
    if (client.pending.length > 0) this.relayPending(this.toServer, client.pending, 'client');
    client.socket.resume();
  }

  private relayPending(relay: RecordedRelay, frames: Frame[], side: 'client' | 'server'): void {
    let failure: unknown;
    relay.inject((out) => {
      try {
        if (side === 'client') this.clientFrames(frames, out);
        else this.serverFrames(frames, out);
      } catch (error) {
        failure = error ?? new Error('protocol error');
      }
    });
    if (failure === undefined) return;
    if (side === 'client') this.clientBrokeProtocol(failure);
    else this.serverBrokeProtocol(failure);
  }

  /** The live-session registry ended this session (expiry, terminate, shutdown). */
  end(cause: SessionEndCause): void {
    if (this.state === 'starting') {
      this.pendingEnd = { cause };
      return;
    }
    if (this.state !== 'live') return;
    const { resource } = this.context;
    const message = describeSessionEnd(cause, resource.name);
    const reason =
      cause.kind === 'expired'
        ? `expired at ${new Date(cause.at).toISOString()} (grant limit)`
        : cause.kind === 'terminated'
          ? (cause.reason ?? 'terminated')
          : 'gateway shut down';
    this.cancelOnTarget();
    this.shutDown(errorResponse('FATAL', SQLSTATE.adminShutdown, printable(message)), reason);
  }

  /**
   * Ending a session asks the target to stop what runs there first (issue #14): the Terminate
   * sent on close is read only after the running statement ends, so a long query (or a
   * `pg_sleep`) would otherwise go on on the target after the session is gone. A CancelRequest
   * on its own connection interrupts it at once. Not recorded: the session's record ends with
   * the reason; the cancel is the gateway's own housekeeping.
   */
  private cancelOnTarget(): void {
    const key = this.targetKey;
    if (key === undefined) return;
    const { target, log } = this.context;
    sendCancelRequest(target, key).catch((error: unknown) =>
      log.warn('postgres cancel at session end failed', {
        sessionId: this.sessionId,
        error: String(error),
      }),
    );
  }

  // ------------------------------------------------------------------ relaying

  /**
   * One read from the client: its messages go through the tracker, what it forwards is
   * recorded (`p`) and written to the target. A refusal that is due now is answered on the
   * client's side, recorded with the rest of what the client gets.
   */
  private readonly fromClient = (chunk: Buffer, out: RelayBatch): void => {
    const frames = this.clientReader!.push(chunk);
    this.clientFrames(frames, out);
  };

  private clientFrames(frames: readonly Frame[], out: RelayBatch): void {
    const tracker = this.tracker!;
    for (const frame of frames) {
      if (this.state !== 'live') return;
      tracker.client(frame, out);
    }
    if (tracker.answersDue) this.toClient!.inject((answers) => tracker.answer(answers));
  }

  /** One read from the target: forwarded (masked) to the client and recorded (`P`) as such. */
  private readonly fromServer = (chunk: Buffer, out: RelayBatch): void => {
    const frames = this.serverReader!.push(chunk);
    this.serverFrames(frames, out);
  };

  private serverFrames(frames: readonly Frame[], out: RelayBatch): void {
    const tracker = this.tracker!;
    for (const frame of frames) {
      if (this.state !== 'live') return;
      tracker.server(frame, out);
      if (tracker.releaseDue) this.releaseHeld(out);
    }
  }

  /**
   * Client messages the tracker held until the server answered what came before them (a
   * statement whose reading depends on the lexing settings): decided now, forwarded to the
   * target in order; a refusal among them is answered here, after what the server just said.
   */
  private releaseHeld(toClient: RelayBatch): void {
    const tracker = this.tracker!;
    let failure: unknown;
    this.toServer!.inject((out) => {
      try {
        tracker.release(out);
      } catch (error) {
        failure = error ?? new Error('protocol error');
      }
    });
    if (failure !== undefined) {
      this.clientBrokeProtocol(failure);
      return;
    }
    if (tracker.answersDue) tracker.answer(toClient);
  }

  /** A refused statement: recorded (`b`) in its place among the forwarded bytes. */
  private readonly onBlocked = (verdict: BlockedStatement, query: string, out: Decisions): void => {
    (out as RelayBatch).recordBetween(() =>
      this.recordJson(eventKinds.blocked, {
        sql: verdict.statement,
        rule: verdict.rule,
        reason: verdict.reason,
        ...(query !== '' && query !== verdict.statement && { query }),
      }),
    );
    const resource = this.context.resource.name;
    this.context.log.info('postgres statement blocked', {
      sessionId: this.sessionId,
      resource,
      rule: verdict.rule,
      refusals: this.context.refusals?.count(resource, verdict.rule),
    });
  };

  // ------------------------------------------------------------------ recording

  private record(kind: EventKind, data: Uint8Array): Promise<void> {
    if (this.recorderFailed || !this.recorder) {
      return Promise.reject(new Error('the recorder failed'));
    }
    return this.recorder.append(SESSION_CHANNEL, kind, data);
  }

  private recordJson(kind: EventKind, value: unknown): Promise<void> {
    if (this.recorderFailed || !this.recorder) {
      return Promise.reject(new Error('the recorder failed'));
    }
    return this.recorder.append(SESSION_CHANNEL, kind, encodeEventJson(value));
  }

  // ------------------------------------------------------------------ cancel

  private cancel(): void {
    const key = this.targetKey;
    if (this.state !== 'live' || key === undefined) return;
    const { target, log } = this.context;
    void this.recordJson(eventKinds.meta, { type: 'cancel' })
      .then(() => sendCancelRequest(target, key))
      .then(
        () => log.info('postgres query cancelled', { sessionId: this.sessionId }),
        (error: unknown) =>
          log.warn('postgres cancel failed', { sessionId: this.sessionId, error: String(error) }),
      );
  }

  // ------------------------------------------------------------------ ending

  private clientBrokeProtocol(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.context.log.info('postgres client broke the protocol', {
      sessionId: this.sessionId,
      error: message,
    });
    const code = error instanceof ProtocolError ? error.sqlState : SQLSTATE.protocolViolation;
    this.shutDown(
      errorResponse('FATAL', code, printable(`invalid message from the client: ${message}`)),
      `client protocol error: ${message}`,
      { forwardQueued: false },
    );
  }

  private serverBrokeProtocol(error: unknown): void {
    const name = this.context.resource.name;
    if (error instanceof LexingSettingChanged) {
      this.context.refusals?.count(name, LEXING_SETTINGS_RULE);
      this.shutDown(
        errorResponse(
          'FATAL',
          SQLSTATE.insufficientPrivilege,
          `${error.setting} was changed to ${printable(error.value)} (blocked by gateway rule "${LEXING_SETTINGS_RULE}"): masking and guardrails on ${name} read SQL with it on, so this session was closed`,
        ),
        `${error.setting} changed to ${error.value}`,
      );
      return;
    }
    if (error instanceof ClientEncodingChanged) {
      this.shutDown(
        errorResponse(
          'FATAL',
          SQLSTATE.featureNotSupported,
          `client_encoding was changed to ${printable(error.encoding)}; the gateway reads sessions as UTF-8, so this session was closed`,
        ),
        `client_encoding changed to ${error.encoding}`,
      );
      return;
    }
    const message =
      error instanceof OutOfOrder
        ? `it sent a ${error.message}`
        : error instanceof Error
          ? error.message
          : String(error);
    this.context.log.warn('postgres server broke the protocol', {
      sessionId: this.sessionId,
      error: message,
    });
    this.shutDown(
      errorResponse(
        'FATAL',
        SQLSTATE.protocolViolation,
        printable(
          `the database server ${name} broke the protocol (${message}); the session was closed`,
        ),
      ),
      `target protocol error: ${message}`,
    );
  }

  /** Fail closed: nothing more is forwarded, the client is told, both connections close. */
  private onRecordFailure(error: unknown): void {
    if (this.recorderFailed) return;
    if (this.state === 'ending' || this.state === 'ended') return;
    this.recorderFailed = true;
    this.context.log.error('recording failed; closing the postgres session', {
      sessionId: this.sessionId,
      error: String(error),
    });
    const starting = this.state === 'starting';
    this.state = 'ending';
    this.toClient?.abort();
    this.toServer?.abort();
    this.stopReading();
    const client = this.context.client.socket;
    if (!starting || this.server === undefined) {
      // Before the greeting the client still waits for authentication to finish.
      client.end(errorResponse('FATAL', SQLSTATE.ioError, RECORDER_FAILURE_MESSAGE).bytes);
    }
    this.server?.end(TERMINATE);
    this.destroySoon();
    void this.finish(`recording failed: ${String((error as Error)?.message ?? error)}`, false);
  }

  /**
   * Ends a live session from the gateway's side: stop reading both sides, send `notice` to the
   * client after what is already on its way (recorded), close the target connection, then the
   * client's.
   */
  private shutDown(
    notice: GatewayErrorResponse,
    reason: string,
    options: { forwardQueued?: boolean } = {},
  ): void {
    if (this.state !== 'live') return;
    this.state = 'ending';
    this.context.log.info('ending postgres session', { sessionId: this.sessionId, reason });
    this.stopReading();
    this.toServer?.abort();
    this.server?.end(TERMINATE);
    const toClient = this.toClient!;
    if (options.forwardQueued === false) toClient.abort();
    const closing = (async () => {
      if (!toClient.isAborted) {
        toClient.inject((out) => out.add(notice.bytes));
        await withTimeout(toClient.idle(), SETTLE_TIMEOUT_MS);
        if (!toClient.isAborted) this.context.client.socket.end();
      } else {
        this.context.client.socket.end(notice.bytes);
      }
    })();
    void closing.then(() => {
      this.destroySoon();
      return this.finish(reason);
    });
  }

  /** end() arrived while the session was still starting. */
  private shutDownStarting(cause: SessionEndCause): void {
    const message = describeSessionEnd(cause, this.context.resource.name);
    this.refuseStart(
      errorResponse('FATAL', SQLSTATE.adminShutdown, printable(message)),
      cause.kind === 'shutdown' ? 'gateway shut down' : 'ended before it started',
    );
  }

  private refuseStart(notice: GatewayErrorResponse, reason: string): void {
    if (this.state === 'ending' || this.state === 'ended') return;
    this.state = 'ending';
    this.context.client.socket.end(notice.bytes);
    this.destroySoon();
    void this.finish(reason);
  }

  private readonly onClientClosed = () => {
    if (this.state === 'starting') {
      this.state = 'ending';
      void this.finish('closed by the client');
      return;
    }
    if (this.state !== 'live') return;
    this.state = 'ending';
    this.stopReading();
    // What the client sent before it left (a Terminate, the last queries) was recorded; let it
    // reach the target, then close that connection too.
    void withTimeout(this.toServer!.idle(), SETTLE_TIMEOUT_MS).then(() => {
      this.server?.end();
      this.destroySoon();
      return this.finish('closed by the client');
    });
  };

  private readonly onServerClosed = () => {
    if (this.state !== 'live') return;
    const name = this.context.resource.name;
    const tracker = this.tracker!;
    if (tracker.serverSentFatal || tracker.clientTerminated) {
      // The target said why (its own FATAL), or did what the client asked (Terminate).
      this.state = 'ending';
      this.stopReading();
      void withTimeout(this.toClient!.idle(), SETTLE_TIMEOUT_MS).then(() => {
        this.context.client.socket.end();
        this.destroySoon();
        return this.finish(
          tracker.clientTerminated ? 'closed by the client' : 'target closed the connection',
        );
      });
      return;
    }
    this.shutDown(
      errorResponse(
        'FATAL',
        SQLSTATE.connectionFailure,
        `the connection to ${name} was closed by the database server`,
      ),
      'target closed the connection',
    );
  };

  private stopReading(): void {
    this.context.client.socket.pause();
    this.server?.pause();
    this.toServer?.stopReading();
    this.toClient?.stopReading();
  }

  private destroySoon(): void {
    const client = this.context.client.socket;
    const server = this.server;
    setTimeout(() => {
      client.destroy();
      server?.destroy();
    }, CLOSE_GRACE_MS).unref();
  }

  private finish(reason: string, recordEnd = true): Promise<void> {
    this.finishing ??= (async () => {
      if (this.cancelKey) this.context.cancelKeys.revoke(this.cancelKey);
      await withTimeout(
        Promise.all([this.toClient?.idle(), this.toServer?.idle()]),
        SETTLE_TIMEOUT_MS,
      );
      // The client may leave while the recorder is still opening: it is closed all the same.
      const recorder = await this.recorderStarted?.catch(() => undefined);
      if (recorder) {
        if (recordEnd && !this.recorderFailed) {
          await recorder
            .appendJson(SESSION_CHANNEL, eventKinds.meta, { type: 'session-end', reason })
            .catch(() => {});
        }
        await recorder.close().catch((error: unknown) =>
          this.context.log.error('recorder close failed', {
            sessionId: this.sessionId,
            error: String(error),
          }),
        );
      }
      await this.live?.finish(reason);
      this.state = 'ended';
      this.context.log.info('postgres session ended', { sessionId: this.sessionId, reason });
      this.resolveClosed();
    })();
    return this.finishing;
  }
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    void promise.then(done, done);
  });
}
