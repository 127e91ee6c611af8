/**
 * One proxied PostgreSQL session, after the client logged in with its ticket: opens the
 * recording and the gateway's own connection to the target, then relays messages both ways,
 * recording each before it is forwarded (FORMAT.md §5, §5.2), applying the session's
 * guardrails to what the client sends and its masking to the rows the server returns.
 *
 * Client → target: Query (recorded `q`, checked by the guardrails), Parse (checked; its text
 * remembered), Bind (parameters remembered), Execute (recorded `q` with statement text and
 * parameters), CopyData (`y` channel 1); everything else is forwarded as received.
 * Target → client: RowDescription (`d`), DataRow (masked, then `D` as sent), CommandComplete
 * (`c`), ErrorResponse (`E`), NoticeResponse (`N`), CopyData (`y` channel 0). Messages the
 * gateway does not change are forwarded as the bytes received, in as few writes as possible.
 *
 * Fail closed: if the recording cannot be saved, nothing more is forwarded and the client gets
 * a FATAL ErrorResponse saying so. A malformed message from either side ends this session
 * only, with a FATAL that says which side broke the protocol.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import {
  type Bind,
  decodeBackend,
  decodeDataRow,
  decodeFrontend,
  encodeBackend,
  encodeDataRow,
  encodeFrontend,
  type FieldDescription,
  type Frame,
  type MessageReader,
  type NoticeFieldMap,
  ProtocolError,
  type TransactionStatus,
} from '../../../shared/postgres/codec.ts';
import type { EventKind } from '../../../shared/recording/recordingFormat.ts';
import { eventKinds } from '../../../shared/recording/recordingFormat.ts';
import type { Logger } from '../../logger.ts';
import type { MaskPlan } from '../../policy/masking.ts';
import type { RecorderFactory, SessionRecorder } from '../../recorder/sessionRecorder.ts';
import type { ResourceCatalog } from '../../resources/resourceCatalog.ts';
import {
  describeSessionEnd,
  type LiveSession,
  type LiveSessions,
  type SessionEndCause,
} from '../../sessions/liveSessions.ts';
import type { ResourceRecord } from '../../store/catalogStore.ts';
import type { UserRecord } from '../../store/identityStore.ts';
import type { SessionRecord } from '../../store/sessionStore.ts';
import type { CancelKey, CancelKeyRegistry } from './cancelKeys.ts';
import { errorResponse, type GatewayErrorResponse, printable, SQLSTATE } from './errorResponses.ts';
import { encodeEventJson } from './eventJson.ts';
import { OutgoingBatch, RecordedForwarder } from './recordedForwarder.ts';
import {
  type Expected,
  type Portal,
  type PreparedStatement,
  type RecordedParam,
  ResponseQueue,
} from './responseQueue.ts';
import type { SessionPolicy, StatementVerdict } from './sessionPolicy.ts';
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
  log: Logger;
  upstreamTimeoutMs?: number;
  /** Largest message accepted from the target. */
  maxServerMessageBytes?: number;
  /** Bytes allowed to wait (per direction) for the recorder or a slow reader (default 256 KiB). */
  highWaterMark?: number;
}

type SessionState = 'starting' | 'live' | 'ending' | 'ended';

/** How the rows of a result are masked: a plan, nothing to do, or (columns unknown) all NULL. */
type RowMasking = MaskPlan | 'none' | 'unknown';

const RECORDER_FAILURE_MESSAGE = 'the recording could not be saved; this session was closed';
const SETTLE_TIMEOUT_MS = 3_000;
const CLOSE_GRACE_MS = 1_000;
const TERMINATE = encodeFrontend({ type: 'Terminate' });
const EMPTY_QUERY_JSON = Buffer.from(JSON.stringify({ empty: true }), 'utf8');
const AUTHENTICATION_OK = encodeBackend({ type: 'AuthenticationOk' });
const SESSION_CHANNEL = 0;
/** Messages handled, recorded and forwarded as one batch (see pump). */
const FRAMES_PER_BATCH = 256;
/**
 * Prepared statements and portals remembered per session. Past these the oldest are forgotten:
 * their rows are still masked (the gateway then asks for the columns itself) but their `q`
 * events carry no statement text.
 */
