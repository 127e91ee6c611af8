/**
 * Small `crypto.randomFillSync` draws served from a pooled block (imported for its effect,
 * first thing in gateway/index.ts, before ssh2 loads).
 *
 * ssh2 fills every packet's 4–255 bytes of padding with `randomFillSync` (protocol/crypto.js,
 * bound when it loads). Each call goes through OpenSSL's RAND_bytes, which checks for a fork with
 * a `getpid` system call, plus Node's argument checks: 1–6 µs per packet measured here, one
 * system call per packet sent — on a machine where system calls cost more, a visible part of
 * the gateway's CPU per byte (issue #11). Draws of up to 256 bytes now copy from a 64 KiB
 * block filled by the same CSPRNG, so there is one RAND_bytes call per ~4,000 packets.
 *
 * Every pooled byte is handed out once. The pool lives in the gateway's memory beside the keys
 * the randomness protects, and the gateway never forks (child processes exec), which is why
 * OpenSSL's per-call fork check buys nothing here. Larger draws, and anything but a plain
 * Uint8Array, go to the original function.
 */
import crypto from 'node:crypto';

const POOL_BYTES = 64 * 1024;
const MAX_POOLED_DRAW = 256;

const original = crypto.randomFillSync;
const pool = Buffer.allocUnsafeSlow(POOL_BYTES);
let used = POOL_BYTES;

function pooledRandomFillSync<T extends NodeJS.ArrayBufferView>(
  buffer: T,
  offset?: number,
  size?: number,
): T {
  const start = offset ?? 0;
  if (!(buffer instanceof Uint8Array) || !Number.isSafeInteger(start) || start < 0) {
    return original(buffer, offset, size);
  }
  const length = size ?? buffer.length - start;
  if (
    !Number.isSafeInteger(length) ||
    length < 0 ||
    length > MAX_POOLED_DRAW ||
    start + length > buffer.length
  ) {
    return original(buffer, offset, size); // its own checks and errors
  }
  if (used + length > POOL_BYTES) {
    original(pool);
    used = 0;
  }
  buffer.set(pool.subarray(used, used + length), start);
  pool.fill(0, used, used + length); // handed out: nothing left to reuse
  used += length;
  return buffer;
}

/** Whether the pooled draw is installed (tests). */
export function pooledRandomInstalled(): boolean {
  return crypto.randomFillSync === (pooledRandomFillSync as typeof crypto.randomFillSync);
}

// CommonJS modules (ssh2) read `require('crypto').randomFillSync`, which is this same object.
crypto.randomFillSync = pooledRandomFillSync as typeof crypto.randomFillSync;
