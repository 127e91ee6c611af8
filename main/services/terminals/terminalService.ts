/**
 * Terminals for the desktop (issue #5): each is an SSH shell through the gateway with a fresh
 * single-use ticket, owned by the client (window or WebSocket) that opened it. Another
 * client's id is answered with `terminal_not_found`, exactly as for an id that never existed,
 * so one window cannot type into, resize, ack or close another's terminal.
 *
 * Plain Node: no Electron import. The session source (B's gateway account) is injected.
 */
import { randomBytes } from 'node:crypto';
import { type CallerContext, DesktopError } from '../../ipc/contract.ts';
import { openGatewayShell } from './gatewayShell.ts';
import { LiveTerminal } from './liveTerminal.ts';
import type { OutputFlowOptions } from './outputBatcher.ts';

export interface StartedTerminalSession {
  sessionId: string;
  ticket: string;
  /** The gateway's SSH listener. */
  host: string;
  port: number;
  expiresAt: string;
  resourceName: string;
  /** OpenSSH public key line of the gateway's SSH listener, from the pinned API (`/v1/keys`). */
  gatewayHostKey: string;
}

export interface TerminalSessionSource {
  /** `POST /v1/sessions` for an SSH resource; throws a DesktopError the user can act on. */
  startSession(resourceId: string): Promise<StartedTerminalSession>;
}

export interface TerminalServiceOptions extends OutputFlowOptions {
  sessions: TerminalSessionSource;
  /** Time to connect and log in to the gateway's SSH listener (default 15 s). */
  connectTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface OpenedTerminal {
  terminalId: string;
  sessionId: string;
  resourceName: string;
  expiresAt: string;
}

export interface TerminalSize {
  cols: number;
  rows: number;
}

export class TerminalService {
  private readonly terminals = new Map<string, LiveTerminal>();
  /** Bumped by closeAllFor / closeAll, so a terminal still opening for a gone client is closed. */
  private readonly generations = new Map<string, number>();
  private shutDown = false;
  private readonly log: (line: string) => void;

  constructor(private readonly deps: TerminalServiceOptions) {
    this.log = deps.log ?? (() => {});
  }

  async open(
    caller: CallerContext,
    request: { resourceId: string; size: TerminalSize },
  ): Promise<OpenedTerminal> {
    if (this.shutDown) throw new DesktopError('internal', 'The app is shutting down.');
    const generation = this.generationOf(caller.clientId);
    const session = await this.deps.sessions.startSession(request.resourceId);
    const { client, channel } = await openGatewayShell(
      {
        host: session.host,
        port: session.port,
        sessionId: session.sessionId,
        ticket: session.ticket,
        gatewayHostKey: session.gatewayHostKey,
        resourceName: session.resourceName,
      },
      {
        cols: request.size.cols,
        rows: request.size.rows,
        readyTimeoutMs: this.deps.connectTimeoutMs,
      },
    );
    if (this.shutDown || this.generationOf(caller.clientId) !== generation) {
      client.end();
      throw new DesktopError(
        'terminal_not_found',
        'The window that asked for this terminal closed while it was opening.',
      );
    }
    const terminalId = `trm_${randomBytes(12).toString('base64url')}`;
    const terminal = new LiveTerminal({
      terminalId,
      clientId: caller.clientId,
      sessionId: session.sessionId,
      resourceName: session.resourceName,
      expiresAt: session.expiresAt,
      client,
      channel,
      emit: caller.emit,
      flow: this.deps,
      onEnded: (ended) => {
        if (this.terminals.get(ended.terminalId) === ended) this.terminals.delete(ended.terminalId);
      },
      log: this.log,
    });
    this.terminals.set(terminalId, terminal);
    // After this call's answer is on its way (the answer goes out in the microtasks that
    // follow; setImmediate runs after them).
    setImmediate(() => terminal.startOutput());
    this.log(`terminal ${terminalId} opened on ${session.resourceName} (${session.sessionId})`);
    return {
      terminalId,
      sessionId: session.sessionId,
      resourceName: session.resourceName,
      expiresAt: session.expiresAt,
    };
  }

  write(clientId: string, terminalId: string, data: string): void {
    this.owned(clientId, terminalId).write(data);
  }

  resize(clientId: string, terminalId: string, size: TerminalSize): void {
    this.owned(clientId, terminalId).resize(size.cols, size.rows);
  }

  ack(clientId: string, terminalId: string, bytes: number): void {
    this.owned(clientId, terminalId).ack(bytes);
  }

  close(clientId: string, terminalId: string): void {
    this.owned(clientId, terminalId).close();
  }

  /** A window or WebSocket went away: its terminals close (their sessions end on the gateway). */
  closeAllFor(clientId: string): void {
    this.generations.set(clientId, this.generationOf(clientId) + 1);
    for (const terminal of [...this.terminals.values()]) {
      if (terminal.clientId === clientId) terminal.close();
    }
  }

  /** Sign-out or app exit: every terminal closes; resolves when their connections are down. */
  async closeAll(): Promise<void> {
    const all = [...this.terminals.values()];
    for (const clientId of new Set(all.map((t) => t.clientId))) {
      this.generations.set(clientId, this.generationOf(clientId) + 1);
    }
    for (const terminal of all) terminal.close();
    await Promise.race([
      Promise.all(all.map((t) => t.connectionClosed)),
      new Promise((resolve) => setTimeout(resolve, 3_000).unref()),
    ]);
  }

  /** Stops accepting new terminals and closes all (app exit). */
  async dispose(): Promise<void> {
    this.shutDown = true;
    await this.closeAll();
  }

  /** Terminals open right now (for tests and diagnostics). */
  get openCount(): number {
    return this.terminals.size;
  }

  private owned(clientId: string, terminalId: string): LiveTerminal {
    const terminal = this.terminals.get(terminalId);
    if (!terminal || terminal.clientId !== clientId) {
      throw new DesktopError(
        'terminal_not_found',
        'This terminal is no longer open. Open a new one from the resource list.',
      );
    }
    return terminal;
  }

  private generationOf(clientId: string): number {
    return this.generations.get(clientId) ?? 0;
  }
}
