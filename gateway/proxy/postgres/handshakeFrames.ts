/**
 * Awaitable messages for the two handshakes (client login, target login), where the protocol is
 * strictly request/answer and `await frames.next()` reads better than a state machine. Once a
 * handshake is done the session detaches this and reads the socket itself, taking over the
 * frames already framed but not consumed.
 */
import type { Duplex } from 'node:stream';
import {
  type Direction,
  type Frame,
  type MessageReader,
  ProtocolError,
} from '../../../shared/postgres/codec.ts';

/** The peer closed the connection (or it failed) before the handshake finished. */
export class PeerClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PeerClosedError';
  }
}

export class HandshakeFrames<D extends Direction> {
  private readonly queue: Frame[] = [];
  private waiter: { resolve(frame: Frame): void; reject(error: Error): void } | undefined;
  private failure: Error | undefined;
  private socket: Duplex | undefined;

  constructor(
    readonly reader: MessageReader<D>,
    socket: Duplex,
    /** "client" or "database server", for error messages. */
    private readonly peer: string,
  ) {
    this.attach(socket);
  }

  /** Reads from `socket` from now on (after a TLS upgrade: the TLS socket). */
  attach(socket: Duplex): void {
    this.detach();
    this.socket = socket;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onError);
  }

  /** Stops reading; returns the frames framed but not yet taken, for whoever reads next. */
  detach(): Frame[] {
    const socket = this.socket;
    if (socket) {
      socket.off('data', this.onData);
      socket.off('end', this.onEnd);
      socket.off('close', this.onEnd);
      socket.off('error', this.onError);
      this.socket = undefined;
    }
    return this.queue.splice(0);
  }

  /** The next message; rejects when the peer closes, errs or breaks the protocol. */
  next(): Promise<Frame> {
    const frame = this.queue.shift();
    if (frame !== undefined) return Promise.resolve(frame);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Rejects a pending `next()` (the handshake deadline passed). */
  abort(error: Error): void {
    this.fail(error);
  }

  expectTyped(): void {
    this.take(() => this.reader.expectTyped());
  }

  /** Frontend only: another startup packet follows. */
  expectStartup(): void {
    this.take(() => (this.reader as MessageReader<'frontend'>).expectStartup());
  }

  /** Backend only: the one-byte answer to an SSLRequest follows. */
  expectEncryptionResponse(): void {
    this.take(() => (this.reader as MessageReader<'backend'>).expectEncryptionResponse());
  }

  private take(read: () => Frame[]): void {
    try {
      for (const frame of read()) this.deliver(frame);
    } catch (error) {
      this.fail(error as Error);
    }
  }

  private deliver(frame: Frame): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve(frame);
    } else {
      this.queue.push(frame);
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(this.failure);
  }

  private readonly onData = (chunk: Buffer) => {
    if (this.failure) return;
    try {
      for (const frame of this.reader.push(chunk)) this.deliver(frame);
    } catch (error) {
      this.fail(
        error instanceof ProtocolError ? error : new ProtocolError('malformed', String(error)),
      );
    }
  };

  private readonly onEnd = () => {
    this.fail(new PeerClosedError(`The ${this.peer} closed the connection during login`));
  };

  private readonly onError = (error: Error) => {
    this.fail(new PeerClosedError(`Connection to the ${this.peer} failed: ${error.message}`));
  };
}
