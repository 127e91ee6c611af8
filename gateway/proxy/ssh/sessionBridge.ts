/**
 * One SSH channel of a proxied session: what the client asks for on the gateway's side is
 * recorded, then replayed to the target over the gateway's own connection, and the target's
 * answers come back the same way.
 *
 * Session channels: pty-req, env (allowlist), shell, exec, subsystem sftp, window-change and
 * signal are forwarded; exit-status / exit-signal come back. X11 and agent forwarding are
 * refused with a notice on the channel's stderr. direct-tcpip channels are bridged only when the
 * listener allows it. Every channel gets its own recording channel number.
 *
 * Recording (kinds from shared/recording/recordingFormat.ts):
 *   'i'  client → target bytes (terminal input, sftp requests, tunnel data), recorded BEFORE
 *        they are forwarded
 *   'o'  target stdout → client, recorded before it reaches the client
 *   'e'  target stderr → client, and the gateway's own notices shown on stderr
 *   'r'  {cols, rows, width, height} on window-change
 *   'x'  {code} | {signal, coreDumped}
 *   'm'  {type: 'channel-open', channelType} · {type: 'pty-req', term, cols, rows, width,
 *        height} · {type: 'env', name, value} · {type: 'shell'} · {type: 'exec', command} ·
 *        {type: 'subsystem', name} · {type: 'signal', name} · {type: 'direct-tcpip', destHost,
 *        destPort, srcHost, srcPort} · {type: 'refused', request, …} · {type: 'channel-close',
 *        by: 'client' | 'target' | 'gateway'}
 *   Channel 0 is the session itself (sshListener.ts): {type: 'session-start', user, resource,
 *   target, client} · {type: 'refused', request: 'upstream' | 'direct-tcpip' | global request,
 *   …} · {type: 'session-end', reason}.
 *
 * Requests are answered at once, in order (SSH replies must keep request order, and ssh2 drops
 * data that arrives for a session before it is accepted); the work behind them — recording,
 * opening the upstream channel — runs on a per-channel queue, so nothing reaches the target
 * before it is recorded.
 */
import type { Readable, Writable } from 'node:stream';
import type {
  Client,
  ClientChannel,
  PseudoTtyInfo,
  RejectConnection,
  ServerChannel,
  Session,
  TcpipRequestInfo,
} from 'ssh2';
import { type EventKind, eventKinds } from '../../../shared/recording/recordingFormat.ts';
import {
  limitReceiveWindow,
  openWithReceiveWindow,
  type ReceiveWindow,
} from '../../../shared/ssh/sshReceiveWindow.ts';
import type { Logger } from '../../logger.ts';
import { flushed, RecordedRelay, type RecordedRelayOptions } from '../relay/recordedRelay.ts';
import { fixServerChannelWindowing } from './serverChannelWindowing.ts';

/** What a channel needs from the connection it belongs to. */
export interface BridgeContext {
  /** Resolves with the upstream connection once the session may start; rejects with the reason. */
  readonly upstream: Promise<Client>;
  record(channel: number, kind: EventKind, data: Uint8Array): Promise<void>;
  recordJson(channel: number, kind: EventKind, value: unknown): Promise<void>;
  /** The recorder failed: the whole session must close (fail closed). */
  onRecordFailure(error: unknown): void;
  /** The session could not start (target refused, …): the message is shown and the session ends. */
  onUpstreamUnavailable(message: string): void;
  readonly log: Logger;
  readonly sessionId: string;
}

/** Environment variables a client may set on the target (OpenSSH's usual AcceptEnv set). */
export function isAllowedEnv(name: string): boolean {
  return name === 'LANG' || name === 'TERM' || name === 'TZ' || /^LC_[A-Z_]+$/.test(name);
}

const MAX_ENV_VALUE = 1024;
/** How long a closing channel waits for its last output and notice to reach the client. */
const CLOSE_FLUSH_TIMEOUT_MS = 2_000;
/** How long the disconnect waits for a client to close a channel that showed a notice. */
const CLIENT_CLOSE_WAIT_MS = 500;

/**
 * When the gateway ends a session (terminate, offboarding, expiry: issue #14) it first asks the
 * target to end what runs there: sshd leaves an exec'd command without a pty running when its
 * connection closes. TERM, then KILL if the command has not exited after the grace period.
 * Short, because the whole end must reach the client within a second of the decision.
 */
