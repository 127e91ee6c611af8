/**
 * Query consoles for the desktop (issue #15): each is a PostgreSQL session through the gateway
 * with a fresh single-use ticket, owned by the client (window or WebSocket) that opened it —
 * another client's console id is answered exactly as an unknown one, as for terminals.
 *
 * Plain Node: no Electron import. Where sessions come from is injected.
 */
import { type CallerContext, type ConsoleSchemaCatalog, DesktopError } from '../../ipc/contract.ts';
import { type ConsoleEndpoint, type ConsoleFlow, LiveConsole } from './liveConsole.ts';

export interface StartedConsoleSession extends ConsoleEndpoint {
  expiresAt: string;
  resourceName: string;
}

export interface ConsoleSessionSource {
  /** `POST /v1/sessions` for a PostgreSQL resource; throws a DesktopError the user can act on. */
  startSession(resourceId: string): Promise<StartedConsoleSession>;
}

export interface QueryConsoleServiceOptions extends ConsoleFlow {
  sessions: ConsoleSessionSource;
  log?: (line: string) => void;
}

export interface OpenedConsole {
  consoleId: string;
  sessionId: string;
  resourceName: string;
  database: string;
  expiresAt: string;
}

interface Owned {
  clientId: string;
  console: LiveConsole;
}

export class QueryConsoleService {
  private readonly consoles = new Map<string, Owned>();
  private shutDown = false;
  private readonly log: (line: string) => void;

  constructor(private readonly deps: QueryConsoleServiceOptions) {
    this.log = deps.log ?? (() => {});
  }

  async open(caller: CallerContext, request: { resourceId: string }): Promise<OpenedConsole> {
    if (this.shutDown) throw new DesktopError('internal', 'The app is shutting down.');
    const session = await this.deps.sessions.startSession(request.resourceId);
    let consoleId = '';
    const live = new LiveConsole(
      session,
      (event) => caller.emit('console.event', { consoleId, event }),
      this.deps,
      () => {
        if (this.consoles.get(consoleId)?.console === live) this.consoles.delete(consoleId);
      },
    );
    consoleId = live.consoleId;
    await live.connect();
    this.consoles.set(consoleId, { clientId: caller.clientId, console: live });
    this.log(`console ${consoleId} opened on ${session.resourceName} (${session.sessionId})`);
    return {
      consoleId,
      sessionId: session.sessionId,
      resourceName: session.resourceName,
      database: session.database,
      expiresAt: session.expiresAt,
    };
  }

  run(clientId: string, consoleId: string, sql: string, offset = 0): { runId: string } {
    return { runId: this.owned(clientId, consoleId).start(sql, offset) };
  }

  async cancel(clientId: string, consoleId: string): Promise<void> {
    const live = this.owned(clientId, consoleId);
    try {
      await live.cancel();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new DesktopError(
        'gateway_error',
        `The cancel request did not reach the gateway: ${message}`,
      );
    }
  }

  ack(clientId: string, consoleId: string, rows: number): void {
    this.owned(clientId, consoleId).ack(rows);
  }

  catalog(clientId: string, consoleId: string): Promise<ConsoleSchemaCatalog> {
    return this.owned(clientId, consoleId).catalog();
  }

  async close(clientId: string, consoleId: string): Promise<void> {
    const live = this.owned(clientId, consoleId);
    this.consoles.delete(consoleId);
    await live.close();
  }

  /** A window or WebSocket went away: its consoles close (their sessions end on the gateway). */
  closeAllFor(clientId: string): void {
    for (const [consoleId, owned] of [...this.consoles]) {
      if (owned.clientId !== clientId) continue;
      this.consoles.delete(consoleId);
      void owned.console.close();
    }
  }

  /** Sign-out or app exit. */
  async closeAll(): Promise<void> {
    const all = [...this.consoles.values()];
    this.consoles.clear();
    await Promise.all(all.map((owned) => owned.console.close()));
  }

  async dispose(): Promise<void> {
    this.shutDown = true;
    await this.closeAll();
  }

  get openCount(): number {
    return this.consoles.size;
  }

  private owned(clientId: string, consoleId: string): LiveConsole {
    const owned = this.consoles.get(consoleId);
    if (!owned || owned.clientId !== clientId) {
      throw new DesktopError(
        'terminal_not_found',
        'This console is no longer open. Open a new one from the resource list.',
      );
    }
    return owned.console;
  }
}
