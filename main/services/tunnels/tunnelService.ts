/**
 * Tunnels in the desktop (issue #15): "Open tunnel" on a PostgreSQL resource listens on a
 * loopback port with the CLI's tunnel (gateway-client/tunnel/startPostgresTunnel — one tunnel
 * implementation), so every client connection is its own recorded gateway session. This
 * service adds what a long-running app needs around it:
 *
 * - the port is remembered per resource (TunnelPortStore), and a busy port is a sentence the
 *   panel shows (`conflict`), not a crash;
 * - live connections are tracked from the tunnel's connection events, for the panel's list and
 *   its recording links, and every change is announced (`onChange`, the `tunnels.changed`
 *   event a status bar can count);
 * - the tunnel ends when access ends: the gateway refusing a session for lack of a grant, a
 *   relayed session the gateway ended as "access revoked", or the periodic access check — with
 *   the reason kept on the ended tunnel for the panel to show;
 * - `endAll` (sign-out, app quit) closes every tunnel and ends the sessions it left open.
 *
 * Plain Node: the account, the gateway and the clock come in as narrow functions.
 */
import { randomBytes } from 'node:crypto';
import { tunnelConnectionLines } from '../../../gateway-client/dbConnectionLines.ts';
import {
  type PostgresTunnel,
  type PostgresTunnelOptions,
  startPostgresTunnel,
  type TunnelConnectionEvent,
  type TunnelSessionSource,
} from '../../../gateway-client/tunnel/postgresTunnel.ts';
import { DesktopError, type TunnelState, type TunnelView } from '../../ipc/contract.ts';
import type { TunnelPortStore } from './tunnelPorts.ts';

/** A PostgreSQL resource as a tunnel needs it. */
export interface TunnelResource {
  id: string;
  name: string;
  /** The target's database: what the copied lines name as dbname. */
  database: string;
}

export type AccessCheck =
  | { kind: 'granted' }
  | { kind: 'ended'; message: string }
  /** The gateway could not be asked (network, signed out): the tunnel stays. */
  | { kind: 'unknown' };

export interface TunnelServiceDeps {
  /** The pinned gateway (its URL keys the remembered ports) and its CA; null when none. */
  gateway(): { url: string; caPem: string } | null;
  /** The signed-in user's name, for the JDBC/URI lines (the tunnel itself ignores it). */
  username(): string;
  /** Throws a DesktopError for an unknown resource. */
  resource(resourceId: string): Promise<TunnelResource & { kind: string }>;
  /** One session per client connection, as the signed-in user. */
  sessions: TunnelSessionSource;
  /** A session refusal that means "no access now" (no grant, approval needed): its sentence. */
  accessRefusal(error: unknown): string | null;
  /** Why the gateway ended a session (null: unknown or not ended). */
  sessionEndReason(sessionId: string): Promise<string | null>;
  checkAccess(resourceId: string): Promise<AccessCheck>;
  /** Ends a session at the gateway; never throws. */
  endSession(sessionId: string): Promise<void>;
  ports: TunnelPortStore;
  onChange(tunnels: TunnelView[]): void;
  log(line: string): void;
  /** How often access is re-checked while a tunnel is open (default 5 s). */
  accessCheckMs?: number;
  /** Replaced in tests. */
  startTunnel?: (options: PostgresTunnelOptions) => Promise<PostgresTunnel>;
  now?: () => number;
}

interface LiveConnection {
  state: 'connecting' | 'live';
  since: number;
}

interface TunnelEntry {
  id: string;
  resource: TunnelResource;
  gatewayUrl: string;
  tunnel: PostgresTunnel;
  openedAt: number;
  state: TunnelState;
  connections: Map<string, LiveConnection>;
  sessionsOpened: number;
  timer: NodeJS.Timeout | undefined;
  username: string;
  /** A session refused for lack of access, whose client is being told so. */
  accessRefusal: string | null;
}

const DEFAULT_ACCESS_CHECK_MS = 5_000;

export class TunnelService {
  private readonly tunnels = new Map<string, TunnelEntry>();
  private readonly now: () => number;