const MAX_STATEMENTS = 10_000;
const MAX_PORTALS = 1_000;
/** Bytes of a socket read handed to the reader at once (see pump). */
const INBOUND_SLICE_BYTES = 16 * 1024;
const CLIENT_COPY_CHANNEL = 1;

/** A server message that does not fit what the client asked. */
class OutOfOrder extends Error {}

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
  private toServer: RecordedForwarder | undefined;
  private toClient: RecordedForwarder | undefined;
  private finishing: Promise<void> | undefined;

  /** What was read from each side and not handled yet (see pump). */
  private fromClient: Inbound<'frontend'> | undefined;
  private fromServer: Inbound<'backend'> | undefined;

  // Protocol state.
  private readonly expected = new ResponseQueue();
  private readonly statements = new Map<string, PreparedStatement>();
  private readonly portals = new Map<string, Portal>();
  private transactionStatus: TransactionStatus = 'I';
  private standardConformingStrings = true;
  /** A statement of this extended-protocol batch was blocked: drop the rest up to Sync. */
  private swallowingUntilSync = false;
  /** The server reported an error in the extended protocol and skips messages up to Sync. */
  private serverSkippingUntilSync = false;
  /** Masking of the simple query's current result set (between RowDescription and its end). */
  private simpleRows: RowMasking | undefined;
  private lastRowDescription:
    | { body: Buffer; fields: FieldDescription[]; json: Buffer }
    | undefined;
  private lastCommandComplete: { body: Buffer; json: Buffer } | undefined;
  private serverSentFatal = false;
  /** The client sent Terminate: the target closing the connection next is the normal end. */
  private clientTerminated = false;
  private readonly masking: boolean;

  constructor(private readonly context: PostgresSessionContext) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    this.masking = context.policy.masker.hasRules;
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
      return connectUpstream(target, credential?.password ?? null, client.parameters, {
        ...(this.context.upstreamTimeoutMs !== undefined && {
          timeoutMs: this.context.upstreamTimeoutMs,
        }),
        ...(this.context.maxServerMessageBytes !== undefined && {
          maxMessageBytes: this.context.maxServerMessageBytes,
        }),
      });
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

    this.server = upstream.socket;
    this.targetKey = upstream.backendKey;
    this.standardConformingStrings =
      upstream.parameters.get('standard_conforming_strings') !== 'off';
    const status = upstream.readyForQuery.body.toString('latin1', 0, 1);
    if (status === 'I' || status === 'T' || status === 'E') this.transactionStatus = status;
    this.cancelKey = this.context.cancelKeys.issue(() => this.cancel());
    this.state = 'live';
    this.server.on('error', (error: Error) =>
      log.info('postgres upstream error', { sessionId: session.id, error: error.message }),
    );
    this.server.once('close', this.onServerClosed);

    this.toServer = new RecordedForwarder({
      sink: this.server,
      onRecordFailure: (error) => this.onRecordFailure(error),
      ...(this.context.highWaterMark !== undefined && {
        highWaterMark: this.context.highWaterMark,
      }),
    });
    this.toServer.setSource(client.socket);
    this.toClient = new RecordedForwarder({
      sink: client.socket,
      onRecordFailure: (error) => this.onRecordFailure(error),
      ...(this.context.highWaterMark !== undefined && {
        highWaterMark: this.context.highWaterMark,
      }),
    });
    this.toClient.setSource(this.server);

    // The greeting: what the target said after authentication, with the gateway's cancel key.
    const greeting = new OutgoingBatch();
    greeting.add(AUTHENTICATION_OK);
    for (const frame of upstream.parameterStatus) greeting.forward(frame.raw);
    for (const frame of upstream.notices) {
      const notice = decodeBackend(frame);
      if (notice.type === 'NoticeResponse') {
        greeting.record(this.recordJson(eventKinds.notice, { fields: fieldsOf(notice.fields) }));
      }
      greeting.forward(frame.raw);
    }
    greeting.add(encodeBackend({ type: 'BackendKeyData', ...this.cancelKey }));
    greeting.forward(upstream.readyForQuery.raw);
    greeting.sendTo(this.toClient);
    log.info('postgres session started', {
      sessionId: session.id,
      user: user.username,
      resource: resource.name,
      ip: client.ip,
      targetTls: upstream.tls,
    });

    this.fromClient = new Inbound(client.reader, client.pending);
    this.fromServer = new Inbound(upstream.reader, upstream.pending);
    this.server.on('data', this.onServerData);
    client.socket.on('data', this.onClientData);
    this.pumpServer();
    this.pumpClient();
    client.socket.resume();
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
    this.shutDown(errorResponse('FATAL', SQLSTATE.adminShutdown, printable(message)), reason);
  }

  // ------------------------------------------------------------------ client → target

  private readonly onClientData = (chunk: Buffer) => {
    if (this.state !== 'live') return;
    this.fromClient!.add(chunk);
    this.pumpClient();
  };

  private readonly pumpClient = (): void => {
    this.pump(this.fromClient!, this.toServer!, this.pumpClient, (frame, out) =>
      this.handleClientFrame(frame, out),
    );
  };

  private handleClientFrame(frame: Frame, out: OutgoingBatch): void {
    const type = frame.type;
    if (this.swallowingUntilSync && type !== 'S' && type !== 'X') return;
    switch (type) {
      case 'Q': {
        const { sql } = decodeFrontend(frame) as { sql: string };
        out.record(this.recordJson(eventKinds.query, { protocol: 'simple', sql }));
        const verdict = this.context.policy.check(sql, this.standardConformingStrings);
        if (verdict.blocked) {
          this.block(verdict, out, true);
          return;
        }
        out.forward(frame.raw);
        this.expect({ kind: 'query' });
        return;
      }
      case 'P': {
        const parse = decodeFrontend(frame) as { statement: string; sql: string };
        const verdict = this.context.policy.check(parse.sql, this.standardConformingStrings);
        if (verdict.blocked) {
          this.block(verdict, out, false);
          this.swallowingUntilSync = true;
          return;
        }
        remember(this.statements, parse.statement, MAX_STATEMENTS, {
          name: parse.statement,
          sql: parse.sql,
          fields: undefined,
          describeRequested: false,
        });
        out.forward(frame.raw);
        this.expect({ kind: 'parse' });
        return;
      }
      case 'B': {
        const bind = decodeFrontend(frame) as Bind;
        remember(this.portals, bind.portal, MAX_PORTALS, {
          name: bind.portal,
          statementName: bind.statement,
          statement: this.statements.get(bind.statement),
          params: recordedParams(bind),
          paramFormats: bind.parameterFormats,
          resultFormats: bind.resultFormats,
          fields: undefined,
          describeRequested: false,
        });
        out.forward(frame.raw);
        this.expect({ kind: 'bind' });
        return;
      }
      case 'D': {
        const describe = decodeFrontend(frame) as { target: 'statement' | 'portal'; name: string };
        if (describe.target === 'statement') {
          const statement = this.statements.get(describe.name);
          if (statement) statement.describeRequested = true;
          this.expect({ kind: 'describe', target: 'statement', statement });
        } else {
          const portal = this.portals.get(describe.name);
          if (portal) portal.describeRequested = true;
          this.expect({ kind: 'describe', target: 'portal', portal });
        }
        out.forward(frame.raw);
        return;
      }
      case 'E': {
        const execute = decodeFrontend(frame) as { portal: string; maxRows: number };
        const portal = this.portals.get(execute.portal);
        out.record(
          this.recordJson(eventKinds.query, {
            protocol: 'extended',
            sql: portal?.statement?.sql ?? null,
            statement: portal?.statementName ?? null,
            portal: execute.portal,
            params: portal?.params ?? [],
            paramFormats: portal?.paramFormats ?? [],
            ...(execute.maxRows > 0 && { maxRows: execute.maxRows }),
          }),
        );
        if (
          this.masking &&
          portal !== undefined &&
          !portal.describeRequested &&
          !portal.statement?.describeRequested &&
          !this.serverSkippingUntilSync
        ) {
          // The client never asked for the columns, but masking needs them before the rows.
          out.add(encodeFrontend({ type: 'Describe', target: 'portal', name: portal.name }));
          portal.describeRequested = true;
          this.expect({ kind: 'injectedDescribe', portal });
        }
        out.forward(frame.raw);
        this.expect({ kind: 'execute', portal });
        return;
      }
      case 'C': {
        const close = decodeFrontend(frame) as { target: 'statement' | 'portal'; name: string };
        if (close.target === 'statement') this.statements.delete(close.name);
        else this.portals.delete(close.name);
        out.forward(frame.raw);
        this.expect({ kind: 'close' });
        return;
      }
      case 'S':
        this.swallowingUntilSync = false;
        this.serverSkippingUntilSync = false;
        out.forward(frame.raw);
        this.expect({ kind: 'sync' });
        return;
      case 'd':
        out.record(this.record(eventKinds.copyData, frame.body, CLIENT_COPY_CHANNEL));
        out.forward(frame.raw);
        return;
      case 'F': {
        if (this.context.policy.hasGuardrails) {
          this.block(
            {
              blocked: true,
              rule: 'function_call',
              statement: '',
              reason:
                'fast-path function calls bypass the guardrails, so they are not allowed on this database; call the function in a query instead',
              code: SQLSTATE.insufficientPrivilege,
              builtIn: true,
            },
            out,
            true,
          );
          return;
        }
        const call = decodeFrontend(frame) as { functionOid: number };
        out.record(
          this.recordJson(eventKinds.meta, {
            type: 'function-call',
            functionOid: call.functionOid,
          }),
        );
        out.forward(frame.raw);
        this.expect({ kind: 'query' });
        return;
      }
      case 'X':
        this.clientTerminated = true;
        out.forward(frame.raw);
        return;
      case 'H':
      case 'c':
      case 'f':
        out.forward(frame.raw);
        return;
      default:
        // 'p' (a password message) has no place after login.
        throw new ProtocolError(
          'unknown_message',
          `Unexpected message '${type}' from the client after login`,
        );
    }
  }

  /** Answers a blocked statement in place of the server: recorded `b`, then an ErrorResponse. */
  private block(
    verdict: Extract<StatementVerdict, { blocked: true }>,
    out: OutgoingBatch,
    ready: boolean,
  ): void {
    out.record(
      this.recordJson(eventKinds.blocked, {
        sql: verdict.statement,
        rule: verdict.rule,
        reason: verdict.reason,
      }),
    );
    const message = verdict.builtIn
      ? printable(`blocked by the gateway: ${verdict.reason}`)
      : printable(`blocked by guardrail "${verdict.rule}": ${verdict.reason}`);
    const hint = verdict.builtIn
      ? undefined
      : 'Nothing of this query was sent to the database. Ask an admin if you need to run it.';
    this.context.log.info('postgres statement blocked', {
      sessionId: this.sessionId,
      rule: verdict.rule,
    });
    this.expect({
      kind: 'refusal',
      error: errorResponse('ERROR', verdict.code, message, hint),
      ready,
    });
  }

  private expect(expected: Expected): void {
    // While the server skips up to Sync, it answers nothing before it (and nor does the gateway).
    if (this.serverSkippingUntilSync && expected.kind !== 'sync') return;
    this.expected.push(expected);
    if (this.expected.length === 1 && expected.kind === 'refusal') {
      const out = new OutgoingBatch();
      this.answerRefusals(out);
      out.sendTo(this.toClient!);
    }
  }

  /** Sends the gateway's own answers that are now due (everything before them was answered). */
  private answerRefusals(out: OutgoingBatch): void {
    for (let head = this.expected.head; head?.kind === 'refusal'; head = this.expected.head) {
      this.expected.shift();
      out.record(this.recordJson(eventKinds.error, { fields: head.error.fields }));
      out.add(head.error.bytes);
      if (head.ready) {
        out.add(encodeBackend({ type: 'ReadyForQuery', status: this.transactionStatus }));
      }
    }
  }

  // ------------------------------------------------------------------ target → client

  private readonly onServerData = (chunk: Buffer) => {
    if (this.state !== 'live') return;
    this.fromServer!.add(chunk);
    this.pumpServer();
  };

  private readonly pumpServer = (): void => {
    this.pump(this.fromServer!, this.toClient!, this.pumpServer, (frame, out) =>
      this.handleServerFrame(frame, out),
    );
  };

  /**
   * Handles what one side sent, a slice at a time, while `forwarder` has room; then waits for
   * it to catch up (the socket is paused meanwhile, see RecordedForwarder). The reader is fed
   * at most INBOUND_SLICE_BYTES at once and at most FRAMES_PER_BATCH messages are recorded and
   * forwarded as one batch: a 64 KiB read can hold 5,000 small DataRows, and parsing and
   * recording them all at once would keep them alive long enough to be promoted to the old
   * heap. Taken a slice at a time, the work in flight — and the memory — stay small.
   */
  private pump<D extends 'frontend' | 'backend'>(
    inbound: Inbound<D>,
    forwarder: RecordedForwarder,
    resume: () => void,
    handle: (frame: Frame, out: OutgoingBatch) => void,
  ): void {
    while (this.state === 'live') {
      if (!forwarder.hasRoom) {
        forwarder.whenRoom(resume);
        return;
      }
      let frames: Frame[] | undefined;
      try {
        frames = inbound.next(FRAMES_PER_BATCH);
      } catch (error) {
        this.brokeProtocol(forwarder, error);
        return;
      }
      if (frames === undefined) return;
      const out = new OutgoingBatch();
      try {
        for (const frame of frames) {
          if (this.state !== 'live') break;
          handle(frame, out);
        }
      } catch (error) {
        // What came before the bad message is delivered; nothing after it.
        out.sendTo(forwarder);
        this.brokeProtocol(forwarder, error);
        return;
      }
      out.sendTo(forwarder);
    }
  }

  private brokeProtocol(forwarder: RecordedForwarder, error: unknown): void {
    if (forwarder === this.toClient) this.serverBrokeProtocol(error);
    else this.clientBrokeProtocol(error);
  }

  private handleServerFrame(frame: Frame, out: OutgoingBatch): void {
    const type = frame.type;
    if (type === 'D') {
      this.relayDataRow(frame, out);
      return;
    }
    const head = this.expected.head;
    switch (type) {
      case 'T': {
        const { fields, json } = this.rowDescription(frame);
        if (head?.kind === 'injectedDescribe') {
          head.portal.fields = fields;
          this.answered();
          this.answerRefusals(out);
          return; // the client did not ask for it
        }
        out.record(this.record(eventKinds.rowDescription, json));
        if (head?.kind === 'query') {
          this.simpleRows = this.masking
            ? this.context.policy.masker.forColumns(fields.map(resultColumn))
            : 'none';
        } else if (head?.kind === 'describe') {
          if (head.target === 'statement' && head.statement) head.statement.fields = fields;
          if (head.target === 'portal' && head.portal) head.portal.fields = fields;
          this.answered();
        } else {
          throw new OutOfOrder('RowDescription that answers no query or Describe');
        }
        break;
      }
      case 'n': // NoData
        if (head?.kind === 'injectedDescribe') {
          head.portal.fields = null;
          this.answered();
          this.answerRefusals(out);
          return;
        }
        if (head?.kind !== 'describe') throw new OutOfOrder('NoData that answers no Describe');
        if (head.target === 'statement' && head.statement) head.statement.fields = null;
        if (head.target === 'portal' && head.portal) head.portal.fields = null;
        this.answered();
        break;
      case 't': // ParameterDescription, the first half of the answer to Describe (statement)
        if (head?.kind !== 'describe' || head.target !== 'statement') {
          throw new OutOfOrder('ParameterDescription that answers no Describe');
        }
        break;
      case '1':
      case '2':
      case '3': {
        const kind = type === '1' ? 'parse' : type === '2' ? 'bind' : 'close';
        if (head?.kind !== kind) throw new OutOfOrder(`${completeName(type)} without a ${kind}`);
        this.answered();
        break;
      }
      case 'C':
      case 'I': {
        out.record(this.record(eventKinds.commandComplete, this.commandComplete(frame)));
        if (head?.kind === 'query') this.simpleRows = undefined;
        else if (head?.kind === 'execute') this.answered();
        else
          throw new OutOfOrder(
            `${type === 'C' ? 'CommandComplete' : 'EmptyQueryResponse'} that answers no query`,
          );
        break;
      }
      case 's': // PortalSuspended: the Execute's row limit was reached
        if (head?.kind !== 'execute') throw new OutOfOrder('PortalSuspended without an Execute');
        this.answered();
        break;
      case 'E': {
        const { fields } = decodeBackend(frame) as { fields: NoticeFieldMap };
        out.record(this.recordJson(eventKinds.error, { fields: fieldsOf(fields) }));
        if (fields.get('S') === 'FATAL' || fields.get('S') === 'PANIC') this.serverSentFatal = true;
        if (head?.kind === 'query') {
          this.simpleRows = undefined;
        } else if (head !== undefined && head.kind !== 'sync') {
          // Extended protocol: the server now skips every message up to Sync.
          if (!this.expected.dropUntilSync()) this.serverSkippingUntilSync = true;
        }
        break;
      }
      case 'N': {
        const { fields } = decodeBackend(frame) as { fields: NoticeFieldMap };
        out.record(this.recordJson(eventKinds.notice, { fields: fieldsOf(fields) }));
        break;
      }
      case 'Z': {
        if (head?.kind !== 'query' && head?.kind !== 'sync') {
          throw new OutOfOrder('ReadyForQuery that ends no query or Sync');
        }
        const status = frame.body.toString('latin1', 0, 1);
        if (status !== 'I' && status !== 'T' && status !== 'E') {
          throw new ProtocolError('malformed', `ReadyForQuery with status '${status}'`);
        }
        this.transactionStatus = status;
        this.simpleRows = undefined;
        this.answered();
        // The ReadyForQuery goes out before any refusal that was waiting for it.
        out.forward(frame.raw);
        this.answerRefusals(out);
        return;
      }
      case 'S': {
        const parameter = decodeBackend(frame) as { name: string; value: string };
        if (parameter.name === 'client_encoding' && parameter.value.toUpperCase() !== 'UTF8') {
          throw new ClientEncodingChanged(parameter.value);
        }
        if (parameter.name === 'standard_conforming_strings') {
          this.standardConformingStrings = parameter.value !== 'off';
        }
        out.record(
          this.recordJson(eventKinds.meta, {
            type: 'parameter-status',
            name: parameter.name,
            value: parameter.value,
          }),
        );
        break;
      }
      case 'A': {
        const notification = decodeBackend(frame) as { channel: string; payload: string };
        out.record(
          this.recordJson(eventKinds.meta, {
            type: 'notification',
            channel: notification.channel,
            payload: notification.payload,
          }),
        );
        break;
      }
      case 'd':
        out.record(this.record(eventKinds.copyData, frame.body, SESSION_CHANNEL));
        break;
      case 'G': // CopyInResponse
      case 'H': // CopyOutResponse
      case 'W': // CopyBothResponse
      case 'c': // CopyDone
      case 'V': // FunctionCallResponse
        if (head?.kind !== 'query' && head?.kind !== 'execute') {
          throw new OutOfOrder(`message '${type}' that answers no query`);
        }
        break;
      default:
        // Authentication, BackendKeyData, NegotiateProtocolVersion: only during login.
        throw new OutOfOrder(`message '${type}' that belongs to the login, not to a session`);
    }
    out.forward(frame.raw);
    if (this.expected.head?.kind === 'refusal') this.answerRefusals(out);
  }

  private answered(): void {
    this.expected.shift();
  }

  /**
   * The RowDescription's fields and its `d` event. A client repeating a query gets the same
   * RowDescription every time: the last one is kept, so it is decoded and encoded once.
   */
  private rowDescription(frame: Frame): { fields: FieldDescription[]; json: Buffer } {
    const last = this.lastRowDescription;
    if (last?.body.equals(frame.body)) return last;
    const { fields } = decodeBackend(frame) as { fields: FieldDescription[] };
    const json = Buffer.from(JSON.stringify({ columns: columnsOf(fields) }), 'utf8');
    this.lastRowDescription = { body: Buffer.from(frame.body), fields, json };
    return this.lastRowDescription;
  }

  /** The `c` event of a CommandComplete or EmptyQueryResponse (the last tag's is kept). */
  private commandComplete(frame: Frame): Buffer {
    if (frame.type === 'I') return EMPTY_QUERY_JSON;
    const last = this.lastCommandComplete;
    if (last?.body.equals(frame.body)) return last.json;
    const { tag } = decodeBackend(frame) as { tag: string };
    const json = Buffer.from(JSON.stringify({ tag }), 'utf8');
    this.lastCommandComplete = { body: Buffer.from(frame.body), json };
    return json;
  }

  private relayDataRow(frame: Frame, out: OutgoingBatch): void {
    const head = this.expected.head;
    let masking: RowMasking;
    if (head?.kind === 'query') {
      if (this.simpleRows === undefined) throw new OutOfOrder('DataRow before its RowDescription');
      masking = this.simpleRows;
    } else if (head?.kind === 'execute') {
      masking = this.masking ? this.portalMasking(head.portal) : 'none';
    } else {
      throw new OutOfOrder('DataRow that answers no query');
    }
    if (masking === 'none' || (masking !== 'unknown' && !masking.active)) {
      out.record(this.record(eventKinds.dataRow, frame.body));
      out.forward(frame.raw);
      return;
    }
    const { values } = decodeDataRow(frame.body);
    let masked: readonly (Buffer | null)[];
    if (masking === 'unknown') {
      masked = values.map(() => null);
    } else {
      const result = this.context.policy.masker.maskRow(masking, values);
      if (!result.changed) {
        out.record(this.record(eventKinds.dataRow, frame.body));
        out.forward(frame.raw);
        return;
      }
      masked = result.values;
    }
    const row = encodeDataRow(masked);
    out.record(this.record(eventKinds.dataRow, row.subarray(5)));
    out.add(row);
  }

  /** The masking of an Execute's rows: from Describe (portal), or the statement's + Bind's formats. */
  private portalMasking(portal: Portal | undefined): RowMasking {
    if (portal === undefined) return 'unknown';
    if (portal.plan !== undefined) return portal.plan as RowMasking;
    let fields = portal.fields;
    if (fields === undefined) {
      const described = portal.statement?.fields;
      fields =
        described === undefined || described === null
          ? described
          : withResultFormats(described, portal.resultFormats);
    }
    let masking: RowMasking;
    if (fields === undefined || fields === null) {
      this.context.log.warn('postgres rows with unknown columns are masked to NULL', {
        sessionId: this.sessionId,
        portal: portal.name,
      });
      masking = 'unknown';
    } else {
      masking = this.context.policy.masker.forColumns(fields.map(resultColumn));
    }
    portal.plan = masking;
    return masking;
  }

  // ------------------------------------------------------------------ recording

  private record(kind: EventKind, data: Uint8Array, channel = SESSION_CHANNEL): Promise<void> {
    if (this.recorderFailed || !this.recorder) {
      return Promise.reject(new Error('the recorder failed'));
    }
    return this.recorder.append(channel, kind, data);
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
        const out = new OutgoingBatch();
        out.record(this.recordJson(eventKinds.error, { fields: notice.fields }));
        out.add(notice.bytes);
        out.sendTo(toClient);
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
    if (this.serverSentFatal || this.clientTerminated) {
      // The target said why (its own FATAL), or did what the client asked (Terminate).
      this.state = 'ending';
      this.stopReading();
      void withTimeout(this.toClient!.idle(), SETTLE_TIMEOUT_MS).then(() => {
        this.context.client.socket.end();
        this.destroySoon();
        return this.finish(
          this.clientTerminated ? 'closed by the client' : 'target closed the connection',
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
    const client = this.context.client.socket;
    client.off('data', this.onClientData);
    client.pause();
    if (this.server) {
      this.server.off('data', this.onServerData);
      this.server.pause();
    }
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

/**
 * One side's input not handled yet: chunks as read from the socket, fed to the reader a slice
 * at a time, and the frames framed from them, handed out in order.
 */
class Inbound<D extends 'frontend' | 'backend'> {
  private chunks: Buffer[] = [];
  private frames: Frame[];
  private at = 0;

  constructor(
    private readonly reader: MessageReader<D>,
    /** Frames framed during the handshake and not handled yet. */
    pending: Frame[],
  ) {
    this.frames = pending;
  }

  add(chunk: Buffer): void {
    this.chunks.push(chunk);
  }

  /** Up to `count` frames, or undefined when all input so far is handled. Throws ProtocolError. */
  next(count: number): Frame[] | undefined {
    while (this.at >= this.frames.length) {
      const chunk = this.chunks[0];
      if (chunk === undefined) return undefined;
      let slice = chunk;
      if (chunk.length > INBOUND_SLICE_BYTES) {
        slice = chunk.subarray(0, INBOUND_SLICE_BYTES);
        this.chunks[0] = chunk.subarray(INBOUND_SLICE_BYTES);
      } else {
        this.chunks.shift();
      }
      this.frames = this.reader.push(slice);
      this.at = 0;
    }
    const end = Math.min(this.at + count, this.frames.length);
    const slice =
      this.at === 0 && end === this.frames.length ? this.frames : this.frames.slice(this.at, end);
    this.at = end;
    return slice;
  }
}

class ClientEncodingChanged extends Error {
  constructor(readonly encoding: string) {
    super(`client_encoding changed to ${encoding}`);
  }
}

/** Sets `key` (as the newest entry), forgetting the oldest entry beyond `limit`. */
function remember<T>(map: Map<string, T>, key: string, limit: number, value: T): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > limit) {
    const oldest = map.keys().next().value;
    if (oldest !== undefined) map.delete(oldest);
  }
}

function completeName(type: string): string {
  return type === '1' ? 'ParseComplete' : type === '2' ? 'BindComplete' : 'CloseComplete';
}

function resultColumn(field: FieldDescription): { name: string; typeOid: number; format: number } {
  return { name: field.name, typeOid: field.typeOid, format: field.format };
}

/** FORMAT.md §5 `d`: the RowDescription's fields. */
function columnsOf(fields: readonly FieldDescription[]): unknown[] {
  return fields.map((field) => ({
    name: field.name,
    tableOid: field.tableOid,
    columnAttr: field.columnAttnum,
    typeOid: field.typeOid,
    typeSize: field.typeSize,
    typeModifier: field.typeModifier,
    format: field.format,
  }));
}

function fieldsOf(fields: NoticeFieldMap): Record<string, string> {
  return Object.fromEntries(fields);
}

/** A statement's description (formats 0) with the result formats a Bind asked for. */
function withResultFormats(
  fields: readonly FieldDescription[],
  formats: readonly number[],
): FieldDescription[] {
  return fields.map((field, i) => ({
    ...field,
    format: formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0),
  }));
}

/** Bind parameters as FORMAT.md §5.2 records them. */
function recordedParams(bind: Bind): RecordedParam[] {
  const formats = bind.parameterFormats;
  return bind.parameters.map((value, i) => {
    if (value === null) return null;
    const format = formats.length === 0 ? 0 : formats.length === 1 ? formats[0] : formats[i];
    return format === 0 ? value.toString('utf8') : { base64: value.toString('base64') };
  });
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
