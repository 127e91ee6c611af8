/**
 * The gateway's SSH listener (DESIGN.md "Launch a session"): a client logs in with the
 * session id as user name and the single-use ticket as password (or keyboard-interactive
 * answer); the gateway then opens its own connection to the target with the stored
 * credential and the pinned host key, and bridges the session channel by channel, recording
 * every byte (sessionBridge.ts).
 *
 * Refusals reach the person: a refused ticket's reason is sent as keyboard-interactive
 * instructions (OpenSSH prints them; password-only clients see a plain failure), and anything
 * after login — an unreachable target, a changed host key, the end of the grant, a recorder
 * failure — is written to the stderr of the session's channels before the connection closes.
 *
 * No client can bring the listener down: every connection and channel has an 'error'
 * handler, unauthenticated connections have a deadline and a bounded number of attempts.
 */

import { type AddressInfo, createServer, type Socket } from 'node:net';
import ssh2, {
  type AuthContext,
  type Client,
  type ClientInfo,
  type Connection,
  type KeyboardAuthContext,
} from 'ssh2';
import { sshTargetSchema } from '../../../shared/api/apiSchemas.ts';
import type { EventKind } from '../../../shared/recording/recordingFormat.ts';
import { eventKinds } from '../../../shared/recording/recordingFormat.ts';
import { GatewayError } from '../../gatewayError.ts';
import type { Logger } from '../../logger.ts';
import type { RecorderFactory, SessionRecorder } from '../../recorder/sessionRecorder.ts';
import type { ResourceCatalog } from '../../resources/resourceCatalog.ts';
import {
  describeSessionEnd,
  type LiveSession,
  type LiveSessions,
  type SessionEndCause,
} from '../../sessions/liveSessions.ts';
import { principalOf } from '../../sessions/sessionPrincipal.ts';
import type { SessionService } from '../../sessions/sessionService.ts';
import type { ResourceRecord } from '../../store/catalogStore.ts';
import type { UserRecord } from '../../store/identityStore.ts';
import type { SessionRecord } from '../../store/sessionStore.ts';
import { listenerCiphers } from './cipherPreference.ts';
import { corkWritesPerTurn } from './corkPerTurn.ts';
import {
  type BridgeContext,
  type ChannelBridge,
  SessionChannelBridge,
  TcpipChannelBridge,
} from './sessionBridge.ts';
import type { SshHostKey } from './sshHostKey.ts';
import { connectUpstream, UpstreamRefusal, type UpstreamTarget } from './upstream.ts';

export interface SshListenerConfig {
  /** Bind address; keep it 127.0.0.1 unless the gateway is meant to be reached from outside. */
  host: string;
  /** 0 picks a free port (see the returned `port`). */
  port: number;
  hostKey: Pick<SshHostKey, 'privateKey'>;
  sessions: Pick<SessionService, 'redeemTicket' | 'terminate'>;
  resources: Pick<ResourceCatalog, 'credentialFor'>;
  recorders: RecorderFactory;
  liveSessions: LiveSessions;
  log: Logger;
  /** Bridge direct-tcpip channels (ssh -L); refused while false (the default). */
  allowDirectTcpip?: boolean;
  /** Time from TCP connect to a successful login (default 60 s). */
  loginTimeoutMs?: number;
  /** Time allowed to connect and log in to the target (default 15 s). */
  upstreamTimeoutMs?: number;
}

export interface RunningSshListener {
  host: string;
  port: number;
  /** Connections currently open (authenticated or not). */
  connectionCount(): number;
  /** Stops accepting, ends every proxied session with a notice, and waits for them to close. */
  close(): Promise<void>;
}

const AUTH_METHODS: ['password', 'keyboard-interactive'] = ['password', 'keyboard-interactive'];
const MAX_AUTH_ATTEMPTS = 6;
const SESSION_ID_PATTERN = /^ses_[a-z2-7]{1,64}$/;
const MAX_TICKET_LENGTH = 256;
/** Recording channel numbers are u16; 0 is the session itself. */
const MAX_RECORDING_CHANNEL = 0xffff;
/** How long the end of a session waits for its channels' queued recording work. */
const SETTLE_TIMEOUT_MS = 3_000;
/** How long a refused session waits for a channel to show the reason on. */
const UPSTREAM_REFUSAL_GRACE_MS = 3_000;
const RECORDER_FAILURE_NOTICE = 'the recording could not be saved; this session was closed.';