export const REMOTE_TERM_GRACE_MS = 300;
const REMOTE_KILL_WAIT_MS = 150;

/*
 * Pty channels (issue #5). Output of an interactive session flows only as fast as the user's
 * terminal paints it (a few MB/s), so every byte queued in the gateway is output that reaches
 * the screen — and the echo of the next key — that much later. With ssh2's defaults a `seq`
 * flood queued ~2 MiB in the upstream window, ~2 MiB in the upstream channel's stream buffer
 * and ~2 MiB in the client channel's write buffer. For pty channels only:
 * - the target gets a 128 KiB window and the upstream channel buffers at most 32 KiB per
 *   stream while paused (sshReceiveWindow.ts) — at a LAN round trip that is still far more
 *   than a terminal needs to stay supplied;
 * - output and stderr pipes hold at most 64 KiB between arrival and being *sent* to the
 *   client (RecordedRelay untilSent), instead of 4 MiB plus the channel's 2 MiB write buffer.
 * Channels without a pty keep ssh2's 2 MiB windows; see BULK_FLOW for their pipes.
 */
const TERMINAL_UPSTREAM_WINDOW: ReceiveWindow = { windowBytes: 128 * 1024, bufferBytes: 32 * 1024 };
const TERMINAL_OUTPUT_FLOW = { highWaterMark: 64 * 1024, untilSent: true } as const;
/*
 * Every other pipe (bulk output, input, port forwards) holds at most 1 MiB between arrival and
 * being sent on (issue #11, bench:ssh). It held 4 MiB plus the channel's 2 MiB write buffer,
 * and that, not the bytes themselves, was a quarter of the gateway's CPU per byte: a buffer
 * that waits that long outlives two scavenges and is promoted, its backing store then counts
 * towards V8's old-generation external memory, and every ~64 MiB of such buffers started a
 * full mark-compact of the heap — 20–46 of them per 500 MB, against 2 (both at startup) with
 * 1 MiB. At ~5 ms of a bulk copy's bytes it is still ahead of what the client's 2 MiB window
 * lets out, so throughput is not what bounds it.
 */
const BULK_FLOW = { highWaterMark: 1024 * 1024, untilSent: true } as const;

type PtyRequest = Pick<PseudoTtyInfo, 'term' | 'cols' | 'rows' | 'width' | 'height'> & {
  modes?: Record<string, number>;
};

type StartRequest =
  | { type: 'shell' }
  | { type: 'exec'; command: string }
  | { type: 'subsystem'; name: string };

type ExitInfo = { code: number } | { signal: string; coreDumped: boolean; description: string };

/**
 * When queued work runs: 'record' work (meta events) runs even after the channel closed, so
 * the recording keeps what was asked; 'forward' work stops when the channel closes. Both stop
 * when the session was refused (there may be no recorder).
 */
type QueueMode = 'record' | 'forward' | 'always';

export abstract class ChannelBridge {
  protected queue: Promise<void> = Promise.resolve();
  protected closed = false;
  protected pipes: RecordedRelay[] = [];
  /** Why the session cannot start (target refused, recorder could not start), once known. */
  protected refusal: string | undefined;
  private shutdownDone: Promise<void> | undefined;

  constructor(
    readonly recordingChannel: number,
    protected readonly context: BridgeContext,
  ) {}

  /**
   * Ends the channel: stops forwarding, shows `notice` (recorded unless `record: false`, for
   * when the recorder is what failed), lets the last output out, closes both sides.
   * Idempotent; resolves when the channel is closed or the wait timed out.
   */
  shutDown(notice: string | undefined, options: { record?: boolean } = {}): Promise<void> {
    if (!this.shutdownDone) {
      this.closed = true;
      for (const pipe of this.pipes) pipe.abort();
      this.shutdownDone = this.close(notice, options.record !== false);
    }
    return this.shutdownDone;
  }

  /** Resolves when everything queued so far (meta events included) has run. */
  settled(): Promise<void> {
    return this.queue;
  }

  protected abstract close(notice: string | undefined, record: boolean): Promise<void>;

