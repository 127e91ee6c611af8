/**
 * Sends a terminal's input to main one `terminals.write` at a time, in order.
 *
 * Keystrokes arrive faster than a call round-trips while someone types or pastes; sending each
 * at once would let two calls race through the transport. Instead one call is in flight, and
 * whatever arrives meanwhile is coalesced and sent next (split at the contract's size limit),
 * so typing stays live and order is kept.
 */
import { splitTerminalInput, WRITE_LIMIT } from './splitTerminalInput.ts';

export type SendInput = (data: string) => Promise<void>;

export class TerminalInputQueue {
  private pending = '';
  private sending = false;
  private stopped = false;

  constructor(
    private readonly send: SendInput,
    /** Told when a write fails; the queue then drops what is pending (the session is gone). */
    private readonly onError: (error: unknown) => void,
    private readonly limit: number = WRITE_LIMIT,
  ) {}

  push(data: string): void {
    if (this.stopped || data.length === 0) return;
    this.pending += data;
    if (!this.sending) void this.drain();
  }

  /** Drops pending input; later pushes are ignored (the terminal ended or the tab closed). */
  stop(): void {
    this.stopped = true;
    this.pending = '';
  }

  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.pending.length > 0 && !this.stopped) {
        // Take at most one write's worth; the rest waits, still coalescing new input behind it.
        const [piece] = splitTerminalInput(this.pending, this.limit);
        if (piece === undefined) break;
        this.pending = this.pending.slice(piece.length);
        await this.send(piece);
      }
    } catch (error) {
      this.pending = '';
      this.onError(error);
    } finally {
      this.sending = false;
    }
  }
}
