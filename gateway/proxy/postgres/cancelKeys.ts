/**
 * Cancel keys. A client cancels a running query by opening a *new* connection and sending a
 * CancelRequest with the (process id, secret key) it got in BackendKeyData. The gateway gives
 * each client a key of its own and keeps the target's real key to itself: a client must never
 * be able to cancel another session's query on the target, or learn which backend serves it.
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS
 */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export interface CancelKey {
  processId: number;
  secretKey: Buffer;
}

interface Entry {
  key: CancelKey;
  onCancel: () => void;
}

export class CancelKeyRegistry {
  private readonly byProcessId = new Map<number, Entry>();

  /** Issues a fresh gateway key; `onCancel` runs when a client presents it. */
  issue(onCancel: () => void): CancelKey {
    let processId: number;
    do {
      // Positive int32, like a real pid, so clients that print it are not confused.
      processId = randomInt(1, 0x7fffffff);
    } while (this.byProcessId.has(processId));
    const key = { processId, secretKey: randomBytes(4) };
    this.byProcessId.set(processId, { key, onCancel });
    return key;
  }

  revoke(key: CancelKey): void {
    if (this.byProcessId.get(key.processId)?.key === key) this.byProcessId.delete(key.processId);
  }

  /** Runs the session's cancel when the key matches; false (and nothing happens) otherwise. */
  cancel(processId: number, secretKey: Buffer): boolean {
    const entry = this.byProcessId.get(processId);
    if (!entry) return false;
    const expected = entry.key.secretKey;
    if (secretKey.length !== expected.length || !timingSafeEqual(secretKey, expected)) return false;
    entry.onCancel();
    return true;
  }

  get size(): number {
    return this.byProcessId.size;
  }
}
