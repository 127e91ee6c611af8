/**
 * One terminal tab's link to main: opens the session, feeds output to the screen and acks it,
 * sends input and size changes, reconnects, and closes. No DOM and no React here, so the
 * back-pressure rule is tested in Node: main is acked for a batch only after xterm has parsed
 * it (its write callback ran), never on receipt — otherwise a `cat` of a huge file would queue
 * unbounded output in the page and freeze it (DESIGN.md, Desktop).
 */
import type { DesktopApi, TerminalEndReason } from '../../../main/ipc/contract.ts';
import type { TerminalEventRouter } from './terminalEventRouter.ts';
import { TerminalInputQueue } from './terminalInputQueue.ts';

export type ConnectionState =
  | { kind: 'opening' }
  | { kind: 'live'; terminalId: string; sessionId: string; expiresAt: string }
  | { kind: 'ended'; sessionId: string; expiresAt: string; reason: TerminalEndReason }
  | { kind: 'failed'; message: string };

export interface TerminalSize {
  cols: number;
  rows: number;
}

/** What the connection needs of the xterm wrapper. */
export interface TerminalScreen {
  size(): TerminalSize;
  write(data: string, parsed?: () => void): void;
  setInputEnabled(enabled: boolean): void;
}

export interface TerminalConnectionDeps {
  api: DesktopApi;
  router: TerminalEventRouter;
  resourceId: string;
  screen: TerminalScreen;
  onState(state: ConnectionState): void;
  describeError(error: unknown): string;
  /** Resizes arrive in bursts while a window is dragged; only the last one is sent. */
  resizeDebounceMs?: number;
}

const ignore = () => {};

export class TerminalConnection {
  private state: ConnectionState = { kind: 'opening' };
  private terminalId: string | null = null;
  private queue: TerminalInputQueue | null = null;
  private detach: (() => void) | null = null;
  /** Bumped by every open and by close, so a late `terminals.open` answer is recognised. */
  private generation = 0;
  private disposed = false;
  private unacked = 0;
  private ackScheduled = false;
  private resizeTimer: ReturnType<typeof setTimeout> | null = null;
  private lastSentSize: TerminalSize | null = null;

  constructor(private readonly deps: TerminalConnectionDeps) {}

  current(): ConnectionState {
    return this.state;
  }

  /** Opens a session (the first time, and again on Reconnect, in the same tab). */
  open(): void {
    if (this.disposed) return;
    this.release();
    const generation = ++this.generation;
    this.setState({ kind: 'opening' });
    this.deps.screen.setInputEnabled(false);
    const size = this.deps.screen.size();
    this.deps.api.call('terminals.open', { resourceId: this.deps.resourceId, size }).then(
      (opened) => {
        if (this.disposed || generation !== this.generation) {
          // The tab closed (or reconnected again) while this was opening: end the orphan.
          this.deps.api.call('terminals.close', { terminalId: opened.terminalId }).catch(ignore);
          return;
        }
        const terminalId = opened.terminalId;
        this.terminalId = terminalId;
        this.lastSentSize = size;
        this.queue = new TerminalInputQueue(
          async (data) => {
            await this.deps.api.call('terminals.write', { terminalId, data });
          },
          // A failed write means the terminal is gone; its terminal.ended event says why.
          ignore,
        );
        this.setState({
          kind: 'live',
          terminalId,
          sessionId: opened.sessionId,
          expiresAt: opened.expiresAt,
        });
        this.deps.screen.setInputEnabled(true);
        // Attach last: it may deliver output (even the end) that arrived before this answer.
        this.detach = this.deps.router.attach(terminalId, {
          data: (event) => {
            this.deps.screen.write(event.data, () => this.ack(terminalId, event.bytes));
          },
          ended: (event) => this.ended(terminalId, event.reason),
        });
        // The window may have been resized while the session was opening.
        this.sendResize(this.deps.screen.size());
      },
      (error: unknown) => {
        if (this.disposed || generation !== this.generation) return;
        this.setState({ kind: 'failed', message: this.deps.describeError(error) });
      },
    );
  }

  input(data: string): void {
    if (this.state.kind === 'live') this.queue?.push(data);
  }

  resize(size: TerminalSize): void {
    if (this.state.kind !== 'live') return;
    if (this.resizeTimer !== null) clearTimeout(this.resizeTimer);
    this.resizeTimer = setTimeout(() => {
      this.resizeTimer = null;
      this.sendResize(size);
    }, this.deps.resizeDebounceMs ?? 50);
  }

  /** The tab closed or the page is going away: end the session and stop listening. */
  close(): void {
    if (this.disposed) return;
    const terminalId = this.state.kind === 'live' ? this.terminalId : null;
    this.disposed = true;
    this.generation++;
    this.release();
    if (terminalId !== null) {
      this.deps.api.call('terminals.close', { terminalId }).catch(ignore);
    }
  }

  private ended(terminalId: string, reason: TerminalEndReason): void {
    if (terminalId !== this.terminalId || this.state.kind !== 'live') return;
    const { sessionId, expiresAt } = this.state;
    this.queue?.stop();
    this.deps.screen.setInputEnabled(false);
    this.setState({ kind: 'ended', sessionId, expiresAt, reason });
  }

  /**
   * Acks are summed and sent once per task: xterm runs many write callbacks in one parse pass,
   * and one `terminals.ack` for all of them keeps the IPC traffic to a call per frame or so.
   */
  private ack(terminalId: string, bytes: number): void {
    if (terminalId !== this.terminalId) return;
    this.unacked += bytes;
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    queueMicrotask(() => {
      this.ackScheduled = false;
      const amount = this.unacked;
      this.unacked = 0;
      if (amount > 0 && terminalId === this.terminalId) {
        this.deps.api.call('terminals.ack', { terminalId, bytes: amount }).catch(ignore);
      }
    });
  }

  private sendResize(size: TerminalSize): void {
    const terminalId = this.terminalId;
    if (terminalId === null || this.state.kind !== 'live') return;
    const last = this.lastSentSize;
    if (last !== null && last.cols === size.cols && last.rows === size.rows) return;
    this.lastSentSize = size;
    this.deps.api.call('terminals.resize', { terminalId, size }).catch(ignore);
  }

  /** Drops the current session's listeners and pending input (not the session itself). */
  private release(): void {
    this.detach?.();
    this.detach = null;
    this.queue?.stop();
    this.queue = null;
    this.terminalId = null;
    this.unacked = 0;
    if (this.resizeTimer !== null) clearTimeout(this.resizeTimer);
    this.resizeTimer = null;
  }

  private setState(state: ConnectionState): void {
    this.state = state;
    this.deps.onState(state);
  }
}
