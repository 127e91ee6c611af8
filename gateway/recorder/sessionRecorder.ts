/**
 * What a proxy sees of the recorder. The recorder knows no protocol: a proxy hands it
 * (channel, kind, bytes) and forwards those bytes only after `append` has resolved — that is
 * how "input is recorded before it is forwarded" and "no unrecorded byte is forwarded" hold.
 *
 * Fail closed: when the recorder cannot persist, `append` rejects with a RecorderFailure and
 * `failed` resolves; the proxy must then end the session with the failure's message and
 * forward nothing more.
 */
import type { Protocol } from '../../shared/api/apiSchemas.ts';
import type { EventKind } from '../../shared/recording/recordingFormat.ts';

export interface SessionRecorder {
  readonly sessionId: string;
  /**
   * Records one event. Data larger than a frame's limit is split into several frames. The
   * returned promise resolves once the bytes are written to storage (OS-buffered; a signed
   * checkpoint follows within a second or a MiB, fsynced).
   */
  append(channel: number, kind: EventKind, data: Uint8Array): Promise<void>;
  /** Convenience for structured events: JSON-encodes `value` as the event data. */
  appendJson(channel: number, kind: EventKind, value: unknown): Promise<void>;
  /** Writes the final signed checkpoint and closes storage. Idempotent. */
  close(): Promise<void>;
  /** Resolves (never rejects) with the failure when persisting fails; the session must end. */
  readonly failed: Promise<RecorderFailure>;
}

export class RecorderFailure extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RecorderFailure';
  }
}

/** Creates the recorder for a session that is starting (called by the proxies). */
export interface RecorderFactory {
  start(session: {
    sessionId: string;
    userId: string;
    resourceId: string;
    protocol: Protocol;
  }): Promise<SessionRecorder>;
}