  /** Runs `work` after everything queued before it; a failure ends the channel. */
  protected enqueue(work: () => Promise<void>, mode: QueueMode): void {
    this.queue = this.queue.then(async () => {
      if (mode !== 'always' && this.refusal !== undefined) return;
      if (mode === 'forward' && this.closed) return;
      try {
        await work();
      } catch (error) {
        this.handleQueueError(error);
      }
    });
  }

  /** First on every channel's queue: nothing is recorded or forwarded before the session is ready. */
  protected async awaitSession(): Promise<Client | undefined> {
    try {
      return await this.context.upstream;
    } catch (error) {
      this.refusal = error instanceof Error ? error.message : String(error);
      return undefined;
    }
  }

  protected handleQueueError(error: unknown): void {
    if (error instanceof RecordingError) {
      this.context.onRecordFailure(error.cause);
      return;
    }
    this.context.log.warn('ssh channel failed', {
      sessionId: this.context.sessionId,
      channel: this.recordingChannel,
      error: String(error),
    });
    void this.shutDown(undefined);
  }

  protected async meta(value: Record<string, unknown>): Promise<void> {
    await this.recorded(this.context.recordJson(this.recordingChannel, eventKinds.meta, value));
  }

  /** Queues a meta event (kept in the recording even if the channel closes meanwhile). */
  protected recordMeta(value: Record<string, unknown>): void {
    this.enqueue(() => this.meta(value), 'record');
  }

  protected async recorded(append: Promise<void>): Promise<void> {
    try {
      await append;
    } catch (error) {
      throw new RecordingError(error);
    }
  }

  protected pipe(
    source: Readable,
    sink: Writable,
    kind: EventKind,
    flow: Pick<RecordedRelayOptions, 'highWaterMark' | 'untilSent'> = {},
  ): RecordedRelay {
    const pipe = new RecordedRelay({
      source,
      sink,
      record: (chunk) => this.context.record(this.recordingChannel, kind, chunk),
      onRecordFailure: (error) => this.context.onRecordFailure(error),
      ...flow,
    });
    this.pipes.push(pipe);
    return pipe;
  }

  protected logError(where: string, error: Error): void {
    this.context.log.info('ssh channel error', {
      sessionId: this.context.sessionId,
      channel: this.recordingChannel,
      where,
      error: error.message,
    });
  }
}

/** A failed append, told apart from other failures: it ends the whole session. */
class RecordingError extends Error {
  constructor(cause: unknown) {
    super('recording failed', { cause });
  }
}

/** The target refused the shell/exec/subsystem request itself. */
class UpstreamChannelError extends Error {
  constructor(
    readonly request: string,
    message: string,
  ) {
    super(message);
  }
}

/** A 'session' channel: shell, exec or the sftp subsystem. */
export class SessionChannelBridge extends ChannelBridge {
  private pty: PtyRequest | undefined;
  private readonly env: Record<string, string> = {};
  private readonly notices: string[] = [];
  private client: ServerChannel | undefined;
  private upstream: ClientChannel | undefined;
  private input: RecordedRelay | undefined;
  private startRequested = false;
  private closedBy: 'client' | 'target' | 'gateway' | undefined;
  /** The gateway's end-of-session notice went out (before the target was asked to stop). */
  private endNoticeShown = false;

  constructor(
    private readonly session: Session,
    recordingChannel: number,
    context: BridgeContext,
  ) {
    super(recordingChannel, context);
    this.enqueue(async () => {
      if (await this.awaitSession())
        await this.meta({ type: 'channel-open', channelType: 'session' });
    }, 'record');
    this.listen();
  }

  /** Whether the client's shell/exec/subsystem channel exists (notices can be shown on it). */
  hasClientChannel(): boolean {
    return this.client !== undefined;
  }

  /** Shows a gateway notice on this channel's stderr (recorded), now or once the channel starts. */
  notify(text: string): void {
    if (this.closed) return;
    if (this.upstream) this.enqueue(() => this.writeNotice(text), 'forward');
    else this.notices.push(text);
  }