export async function startSshListener(config: SshListenerConfig): Promise<RunningSshListener> {
  const loginTimeoutMs = config.loginTimeoutMs ?? 60_000;
  const connections = new Set<ProxiedConnection>();
  // TCP connections whose SSH identification line has not arrived yet, by peer address: ssh2
  // reports a connection only after that line, so a peer that connects and stays silent
  // would otherwise hold its socket forever.
  const silent = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();
  // ssh2 is CommonJS: Node's ESM loader exposes only its default export.
  const ssh = new ssh2.Server(
    {
      hostKeys: [config.hostKey.privateKey],
      ident: 'Witness',
      algorithms: { cipher: listenerCiphers() },
      // Keepalives find clients that vanished without closing the TCP connection.
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
    },
    (client, info) => {
      const key = peerKey(info.ip, info.port);
      const pending = silent.get(key);
      if (pending) {
        clearTimeout(pending.timer);
        silent.delete(key);
      }
      const connection = new ProxiedConnection(client, info, config, pending?.socket);
      connections.add(connection);
      connection.closed.then(() => connections.delete(connection));
    },
  );
  ssh.on('error', (error: Error) =>
    config.log.error('ssh listener error', { error: String(error) }),
  );
  const tcp = createServer((socket) => {
    const key = peerKey(socket.remoteAddress, socket.remotePort);
    const timer = setTimeout(() => {
      silent.delete(key);
      socket.destroy();
    }, loginTimeoutMs);
    timer.unref();
    silent.set(key, { socket, timer });
    socket.once('close', () => {
      clearTimeout(timer);
      if (silent.get(key)?.socket === socket) silent.delete(key);
    });
    corkWritesPerTurn(socket);
    ssh.injectSocket(socket);
  });
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject);
    tcp.listen(config.port, config.host, () => {
      tcp.off('error', reject);
      resolve();
    });
  });
  tcp.on('error', (error: Error) =>
    config.log.error('ssh listener error', { error: String(error) }),
  );
  const address = tcp.address() as AddressInfo;
  config.log.info('ssh listener started', { host: address.address, port: address.port });

  let closing: Promise<void> | undefined;
  return {
    host: address.address,
    port: address.port,
    connectionCount: () => connections.size + silent.size,
    close: () => {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => tcp.close(() => resolve()));
        for (const { socket, timer } of silent.values()) {
          clearTimeout(timer);
          socket.destroy();
        }
        silent.clear();
        for (const connection of connections) connection.end({ kind: 'shutdown' });
        await Promise.race([
          Promise.all([...connections].map((c) => c.closed)),
          new Promise((resolve) => setTimeout(resolve, 5_000).unref()),
        ]);
        for (const connection of connections) connection.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}

function peerKey(ip: string | undefined, port: number | undefined): string {
  return `${ip ?? '?'}|${port ?? '?'}`;
}

interface Redeemed {
  session: SessionRecord;
  resource: ResourceRecord;
  user: UserRecord;
  target: UpstreamTarget;
}

type ConnectionState =
  | { kind: 'authenticating' }
  | { kind: 'live'; redeemed: Redeemed }
  | { kind: 'ending'; redeemed: Redeemed | undefined }
  | { kind: 'ended' };

/** One client connection: login, then one proxied session with any number of channels. */
class ProxiedConnection {
  readonly closed: Promise<void>;
  private state: ConnectionState = { kind: 'authenticating' };
  private attempts = 0;
  private lastRefusal: string | undefined;
  private recorder: SessionRecorder | undefined;
  private recorderStarted: Promise<SessionRecorder> | undefined;
  private upstreamClient: Client | undefined;
  private live: LiveSession | undefined;
  private readonly bridges = new Set<ChannelBridge>();
  private nextChannel = 1;
  private loginTimer: NodeJS.Timeout | undefined;
  private resolveClosed!: () => void;
  private recorderFailed = false;
  /** Resolves with the upstream connection once recording and the target are ready. */
  private upstream: Promise<Client> | undefined;

