/**
 * Reading stored recordings back: the raw stream, its verification, its events and its
 * exports. Each recording's row says which storage holds its bytes, so a gateway reads
 * recordings of either kind whatever it writes new ones to. Who may read what, and the audit
 * of it, are the API's business (api/recordingRoutes.ts); this module knows no transport.
 */
import type { RecordingVerification } from '../../shared/api/apiSchemas.ts';
import { type BundleStatementInput, writeBundle } from '../../shared/recording/recordingBundle.ts';
import { type RecordingEvent, RecordingReader } from '../../shared/recording/recordingFormat.ts';
import type { RecordingMetadata, RecordingStorageKind } from '../store/recordingStore.ts';
import { type RecordingStorage, startOfRecording } from './recordingStorage.ts';
import {
  inspectStoredRecording,
  type StoredRecordingInspection,
  verifyStoredRecording,
} from './recordingVerification.ts';

type StoredRecording = Pick<
  RecordingMetadata,
  'sessionId' | 'status' | 'storage' | 'userId' | 'resourceId' | 'protocol'
>;

export class RecordingArchive {
  private readonly storages: ReadonlyMap<RecordingStorageKind, RecordingStorage>;

  constructor(
    storages: readonly RecordingStorage[],
    /** The gateway's recording public key (SPKI PEM). */
    private readonly publicKeyPem: string,
    /** Signs a bundle's statement with the recording key (bundleStatement.ts); none: unsigned. */
    private readonly signStatement?: (bytes: Uint8Array) => Uint8Array,
    /** Earlier recording keys, still trusted for what they signed (rotation, issue #17). */
    private readonly earlierKeyPems: readonly string[] = [],
  ) {
    this.storages = new Map(storages.map((storage) => [storage.kind, storage]));
  }

  /** The recording's bytes, exactly as stored, streamed. */
  open(recording: StoredRecording): AsyncIterable<Buffer> {
    return this.storageOf(recording).open(recording.sessionId);
  }

  /** How many bytes are stored now, when the storage can tell cheaply (issue #16). */
  async storedBytes(recording: StoredRecording): Promise<number | undefined> {
    return this.storageOf(recording).storedBytes?.(recording.sessionId);
  }

  /** A token that changes whenever the stored bytes may have (undefined: cannot tell). */
  async fingerprint(recording: StoredRecording): Promise<string | undefined> {
    return this.storageOf(recording).fingerprint?.(recording.sessionId);
  }

  /**
   * The stored bytes [from, to) (issue #16). A storage that cannot seek (database chunks) is
   * read from its start and the bytes before `from` dropped: correct, and as costly as the
   * whole stream up to there.
   */
  async *openRange(recording: StoredRecording, from: number, to: number): AsyncIterable<Buffer> {
    const storage = this.storageOf(recording);
    if (storage.openRange) {
      yield* storage.openRange(recording.sessionId, from, to);
      return;
    }
    let at = 0;
    for await (const chunk of storage.open(recording.sessionId)) {
      const start = Math.max(0, from - at);
      const end = Math.min(chunk.length, to - at);
      at += chunk.length;
      if (start < end) yield chunk.subarray(start, end);
      if (at >= to) return;
    }
  }

  /**
   * Live watch: the recording's bytes from its start, then new bytes as the recorder writes
   * them (polled every `pollMs`), until `stillRecording()` answers false and what was written
   * before that is read, or `signal` aborts. The recorder closes its storage before it marks
   * the recording ended, so the last read after "ended" gets the final checkpoint.
   */
  async *follow(
    recording: StoredRecording,
    options: { stillRecording: () => Promise<boolean>; signal: AbortSignal; pollMs?: number },
  ): AsyncIterable<Buffer> {
    const storage = this.storageOf(recording);
    if (!storage.readFrom) {
      throw new Error(`The ${storage.kind} storage cannot follow a recording as it is written`);
    }
    const position = startOfRecording();
    const pollMs = options.pollMs ?? 200;
    while (!options.signal.aborted) {
      const recordingNow = await options.stillRecording();
      let read = false;
      for await (const chunk of storage.readFrom(recording.sessionId, position)) {
        read = true;
        yield chunk;
        if (options.signal.aborted) return;
      }
      if (!recordingNow) return;
      if (!read) await pause(pollMs, options.signal);
    }
  }

  verify(recording: StoredRecording): Promise<RecordingVerification> {
    return verifyStoredRecording(
      this.storageOf(recording),
      recording,
      this.publicKeyPem,
      this.earlierKeyPems,
    );
  }

  /**
   * Verifies the bytes and judges them with the row's own progress (a complete recording
   * that lost its tail fails), returning what the signed content says too (issue #12).
   */
  inspect(
    recording: StoredRecording &
      Partial<Pick<RecordingMetadata, 'lastCheckpointSeq' | 'bytes' | 'frames'>>,
  ): Promise<StoredRecordingInspection> {
    return inspectStoredRecording(
      this.storageOf(recording),
      recording,
      this.publicKeyPem,
      this.earlierKeyPems,
    );
  }

  /** The recording's events in order (decoded, not verified: that is `verify`'s job). */
  async *events(recording: StoredRecording): AsyncIterable<RecordingEvent> {
    const reader = new RecordingReader();
    for await (const chunk of this.open(recording)) {
      for (const record of reader.push(chunk)) {
        if (record.type === 'frame') yield record.event;
      }
    }
  }

  /**
   * The signed bundle `witness verify` checks offline (recordingBundle.ts). A recording whose
   * writer died (interrupted, failed) can end in a half-written record; the bundle leaves that
   * torn tail out, so offline verification reports the signed prefix as partial instead of
   * failing on bytes the gateway never finished writing. Complete recordings go out verbatim.
   */
  bundle(
    recording: StoredRecording,
    meta: Record<string, unknown>,
    /** What the gateway states, signed into the description (issue #12). */
    statement?: Omit<BundleStatementInput, 'sign'>,
  ): AsyncIterable<Uint8Array> {
    const stream =
      recording.status === 'complete'
        ? this.open(recording)
        : wholeRecordsOnly(this.open(recording));
    const sign = this.signStatement;
    return writeBundle(stream, {
      publicKeyPem: this.publicKeyPem,
      alsoTrustedKeys: this.earlierKeyPems,
      meta,
      ...(statement && sign ? { statement: { ...statement, sign } } : {}),
    });
  }

  private storageOf(recording: StoredRecording): RecordingStorage {
    const storage = this.storages.get(recording.storage);
    if (!storage) {
      throw new Error(
        `The recording of ${recording.sessionId} is stored in ${recording.storage}, which this gateway is not configured to read`,
      );
    }
    return storage;
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Passes bytes through up to the end of the last complete record. */
async function* wholeRecordsOnly(source: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const reader = new RecordingReader();
  let held: Buffer = Buffer.alloc(0);
  let emitted = 0;
  for await (const chunk of source) {
    reader.push(chunk);
    held = held.length === 0 ? chunk : Buffer.concat([held, chunk]);
    const ready = reader.offset - emitted;
    if (ready > 0) {
      yield held.subarray(0, ready);
      held = held.subarray(ready);
      emitted += ready;
    }
  }
}