  /**
   * Asks the target to end the command on this channel (RFC 4254 §6.9 `signal`): TERM, then
   * KILL after `REMOTE_TERM_GRACE_MS`. Resolves when the target closed the channel or the
   * waits are over; call it before `shutDown`, which closes the channel at once.
   */
  async stopRemoteCommand(notice: string, record: boolean): Promise<void> {
    const upstream = this.upstream;
    const client = this.client;
    if (!upstream || !client || this.closed) return;
    // First why, while the channel surely carries it: the command may exit on TERM, and the
    // channel then closes on its own.
    await this.showEndNotice(client, notice, record);
    const closedByTarget = new Promise<void>((resolve) => upstream.once('close', () => resolve()));
    for (const [name, waitMs] of [
      ['TERM', REMOTE_TERM_GRACE_MS],
      ['KILL', REMOTE_KILL_WAIT_MS],
    ] as const) {
      try {
        upstream.signal(name);
      } catch {
        return; // the channel is gone already
      }
      const exited = await Promise.race([
        closedByTarget.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), waitMs).unref()),
      ]);
      if (exited) return;
    }
  }

  /** The gateway's reason for ending the session, on the client's stderr, once. */
  private async showEndNotice(client: ServerChannel, notice: string, record: boolean) {
    if (this.endNoticeShown) return;
    this.endNoticeShown = true;
    const text = `\r\nWitness: ${notice}\r\n`;
    // When the recorder is what failed the notice goes out unrecorded: it is the gateway's
    // own text, not a byte of the session.
    if (record) {
      await this.context
        .record(this.recordingChannel, eventKinds.stderr, Buffer.from(text))
        .catch(() => {});
    }
    if (client.stderr.writable) client.stderr.write(text);
  }

  protected async close(notice: string | undefined, record: boolean): Promise<void> {
    this.closedBy ??= 'gateway';
    if (this.upstream) closeQuietly(this.upstream);
    const client = this.client;
    if (client) {
      if (notice) await this.showEndNotice(client, notice, record);
      // Output already written, then the notice, then EOF + close — stdout and stderr share
      // the SSH window, and ssh2 sends CLOSE without waiting for stderr. Bounded, so a client
      // that stopped reading cannot hold the channel open.
      await withTimeout(
        Promise.all([flushed(client), flushed(client.stderr)]),
        CLOSE_FLUSH_TIMEOUT_MS,
      );
      const closedByClient = new Promise<void>((resolve) => client.once('close', () => resolve()));
      if (client.writable) client.end();
      else closeQuietly(client);
      // After a notice, the connection's disconnect waits for the client to close the channel
      // (bounded): OpenSSH exits on a disconnect at once, and stderr data it read in the same
      // batch was then never written to the user's terminal (seen under load in CI).
      if (notice) await withTimeout(closedByClient, CLIENT_CLOSE_WAIT_MS);
    }
    // A session channel that never started has no public close in ssh2; it goes with the
    // connection.
    if (record) this.recordMeta({ type: 'channel-close', by: this.closedBy });
  }

  private listen(): void {
    const session = this.session;
    session.on('error', (error: Error) => this.logError('session', error));

    session.on('pty', (accept, reject, info) => {
      if (this.startRequested) return reject?.();
      accept?.();
      const pty: PtyRequest = {
        term: String(info.term).slice(0, 64),
        cols: info.cols,
        rows: info.rows,
        width: info.width,
        height: info.height,
        modes: (info as unknown as { modes?: Record<string, number> }).modes,
      };
      this.pty = pty;
      const { modes: _modes, ...shown } = pty;
      this.recordMeta({ type: 'pty-req', ...shown });
    });

    session.on('env', (accept, reject, info) => {
      const name = String(info.key);
      const value = String(info.val);
      if (!this.startRequested && isAllowedEnv(name) && value.length <= MAX_ENV_VALUE) {
        accept?.();
        this.env[name] = value;
        this.recordMeta({ type: 'env', name, value });
      } else {
        reject?.();
        // Only the name: a refused variable may hold anything.
        this.recordMeta({ type: 'refused', request: 'env', name: name.slice(0, 128) });
      }
    });

    session.on('window-change', (accept, _reject, info) => {
      accept?.();
      const size = { cols: info.cols, rows: info.rows, width: info.width, height: info.height };
      if (this.pty && !this.upstream) Object.assign(this.pty, size);
      this.control(
        () => this.context.recordJson(this.recordingChannel, eventKinds.resize, size),
        (upstream) => upstream.setWindow(size.rows, size.cols, size.height, size.width),
      );
    });

    session.on('signal', (accept, _reject, info) => {
      accept?.();
      const name = String(info.name).slice(0, 32);
      this.control(
        () =>
          this.context.recordJson(this.recordingChannel, eventKinds.meta, { type: 'signal', name }),
        (upstream) => {
          try {
            upstream.signal(name);
          } catch {
            // ssh2 refuses names outside RFC 4254's list; such a signal goes nowhere.
          }
        },
      );
    });

    session.on('x11', (_accept, reject) => {
      reject?.();
      this.refuse('x11', 'X11 forwarding is not available through Witness; continuing without it.');
    });

    session.on('auth-agent', (_accept, reject) => {
      reject?.();
      this.refuse(
        'auth-agent',
        'agent forwarding is not available through Witness (the target could use your keys); continuing without it.',
      );
    });

    session.on('shell', (accept, reject) => {
      if (this.claimStart(reject)) this.start(accept(), { type: 'shell' });
    });

    session.on('exec', (accept, reject, info) => {
      if (this.claimStart(reject))
        this.start(accept(), { type: 'exec', command: String(info.command) });
    });

    session.on('subsystem', (accept, reject, info) => {
      const name = String(info.name).slice(0, 64);
      if (name !== 'sftp') {
        reject?.();
        this.recordMeta({ type: 'refused', request: 'subsystem', name });
        return;
      }
      if (this.claimStart(reject)) this.start(accept(), { type: 'subsystem', name });
    });

    session.on('close', () => {
      this.closedBy ??= 'client';
      void this.shutDown(undefined);
    });
  }

  /**
   * Window changes and signals: before the channel starts they wait on the queue (and shape
   * the pty request); after, they travel with the client's input, recorded in order with it.
   */
  private control(record: () => Promise<void>, apply: (upstream: ClientChannel) => void): void {
    if (this.closed) return;
    if (this.input && this.upstream) {
      const upstream = this.upstream;
      this.input.control(record, () => apply(upstream));
      return;
    }
    this.enqueue(async () => {
      await this.recorded(record());
      if (this.upstream) apply(this.upstream);
    }, 'forward');
  }

  private claimStart(reject: RejectConnection | undefined): boolean {
    if (this.startRequested || this.closed) {
      reject?.();
      return false;
    }
    this.startRequested = true;
    return true;
  }

  private refuse(request: string, notice: string): void {
    this.recordMeta({ type: 'refused', request });
    this.notify(notice);
  }

  /**
   * The client's channel is accepted at once (ssh2 would drop data sent before it is); its
   * data waits in the channel (flow control holds the client) until the upstream channel is
   * open and the request is recorded.
   */
  private start(client: ServerChannel, request: StartRequest): void {
    fixServerChannelWindowing(client);
    this.client = client;
    client.on('error', (error: Error) => this.logError('client channel', error));
    client.stderr.on('error', (error: Error) => this.logError('client stderr', error));
    client.pause();
    this.enqueue(async () => {
      const connection = await this.awaitSession();
      if (!connection || this.refusal !== undefined) {
        // The connection shows the reason on this channel's stderr and ends the session.
        this.context.onUpstreamUnavailable(this.refusal ?? 'the session could not start.');
        return;
      }
      if (this.closed) return;
      await this.startUpstream(connection, client, request);
    }, 'always');
  }

  private async startUpstream(
    connection: Client,
    client: ServerChannel,
    request: StartRequest,
  ): Promise<void> {
    await this.meta(request);
    const opened = await openUpstream(connection, request, this.pty, this.env).catch(
      (error: Error) => {
        throw new UpstreamChannelError(request.type, error.message);
      },
    );
    if (this.closed) {
      closeQuietly(opened.channel);
      return;
    }
    this.upstream = opened.channel;
    for (const notice of this.notices.splice(0)) await this.writeNotice(notice);
    this.bridge(client, opened);
  }

  protected override handleQueueError(error: unknown): void {
    const client = this.client;
    if (!(error instanceof UpstreamChannelError) || !client) {
      super.handleQueueError(error);
      return;
    }
    // The target refused the shell/exec/subsystem: say so and close just this channel.
    const text = `Witness: the target refused the ${error.request} request (${error.message}).\r\n`;
    this.context
      .record(this.recordingChannel, eventKinds.stderr, Buffer.from(text))
      .then(() => {
        if (client.stderr.writable) client.stderr.write(text);
        if (client.writable) client.exit(255);
        this.closedBy = 'target';
        void this.shutDown(undefined);
      })
      .catch((recordError: unknown) => this.context.onRecordFailure(recordError));
  }

  private async writeNotice(text: string): Promise<void> {
    const client = this.client;
    if (!client || this.closed) return;
    const line = `Witness: ${text}\r\n`;
    await this.recorded(
      this.context.record(this.recordingChannel, eventKinds.stderr, Buffer.from(line)),
    );
    if (client.stderr.writable) client.stderr.write(line);
  }

  private bridge(client: ServerChannel, opened: OpenedChannel): void {
    const upstream = opened.channel;
    upstream.on('error', (error: Error) => this.logError('upstream channel', error));
    upstream.stderr.on('error', (error: Error) => this.logError('upstream stderr', error));

    const input = this.pipe(client, upstream, eventKinds.input, BULK_FLOW);
    this.input = input;
    // A pty channel is someone at a terminal: keep its output queue short (TERMINAL_OUTPUT_FLOW).
    // Without a pty (scp, sftp, exec pipelines) the default budget keeps bulk transfers fast.
    const outputFlow = this.pty ? TERMINAL_OUTPUT_FLOW : BULK_FLOW;
    const output = this.pipe(upstream, client, eventKinds.output, outputFlow);
    const errors = this.pipe(upstream.stderr, client.stderr, eventKinds.stderr, outputFlow);
    client.resume();

    // Client EOF → target EOF, after the input before it has been forwarded.
    void input.done.then(async (outcome) => {
      if (outcome !== 'ended' || this.closed) return;
      await flushed(upstream);
      if (!this.closed && upstream.writable) upstream.end();
    });

    // The target is done: forward the last output, then its exit status, then close.
    void Promise.all([output.done, errors.done, opened.closed]).then(async ([out, err]) => {
      if (this.closed || out === 'aborted' || err === 'aborted') return;
      await Promise.all([flushed(client), flushed(client.stderr)]);
      if (this.closed) return;
      const exit = opened.exit();
      if (exit) {
        try {
          await this.recorded(
            this.context.recordJson(
              this.recordingChannel,
              eventKinds.exit,
              'code' in exit
                ? { code: exit.code }
                : { signal: exit.signal, coreDumped: exit.coreDumped },
            ),
          );
        } catch (error) {
          this.handleQueueError(error);
          return;
        }
        if (this.closed) return;
        sendExit(client, exit);
      }
      this.closedBy ??= 'target';
      void this.shutDown(undefined);
    });
  }
}