  constructor(
    private readonly client: Connection,
    private readonly info: ClientInfo,
    private readonly config: SshListenerConfig,
    /** The TCP socket, to cut a connection that does not log in in time. */
    private readonly socket: Socket | undefined,
  ) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    client.on('error', (error: Error) => {
      // Malformed packets, resets, keepalive timeouts: end this connection only.
      config.log.info('ssh client connection error', {
        ip: info.ip,
        sessionId: this.sessionId,
        error: error.message,
      });
    });
    client.on('authentication', (ctx) => this.authenticate(ctx));
    client.on('ready', () => this.onReady());
    client.on('close', () => this.onClientClosed());
    this.loginTimer = setTimeout(() => {
      if (this.state.kind === 'authenticating') {
        config.log.info('ssh login timed out', { ip: info.ip });
        this.destroy();
      }
    }, config.loginTimeoutMs ?? 60_000);
    this.loginTimer.unref();
  }

  private get sessionId(): string | undefined {
    return this.state.kind === 'live' || this.state.kind === 'ending'
      ? this.state.redeemed?.session.id
      : undefined;
  }

  private get isOpenSsh(): boolean {
    return /^OpenSSH/i.test(this.info.header?.versions?.software ?? '');
  }

  // --- login ---------------------------------------------------------------------------------

  private authenticate(ctx: AuthContext): void {
    if (this.state.kind !== 'authenticating') {
      ctx.reject();
      return;
    }
    this.attempts += 1;
    if (this.attempts > MAX_AUTH_ATTEMPTS) {
      ctx.reject();
      this.destroy();
      return;
    }
    switch (ctx.method) {
      case 'password':
        void this.redeem(ctx.username, ctx.password).then((refusal) => {
          if (refusal === undefined) ctx.accept();
          else ctx.reject(AUTH_METHODS);
        });
        return;
      case 'keyboard-interactive':
        this.askForTicket(ctx);
        return;
      default:
        ctx.reject(AUTH_METHODS);
    }
  }

  /**
   * keyboard-interactive: one prompt for the ticket; when it is refused, a second round with
   * no prompts whose instructions carry the reason (OpenSSH prints them), then the failure.
   */
  private askForTicket(ctx: KeyboardAuthContext): void {
    const instructions =
      this.lastRefusal ??
      'Enter the session ticket from `witness connect` (or let `witness ssh` do this for you).';
    ctx.prompt(
      [{ prompt: 'Witness session ticket: ', echo: false }],
      'Witness',
      instructions,
      (answers) => {
        if (!Array.isArray(answers)) return; // aborted by a new request
        void this.redeem(ctx.username, String(answers[0] ?? '')).then((refusal) => {
          if (refusal === undefined) {
            ctx.accept();
            return;
          }
          // OpenSSH prints the instructions of a round without prompts; ssh2-based clients
          // answer such a round silently, so they get one prompt to acknowledge.
          const prompts = this.isOpenSsh ? [] : [{ prompt: 'Press Enter to close. ', echo: true }];
          ctx.prompt(prompts, 'Witness', `Access refused: ${refusal}`, () =>
            ctx.reject(AUTH_METHODS),
          );
        });
      },
    );
  }

  /** Redeems the ticket; returns undefined on success, else the reason shown to the person. */
  private async redeem(username: string, ticket: string): Promise<string | undefined> {
    const refuse = (message: string) => {
      this.lastRefusal = message;
      this.config.log.info('ssh login refused', { ip: this.info.ip, username, reason: message });
      return message;
    };
    if (!SESSION_ID_PATTERN.test(username)) {
      return refuse(
        'Log in with the session id (ses_…) as the user name and its ticket as the password — `witness ssh RESOURCE` does both.',
      );
    }
    if (ticket.length === 0 || ticket.length > MAX_TICKET_LENGTH) {
      return refuse('The session ticket is not valid — start a new session.');
    }
    let redeemed: Awaited<ReturnType<SessionService['redeemTicket']>>;
    try {
      redeemed = await this.config.sessions.redeemTicket(username, ticket);
    } catch (error) {
      if (error instanceof GatewayError) return refuse(error.message);
      this.config.log.error('ticket check failed', { username, error: String(error) });
      return refuse('The gateway could not check the ticket; try again in a moment.');
    }
    const { session, resource, user } = redeemed;
    if (this.state.kind !== 'authenticating') {
      // The client left while the ticket was checked: the session must not stay 'live'.
      await this.config.sessions
        .terminate(session.id, 'the client disconnected during login')
        .catch(() => {});
      return refuse('This connection is closing.');
    }
    const parsed = resource.kind === 'ssh' ? sshTargetSchema.safeParse(resource.target) : undefined;
    if (!parsed?.success) {
      const message =
        resource.kind === 'ssh'
          ? `The resource ${resource.name} has an invalid SSH target; an admin must fix it.`
          : `${resource.name} is a ${resource.kind} resource, not an SSH server — connect to it with the matching client.`;
      await this.config.sessions
        .terminate(session.id, `refused at connect: ${message}`)
        .catch(() => {});
      return refuse(message);
    }
    const target: UpstreamTarget = {
      name: resource.name,
      host: parsed.data.host,
      port: parsed.data.port,
      username: parsed.data.username,
      hostKey: parsed.data.hostKey,
    };
    this.state = { kind: 'live', redeemed: { session, resource, user, target } };
    this.config.log.info('ssh session authenticated', {
      sessionId: session.id,
      user: user.username,
      resource: resource.name,
      ip: this.info.ip,
    });
    return undefined;
  }

  // --- session -------------------------------------------------------------------------------

  private onReady(): void {
    if (this.loginTimer) clearTimeout(this.loginTimer);
    if (this.state.kind !== 'live') {
      this.destroy();
      return;
    }
    const { session, resource, user, target } = this.state.redeemed;
    const config = this.config;
    this.live = config.liveSessions.register(session.id, session.expiresAt, (cause) =>
      this.end(cause),
    );

    const recorderStarted = config.recorders.start({
      sessionId: session.id,
      userId: user.id,
      resourceId: resource.id,
      protocol: 'ssh',
    });
    this.recorderStarted = recorderStarted;
    recorderStarted.catch(() => {});
    // Logging in to the target carries none of the client's bytes, so it may start while the
    // recorder opens; nothing is forwarded before both are ready.
    const upstreamConnected = (async () =>
      connectUpstream(target, await config.resources.credentialFor(resource), {
        readyTimeoutMs: config.upstreamTimeoutMs,
      }))();
    upstreamConnected.then(
      (upstream) => {
        this.upstreamClient = upstream;
        upstream.on('error', (error: Error) =>
          config.log.info('ssh upstream error', { sessionId: session.id, error: error.message }),
        );
        upstream.once('close', () => this.onUpstreamClosed());
        if (this.state.kind !== 'live') upstream.end();
      },
      () => {},
    );

    this.upstream = (async () => {
      try {
        this.recorder = await recorderStarted;
      } catch (error) {
        config.log.error('recorder could not start', {
          sessionId: session.id,
          error: String(error),
        });
        throw new UpstreamRefusal(
          'the recording could not be started, so the session was not opened. Try again later.',
        );
      }
      void this.recorder.failed.then((failure) => this.onRecordFailure(failure));
      await this.recordJson(0, eventKinds.meta, {
        type: 'session-start',
        user: user.username,
        resource: resource.name,
        // Ids too: names can be renamed, and the API checks its row against these (issue #12).
        userId: user.id,
        resourceId: resource.id,
        // A machine identity and its token's claims (repository, run id), signed (issue #18).
        ...principalOf(session),
        target: { host: target.host, port: target.port, username: target.username },
        client: {
          ip: this.info.ip,
          port: this.info.port,
          software: this.info.header?.versions?.software,
        },
      });
      try {
        return await upstreamConnected;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        await this.recordJson(0, eventKinds.meta, {
          type: 'refused',
          request: 'upstream',
          message,
        });
        throw error instanceof UpstreamRefusal ? error : new UpstreamRefusal(message);
      }
    })();
    this.upstream.catch((error: unknown) => {
      if (!(error instanceof UpstreamRefusal)) {
        this.onRecordFailure(error);
        return;
      }
      // The reason is shown on the stderr of the client's session channel, which usually opens
      // right after login; give it a moment to, then close regardless.
      setTimeout(
        () => this.endWithNotice(error.message, `refused: ${error.message}`),
        UPSTREAM_REFUSAL_GRACE_MS,
      ).unref();
    });

    this.client.on('session', (accept, reject) => {
      const channel = this.reserveChannel();
      if (channel === undefined || this.state.kind !== 'live') return reject();
      const session = accept();
      const bridge = new SessionChannelBridge(session, channel, this.bridgeContext());
      this.track(bridge, session);
    });

    this.client.on('tcpip', (accept, reject, info) => {
      const channel = this.reserveChannel();
      if (channel === undefined || this.state.kind !== 'live') return reject();
      const where = `${info.destIP}:${info.destPort}`;
      if (!config.allowDirectTcpip) {
        reject();
        void this.recordJson(0, eventKinds.meta, {
          type: 'refused',
          request: 'direct-tcpip',
          destHost: info.destIP,
          destPort: info.destPort,
        }).catch(() => {});
        this.notifyAll(
          `port forwarding (to ${where}) is not allowed through Witness for ${resource.name}.`,
        );
        return;
      }
      const bridge = new TcpipChannelBridge(accept, reject, info, channel, this.bridgeContext());
      this.bridges.add(bridge);
    });

    this.client.on('request', (_accept, reject, name) => {
      reject?.();
      const request = String(name);
      void this.recordJson(0, eventKinds.meta, { type: 'refused', request }).catch(() => {});
      if (request === 'tcpip-forward' || request === 'streamlocal-forward@openssh.com') {
        this.notifyAll('remote port forwarding (ssh -R) is not allowed through Witness.');
      }
    });
  }

  private track(
    bridge: SessionChannelBridge,
    session: { on(event: 'close', listener: () => void): unknown },
  ): void {
    this.bridges.add(bridge);
    // Forget a closed channel once its recording work is done (a session may run thousands).
    session.on(
      'close',
      () =>
        void bridge
          .shutDown(undefined)
          .then(() => bridge.settled())
          .then(() => this.bridges.delete(bridge)),
    );
  }

  private reserveChannel(): number | undefined {
    if (this.nextChannel > MAX_RECORDING_CHANNEL) return undefined;
    return this.nextChannel++;
  }

  private bridgeContext(): BridgeContext {
    const upstream = this.upstream;
    if (!upstream) throw new Error('bridge before the session started');
    return {
      upstream,
      sessionId: this.sessionId ?? '',
      log: this.config.log,
      record: (channel, kind, data) => this.record(channel, kind, data),
      recordJson: (channel, kind, value) => this.recordJson(channel, kind, value),
      onRecordFailure: (error) => this.onRecordFailure(error),
      onUpstreamUnavailable: (message) => this.endWithNotice(message, `refused: ${message}`),
    };
  }

  private record(channel: number, kind: EventKind, data: Uint8Array): Promise<void> {
    if (this.recorderFailed) return Promise.reject(new Error('the recorder failed'));
    // The hot path (session data) always finds the recorder started.
    if (this.recorder) return this.recorder.append(channel, kind, data);
    return this.startedRecorder().then((recorder) => recorder.append(channel, kind, data));
  }

  private recordJson(channel: number, kind: EventKind, value: unknown): Promise<void> {
    if (this.recorderFailed) return Promise.reject(new Error('the recorder failed'));
    if (this.recorder) return this.recorder.appendJson(channel, kind, value);
    return this.startedRecorder().then((recorder) => recorder.appendJson(channel, kind, value));
  }

  private startedRecorder(): Promise<SessionRecorder> {
    return this.recorderStarted ?? Promise.reject(new Error('the session has not started'));
  }

  private notifyAll(text: string): void {
    for (const bridge of this.bridges) {
      if (bridge instanceof SessionChannelBridge) bridge.notify(text);
    }
  }

  // --- ending --------------------------------------------------------------------------------

  /** Fail closed: nothing more is forwarded, the person is told, the connection closes. */
  private onRecordFailure(error: unknown): void {
    // After the session ended, late appends fail because the recording is closed: expected.
    if (this.recorderFailed || this.state.kind !== 'live') return;
    this.recorderFailed = true;
    this.config.log.error('recording failed; closing the session', {
      sessionId: this.sessionId,
      error: String(error),
    });
    this.shutDown(
      RECORDER_FAILURE_NOTICE,
      `recording failed: ${String((error as Error)?.message ?? error)}`,
      {
        record: false,
      },
    );
  }

  /** The live-session registry ended this session (expiry, terminate, shutdown). */
  end(cause: SessionEndCause): void {
    const redeemed = this.state.kind === 'live' ? this.state.redeemed : undefined;
    if (!redeemed) {
      this.destroy();
      return;
    }
    const message = describeSessionEnd(cause, redeemed.resource.name);
    const reason =
      cause.kind === 'expired'
        ? `expired at ${new Date(cause.at).toISOString()} (grant limit)`
        : cause.kind === 'terminated'
          ? (cause.reason ?? 'terminated')
          : 'gateway shut down';
    this.shutDown(message, reason, {});
  }

  private endWithNotice(message: string, reason: string): void {
    this.shutDown(message, reason, {});
  }

  private onUpstreamClosed(): void {
    if (this.state.kind !== 'live') return;
    const name = this.state.redeemed.resource.name;
    this.shutDown(
      `the connection to ${name} was closed by the target.`,
      'target closed the connection',
      {},
    );
  }

  private onClientClosed(): void {
    if (this.loginTimer) clearTimeout(this.loginTimer);
    if (this.state.kind === 'live') {
      void this.finish('closed by the client');
    } else if (this.state.kind === 'authenticating') {
      this.state = { kind: 'ended' };
      this.resolveClosed();
    }
  }

  /**
   * Ends the session from the gateway's side: every channel stops forwarding and shows
   * `notice`, the target connection closes, then the client connection.
   */
  private shutDown(notice: string, reason: string, options: { record?: boolean }): void {
    if (this.state.kind !== 'live') return;
    const redeemed = this.state.redeemed;
    this.state = { kind: 'ending', redeemed };
    this.config.log.info('ending ssh session', { sessionId: redeemed.session.id, reason });
    const bridges = [...this.bridges];
    // The target is asked to end its commands first (TERM, then KILL: issue #14), so an exec
    // without a pty does not outlive the session; then the channels close with the notice.
    const remoteStopped = Promise.all(
      bridges.map((bridge) =>
        bridge instanceof SessionChannelBridge
          ? bridge.stopRemoteCommand(notice, options.record !== false)
          : undefined,
      ),
    );
    void this.finish(reason, options.record !== false);
    void remoteStopped
      .then(() => {
        const closing = bridges.map((bridge) =>
          bridge.shutDown(bridge instanceof SessionChannelBridge ? notice : undefined, options),
        );
        this.upstreamClient?.end();
        // The notices and channel closes go out before the disconnect (each bridge bounds its
        // wait).
        return Promise.all(closing);
      })
      .then(() => setImmediate(() => this.client.end()));
  }

  private finishing: Promise<void> | undefined;

  private finish(reason: string, recordEnd = true): Promise<void> {
    this.finishing ??= (async () => {
      const redeemed =
        this.state.kind === 'live' || this.state.kind === 'ending'
          ? this.state.redeemed
          : undefined;
      if (this.state.kind === 'live') {
        // The client went away: stop the channels and the target connection.
        for (const bridge of this.bridges) void bridge.shutDown(undefined);
        this.upstreamClient?.end();
      }
      this.state = { kind: 'ending', redeemed };
      // Meta events the channels still have queued belong before the end of the recording.
      await withTimeout(
        Promise.all([...this.bridges].map((bridge) => bridge.settled())),
        SETTLE_TIMEOUT_MS,
      );
      const recorder = await this.recorderStarted?.catch(() => undefined);
      if (recorder) {
        if (recordEnd && !this.recorderFailed) {
          await recorder
            .appendJson(0, eventKinds.meta, { type: 'session-end', reason })
            .catch(() => {});
        }
        await recorder.close().catch((error: unknown) =>
          this.config.log.error('recorder close failed', {
            sessionId: redeemed?.session.id,
            error: String(error),
          }),
        );
      }
      await this.live?.finish(reason);
      this.state = { kind: 'ended' };
      this.resolveClosed();
    })();
    return this.finishing;
  }

  /** Drops the TCP connection without ceremony (login timeout, too many attempts, shutdown). */
  destroy(): void {
    try {
      this.client.end();
    } catch {
      // Already gone.
    }
    // ssh2's end() only half-closes; a peer that never reads would keep the socket.
    setTimeout(() => this.socket?.destroy(), 1_000).unref();
    if (this.state.kind === 'authenticating') {
      this.state = { kind: 'ended' };
      this.resolveClosed();
    }
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
