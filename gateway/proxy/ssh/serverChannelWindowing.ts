/**
 * A fix for how ssh2 1.17's server channels wait for the client's SSH window, applied to each
 * channel the gateway accepts. Without it a proxied session loses or duplicates bytes:
 *
 * - A stdout write that had to wait for window leaves `_chunk`/`_chunkcb` set after it has
 *   completed. The next window adjust that finds `_waitWindow` set (a later *stderr* write
 *   that waited) re-sends that stale chunk — duplicate stdout bytes — calls its callback a
 *   second time, and never sends the waiting stderr bytes.
 * - When stdout and stderr both wait, a window adjust resumes stdout only; the stderr bytes
 *   stay parked until some later stdout write runs out of window again, which may never
 *   happen (the last output of a command, a gateway notice before the channel closes).
 *
 * The fix keeps ssh2's logic and only (a) forgets a parked chunk once its write completed, and
 * (b) resumes parked stderr bytes when stdout has nothing parked and there is window. It
 * relies on the private fields of lib/Channel.js named below; `serverChannelWindowing.test.ts`
 * reproduces both failures against a real ssh2 client, so an ssh2 upgrade that changes them
 * fails loudly there.
 */
import type { ServerChannel } from 'ssh2';

type WriteCallback = (error?: Error | null) => void;
type WriteFn = (data: Buffer, encoding: BufferEncoding | null, callback: WriteCallback) => void;

interface ChannelInternals {
  _write: WriteFn;
  _chunk: Buffer | undefined;
  _chunkcb: WriteCallback | undefined;
  _chunkErr: Buffer | undefined;
  _chunkcbErr: WriteCallback | undefined;
  outgoing: { window: number; state: string };
  stderr: { _write: WriteFn };
}

const patched = new WeakSet<object>();

export function fixServerChannelWindowing(channel: ServerChannel): void {
  const internals = channel as unknown as ChannelInternals;
  if (patched.has(internals) || typeof internals._write !== 'function') return;
  patched.add(internals);

  const writeStdout = internals._write.bind(internals);
  internals._write = (data, encoding, callback) =>
    writeStdout(data, encoding, (error) => {
      // The parked chunk (if this write was one) is sent: forget it before anything else runs.
      internals._chunk = undefined;
      internals._chunkcb = undefined;
      callback(error);
      resumeStderr(internals);
    });

  const stderr = internals.stderr;
  if (!stderr || typeof stderr._write !== 'function') return;
  const writeStderr = stderr._write.bind(stderr);
  stderr._write = (data, encoding, callback) =>
    writeStderr(data, encoding, (error) => {
      internals._chunkErr = undefined;
      internals._chunkcbErr = undefined;
      callback(error);
    });
}

function resumeStderr(internals: ChannelInternals): void {
  const data = internals._chunkErr;
  const callback = internals._chunkcbErr;
  if (!data || !callback || internals._chunk || internals.outgoing.window <= 0) return;
  internals._chunkErr = undefined;
  internals._chunkcbErr = undefined;
  internals.stderr._write(data, null, callback);
}