function sendExit(client: ServerChannel, exit: ExitInfo): void {
  try {
    if ('code' in exit) client.exit(exit.code);
    else client.exit(exit.signal, exit.coreDumped, exit.description);
  } catch {
    // A signal name ssh2 does not know: report a plain failure instead.
    client.exit(255);
  }
}

interface OpenedChannel {
  channel: ClientChannel;
  /** The target's exit-status / exit-signal, once it sent one. */
  exit(): ExitInfo | undefined;
  /** Resolves when the target closed the channel. */
  closed: Promise<void>;
}

function openUpstream(
  connection: Client,
  request: StartRequest,
  pty: PtyRequest | undefined,
  env: Record<string, string>,
): Promise<OpenedChannel> {
  const ptyOptions = pty && {
    term: pty.term,
    cols: pty.cols,
    rows: pty.rows,
    width: pty.width,
    height: pty.height,
    ...(pty.modes && { modes: pty.modes }),
  };
  const hasEnv = Object.keys(env).length > 0;
  // Only a pty channel (someone at a terminal) gets the small window; see TERMINAL_UPSTREAM_WINDOW.
  const smallWindow = ptyOptions !== undefined && request.type !== 'subsystem';
  return new Promise((resolve, reject) => {
    const done = (error: Error | undefined, channel: ClientChannel) => {
      if (error) {
        reject(error);
        return;
      }
      // Listen at once: a fast command's exit-status can arrive before the bridge is wired.
      let exit: ExitInfo | undefined;
      channel.on(
        'exit',
        (code: number | null, signal?: string, coreDumped?: boolean, description?: string) => {
          exit =
            typeof code === 'number'
              ? { code }
              : {
                  signal: String(signal ?? 'KILL').replace(/^SIG/, ''),
                  coreDumped: coreDumped === true,
                  description: String(description ?? ''),
                };
        },
      );
      const closed = new Promise<void>((resolveClosed) =>
        channel.once('close', () => resolveClosed()),
      );
      if (smallWindow) limitReceiveWindow(channel, TERMINAL_UPSTREAM_WINDOW);
      resolve({ channel, exit: () => exit, closed });
    };
    const open = () => {
      switch (request.type) {
        case 'shell':
          connection.shell(ptyOptions ?? false, hasEnv ? { env } : {}, done);
          break;
        case 'exec':
          connection.exec(
            request.command,
            { ...(ptyOptions && { pty: ptyOptions }), ...(hasEnv && { env }) },
            done,
          );
          break;
        case 'subsystem':
          connection.subsys(request.name, done);
          break;
      }
    };
    try {
      if (smallWindow) {
        openWithReceiveWindow(connection, TERMINAL_UPSTREAM_WINDOW, open);
      } else {
        open();
      }
    } catch (error) {
      // ssh2 throws when the connection is already gone.
      reject(error as Error);
    }
  });
}