  constructor(private readonly deps: TunnelServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  list(): TunnelView[] {
    return [...this.tunnels.values()].map((entry) => this.view(entry));
  }

  /** Open tunnels (not ended ones kept for their message), e.g. for a status bar. */
  openCount(): number {
    return [...this.tunnels.values()].filter((entry) => entry.state.kind === 'open').length;
  }

  async rememberedPort(resourceId: string): Promise<number | null> {
    const gateway = this.deps.gateway();
    return gateway ? this.deps.ports.get(gateway.url, resourceId) : null;
  }

  async open(resourceId: string, requestedPort?: number): Promise<TunnelView> {
    const gateway = this.deps.gateway();
    if (!gateway) throw new DesktopError('no_gateway', 'No gateway is set up yet.');
    const running = [...this.tunnels.values()].find(
      (entry) => entry.resource.id === resourceId && entry.state.kind === 'open',
    );
    if (running) {
      if (requestedPort === undefined || requestedPort === running.tunnel.port) {
        return this.view(running);
      }
      throw new DesktopError(
        'conflict',
        `The tunnel to ${running.resource.name} is already open on port ${running.tunnel.port}. Stop it first to open it on port ${requestedPort}.`,
      );
    }
    const resource = await this.deps.resource(resourceId);
    if (resource.kind !== 'postgres') {
      throw new DesktopError(
        'invalid_request',
        `${resource.name} is not a PostgreSQL database; tunnels are for PostgreSQL resources.`,
      );
    }
    const port = requestedPort ?? (await this.deps.ports.get(gateway.url, resourceId)) ?? 0;
    const id = `tun_${randomBytes(6).toString('hex')}`;
    // The entry exists before the listener so connection events always find it.
    let entry: TunnelEntry | undefined;
    const start = this.deps.startTunnel ?? startPostgresTunnel;
    let tunnel: PostgresTunnel;
    try {
      tunnel = await start({
        resource: { id: resource.id, name: resource.name },
        sessions: {
          createSession: async (rid) => {
            try {
              return await this.deps.sessions.createSession(rid);
            } catch (error) {
              const refusal = this.deps.accessRefusal(error);
              // Ended once the client has been sent the refusal (the 'refused' event): ending
              // now would cut its connection before it hears why.
              if (refusal !== null && entry) entry.accessRefusal = refusal;
              throw error;
            }
          },
        },
        caPem: gateway.caPem,
        host: '127.0.0.1',
        port,
        log: (line) => this.deps.log(`tunnel ${resource.name}: ${line}`),
        onConnectionEvent: (event) => {
          if (entry) this.onConnectionEvent(entry, event);
        },
      });
    } catch (error) {
      throw listenError(error, port, resource.name);
    }
    entry = {
      id,
      resource: { id: resource.id, name: resource.name, database: resource.database },
      gatewayUrl: gateway.url,
      tunnel,
      openedAt: this.now(),
      state: { kind: 'open' },
      connections: new Map(),
      sessionsOpened: 0,
      timer: undefined,
      username: this.deps.username(),
      accessRefusal: null,
    };
    // Dismissed or ended tunnels of the same resource make way for the new one.
    for (const [otherId, other] of this.tunnels) {
      if (other.resource.id === resourceId) this.tunnels.delete(otherId);
    }
    this.tunnels.set(id, entry);
    const opened = entry;
    opened.timer = setInterval(
      () => void this.checkAccess(opened),
      this.deps.accessCheckMs ?? DEFAULT_ACCESS_CHECK_MS,
    );
    opened.timer.unref();
    await this.deps.ports
      .set(gateway.url, resourceId, tunnel.port)
      .catch((error: unknown) => this.deps.log(`could not remember the port: ${messageOf(error)}`));
    this.deps.log(`tunnel ${resource.name}: listening on 127.0.0.1:${tunnel.port}`);
    this.changed();
    return this.view(opened);
  }

  /** Stops an open tunnel, or dismisses an ended one. */
  async close(tunnelId: string): Promise<void> {
    const entry = this.tunnels.get(tunnelId);
    if (!entry) throw new DesktopError('not_found', 'That tunnel is already closed.');
    this.tunnels.delete(tunnelId);
    await this.stop(entry);
    this.changed();
  }

  /** Sign-out or quit: every tunnel ends; quitting also forgets the ended ones. */
  async endAll(reason: 'signed-out' | 'app-quit'): Promise<void> {
    const message =
      reason === 'signed-out'
        ? 'You signed out, so the tunnel was closed. Sign in and open it again.'
        : 'The app quit, so the tunnel was closed.';
    const open = [...this.tunnels.values()].filter((entry) => entry.state.kind === 'open');
    for (const entry of open) entry.state = { kind: 'ended', reason, message };
    await Promise.all(open.map((entry) => this.stop(entry)));
    if (reason === 'app-quit') this.tunnels.clear();
    if (open.length > 0) this.changed();
  }

  private async stop(entry: TunnelEntry): Promise<void> {
    clearInterval(entry.timer);
    entry.timer = undefined;
    entry.connections.clear();
    const sessions = await entry.tunnel.close();
    // The gateway ends relayed sessions as it sees their connections close; one whose setup
    // was cut short may never have connected, so each is ended explicitly (as `witness tunnel`).
    await Promise.all(sessions.map((sessionId) => this.deps.endSession(sessionId)));
  }

  private onConnectionEvent(entry: TunnelEntry, event: TunnelConnectionEvent): void {
    switch (event.kind) {
      case 'session-created':
        entry.sessionsOpened += 1;
        entry.connections.set(event.sessionId, { state: 'connecting', since: this.now() });
        break;
      case 'connected':
        entry.connections.set(event.sessionId, { state: 'live', since: this.now() });
        break;
      case 'closed':
        entry.connections.delete(event.sessionId);
        void this.checkEndedSession(entry, event.sessionId);
        break;
      case 'refused': {
        if (event.sessionId !== null) entry.connections.delete(event.sessionId);
        const refusal = entry.accessRefusal;
        if (refusal !== null) {
          entry.accessRefusal = null;
          // The FATAL is queued on the client's socket by now; the tunnel closes after it.
          setImmediate(() => this.endForAccess(entry, refusal));
        }
        break;
      }
      default: {
        const unknown: never = event;
        void unknown;
      }
    }
    if (entry.state.kind === 'open') this.changed();
  }

  /** A relayed session the gateway ended for lost access ends the tunnel too. */
  private async checkEndedSession(entry: TunnelEntry, sessionId: string): Promise<void> {
    if (entry.state.kind !== 'open') return;
    const reason = await this.deps.sessionEndReason(sessionId).catch(() => null);
    if (reason?.startsWith('access revoked')) {
      this.endForAccess(
        entry,
        `Your access to ${entry.resource.name} ended (${reason.replace(/^access revoked: /, '')}).`,
      );
    }
  }

  private async checkAccess(entry: TunnelEntry): Promise<void> {
    if (entry.state.kind !== 'open') return;
    const verdict = await this.deps
      .checkAccess(entry.resource.id)
      .catch((): AccessCheck => ({ kind: 'unknown' }));
    if (verdict.kind === 'ended') this.endForAccess(entry, verdict.message);
  }

  private endForAccess(entry: TunnelEntry, why: string): void {
    if (entry.state.kind !== 'open') return;
    entry.state = {
      kind: 'ended',
      reason: 'grant-ended',
      message: `${why} The tunnel on 127.0.0.1:${entry.tunnel.port} was closed — request access again, then reopen it.`,
    };
    this.deps.log(`tunnel ${entry.resource.name}: ended: ${why}`);
    this.changed();
    this.stop(entry)
      .catch((error: unknown) => this.deps.log(`stopping a tunnel: ${messageOf(error)}`))
      .finally(() => this.changed());
  }

  private changed(): void {
    this.deps.onChange(this.list());
  }

  private view(entry: TunnelEntry): TunnelView {
    const host = '127.0.0.1';
    return {
      tunnelId: entry.id,
      resourceId: entry.resource.id,
      resourceName: entry.resource.name,
      host,
      port: entry.tunnel.port,
      openedAt: new Date(entry.openedAt).toISOString(),
      state: entry.state,
      connections: [...entry.connections].map(([sessionId, connection]) => ({
        sessionId,
        state: connection.state,
        since: new Date(connection.since).toISOString(),
      })),
      sessionsOpened: entry.sessionsOpened,
      lines: tunnelConnectionLines({
        host,
        port: entry.tunnel.port,
        database: entry.resource.database,
        username: entry.username,
      }),
    };
  }
}

/** A listen failure as a sentence the panel shows next to the port field. */
function listenError(error: unknown, port: number, resourceName: string): DesktopError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE') {
    return new DesktopError(
      'conflict',
      `Port ${port} on 127.0.0.1 is already in use by another program. Choose another port for ${resourceName} (0 picks a free one).`,
    );
  }
  if (code === 'EACCES') {
    return new DesktopError(
      'invalid_request',
      `Port ${port} needs administrator rights on this system. Choose a port above 1023 for ${resourceName}.`,
    );
  }
  return new DesktopError(
    'internal',
    `Could not open the tunnel to ${resourceName} on port ${port}: ${messageOf(error)}`,
  );
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
