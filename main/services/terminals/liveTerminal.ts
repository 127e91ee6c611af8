/**
 * One open terminal: an SSH shell channel through the gateway, its output flowing to one
 * client through an OutputBatcher, and the rule that it ends exactly once with one reason:
 *
 * - the user closed it                         → closed (at once; later output is dropped)
 * - exit-status / exit-signal before CLOSE     → exited
 * - CLOSE after a "Witness: …" stderr notice   → gateway (gatewayEndNotice.ts)
 * - the connection failed or closed otherwise  → connection-lost
 *
 * Every reason but `closed` is decided only after the channel's stdout and stderr have both
 * ended and the last batch is out, so the end event never overtakes output.
 */
import type { Client, ClientChannel } from 'ssh2';
import type { EventSender, TerminalEndReason } from '../../ipc/contract.ts';
import { findGatewayNotice, gatewayEndReason } from './gatewayEndNotice.ts';
import { OutputBatcher, type OutputFlowOptions, type OutputStream } from './outputBatcher.ts';

/** Enough stderr to hold the gateway's last notice line. */
const STDERR_TAIL_CHARS = 4096;

export interface LiveTerminalInit {
  terminalId: string;
  clientId: string;
  sessionId: string;
  resourceName: string;
  expiresAt: string;
  client: Client;
  channel: ClientChannel;
  emit: EventSender;
  flow: OutputFlowOptions;
  /** Called once, after `terminal.ended` went out. */
  onEnded: (terminal: LiveTerminal) => void;
  log?: (line: string) => void;
}

export class LiveTerminal {
  readonly terminalId: string;
  readonly clientId: string;
  readonly sessionId: string;
  readonly resourceName: string;
  readonly expiresAt: string;
  /** Resolves when the SSH connection to the gateway is closed. */
  readonly connectionClosed: Promise<void>;
  private readonly client: Client;
  private readonly channel: ClientChannel;
  private readonly emit: EventSender;
  private readonly batcher: OutputBatcher;
  private readonly onEnded: (terminal: LiveTerminal) => void;
  private readonly log: (line: string) => void;
  private ended = false;
  private exit: { exitCode: number | null; signal: string | null } | undefined;
  private stderrTail = '';
  private connectionError: string | undefined;
  private stdoutEnded = false;
  private stderrEnded = false;
  private channelClosed = false;
  private outputStarted = false;

  constructor(init: LiveTerminalInit) {
    this.terminalId = init.terminalId;
    this.clientId = init.clientId;
    this.sessionId = init.sessionId;
    this.resourceName = init.resourceName;
    this.expiresAt = init.expiresAt;
    this.client = init.client;
    this.channel = init.channel;
    this.emit = init.emit;
    this.onEnded = init.onEnded;
    this.log = init.log ?? (() => {});
    this.batcher = new OutputBatcher(
      {
        emit: (data, bytes) =>
          this.send('terminal.data', { terminalId: this.terminalId, data, bytes }),
        pause: () => {
          this.channel.pause();
          this.channel.stderr.pause();
        },
        resume: () => {
          this.channel.resume();
          this.channel.stderr.resume();
        },
      },
      init.flow,
    );
    this.connectionClosed = new Promise((resolve) => {
      // ssh2 emits 'close' once per connection; a client that is already gone is covered by
      // the channel's own close, which ssh2 simulates for every channel on disconnect.
      this.client.once('close', () => resolve());
    });
    this.listen();
  }

  /**
   * Starts the output flowing. Called after `terminals.open` has answered, so the renderer
   * knows the terminal id before its first `terminal.data` (ssh2 buffers until then).
   */
  startOutput(): void {
    if (this.outputStarted || this.ended) return;
    this.outputStarted = true;
    this.channel.on('data', (chunk: Buffer) => this.output('stdout', chunk));
    this.channel.stderr.on('data', (chunk: Buffer) => this.output('stderr', chunk));
  }

  write(data: string): void {
    if (this.ended || !this.channel.writable) return;
    this.channel.write(data);
  }

  resize(cols: number, rows: number): void {
    if (this.ended) return;
    // ssh2's order is (rows, cols, height, width); pixel sizes are unknown here.
    this.channel.setWindow(rows, cols, 0, 0);
  }

  ack(bytes: number): void {
    this.batcher.ack(bytes);
  }

  /** The user (or the window going away) closes it: `closed`, now. */
  close(): void {
    if (this.ended) return;
    this.batcher.discard();
    this.finish({ kind: 'closed' });
  }

  private listen(): void {
    const { client, channel } = this;
    client.on('error', (error: Error) => {
      this.connectionError ??= error.message;
      this.log(`terminal ${this.terminalId}: connection error: ${error.message}`);
    });
    client.on('close', () => {
      // Normally the channel closed first. If not, ssh2 closes it now (utils.js cleanup) and
      // the channel's end/close handlers below decide.
      this.connectionError ??= 'the connection to the gateway closed';
    });
    channel.on('error', (error: Error) => {
      this.connectionError ??= error.message;
    });
    channel.stderr.on('error', () => {});
    channel.on('exit', (code: number | null, signal?: string) => {
      this.exit = { exitCode: code ?? null, signal: signal ?? null };
    });
    channel.on('end', () => {
      this.stdoutEnded = true;
      this.maybeEnd();
    });
    channel.stderr.on('end', () => {
      this.stderrEnded = true;
      this.maybeEnd();
    });
    channel.on('close', () => {
      this.channelClosed = true;
      this.maybeEnd();
    });
  }

  private output(stream: OutputStream, chunk: Buffer): void {
    if (stream === 'stderr') {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
    }
    this.batcher.push(stream, chunk);
  }

  private maybeEnd(): void {
    if (this.ended || !this.channelClosed || !this.stdoutEnded || !this.stderrEnded) return;
    this.batcher.finish();
    this.finish(this.endReason());
  }

  private endReason(): TerminalEndReason {
    if (this.exit) return { kind: 'exited', ...this.exit };
    const notice = findGatewayNotice(this.stderrTail);
    if (notice !== undefined) return gatewayEndReason(notice);
    return {
      kind: 'connection-lost',
      message: `The connection to the gateway was lost (${this.connectionError ?? 'the channel closed without an exit status'}). Reconnecting starts a new session.`,
    };
  }

  private finish(reason: TerminalEndReason): void {
    if (this.ended) return;
    this.ended = true;
    this.client.end();
    this.send('terminal.ended', { terminalId: this.terminalId, reason });
    this.onEnded(this);
  }

  private send: EventSender = (name, payload) => {
    try {
      this.emit(name, payload);
    } catch (error) {
      // The client (window, WebSocket) may be gone; the terminal still ends cleanly.
      this.log(`terminal ${this.terminalId}: could not send ${name}: ${String(error)}`);
    }
  };
}