/** A 'direct-tcpip' channel (ssh -L, ssh2 forwardOut) — only when the listener allows them. */
export class TcpipChannelBridge extends ChannelBridge {
  private client: ServerChannel | undefined;
  private upstream: ClientChannel | undefined;

  constructor(
    accept: () => ServerChannel,
    reject: () => void,
    info: TcpipRequestInfo,
    recordingChannel: number,
    context: BridgeContext,
  ) {
    super(recordingChannel, context);
    const target = {
      destHost: String(info.destIP),
      destPort: info.destPort,
      srcHost: String(info.srcIP),
      srcPort: info.srcPort,
    };
    this.enqueue(async () => {
      const connection = await this.awaitSession();
      if (!connection || this.closed) {
        reject();
        return;
      }
      await this.open(connection, accept, reject, target);
    }, 'always');
  }

  private async open(
    connection: Client,
    accept: () => ServerChannel,
    reject: () => void,
    target: { destHost: string; destPort: number; srcHost: string; srcPort: number },
  ): Promise<void> {
    await this.meta({ type: 'direct-tcpip', ...target });
    let upstream: ClientChannel;
    try {
      upstream = await new Promise<ClientChannel>((resolve, fail) =>
        connection.forwardOut(
          target.srcHost,
          target.srcPort,
          target.destHost,
          target.destPort,
          (error, channel) => (error ? fail(error) : resolve(channel)),
        ),
      );
    } catch (error) {
      await this.meta({ type: 'refused', request: 'direct-tcpip', reason: String(error) });
      reject();
      return;
    }
    if (this.closed) {
      closeQuietly(upstream);
      reject();
      return;
    }
    const client = accept();
    fixServerChannelWindowing(client);
    this.client = client;
    this.upstream = upstream;
    client.on('error', (error: Error) => this.logError('client tunnel', error));
    upstream.on('error', (error: Error) => this.logError('upstream tunnel', error));
    const input = this.pipe(client, upstream, eventKinds.input, BULK_FLOW);
    const output = this.pipe(upstream, client, eventKinds.output, BULK_FLOW);
    void input.done.then(async (outcome) => {
      if (outcome === 'ended' && !this.closed) {
        await flushed(upstream);
        if (upstream.writable) upstream.end();
      }
    });
    void output.done.then(async (outcome) => {
      if (outcome === 'ended' && !this.closed) void this.shutDown(undefined);
    });
    client.once('close', () => void this.shutDown(undefined));
  }

  protected async close(_notice: string | undefined, record: boolean): Promise<void> {
    if (this.upstream) closeQuietly(this.upstream);
    const client = this.client;
    if (client) {
      await withTimeout(flushed(client), CLOSE_FLUSH_TIMEOUT_MS);
      if (client.writable) client.end();
      else closeQuietly(client);
    }
    if (record) this.recordMeta({ type: 'channel-close' });
  }
}

function closeQuietly(channel: { close(): void }): void {
  try {
    channel.close();
  } catch {
    // Already closed.
  }
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void promise.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}
