import type { Socket } from 'node:net';

/**
 * Gathers what is written to `socket` within one turn of the event loop into one `writev`.
 *
 * ssh2 hands every SSH packet to its socket on its own (`socket.write(packet)`), and Node
 * tries each write on the kernel at once: a bulk channel costs one `write` system call per
 * ~32 KiB packet, on a machine where system calls and the wake-ups of the peer they cause
 * are what a byte costs (issue #11, bench:ssh). Corked, the packets a turn produces — the
 * relay forwards every read whose recording resolved in that turn — wait in the socket's
 * buffer and leave together when the turn's ticks and microtasks are done. Nothing waits for
 * a timer or a later turn, so a keystroke's echo is not delayed; order is the socket's own.
 */
export function corkWritesPerTurn(socket: Socket): void {
  let corked = false;
  const uncork = () => {
    corked = false;
    socket.uncork();
  };
  const write = socket.write;
  socket.write = function corkedWrite(this: Socket, ...args: Parameters<Socket['write']>) {
    if (!corked && !socket.destroyed) {
      corked = true;
      socket.cork();
      process.nextTick(uncork);
    }
    return write.apply(this, args);
  } as Socket['write'];
}
