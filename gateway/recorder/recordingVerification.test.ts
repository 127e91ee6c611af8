import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventKinds, RecordingReader } from '../../shared/recording/recordingFormat.ts';
import { recordingKeyId } from '../../shared/recording/verifyRecording.ts';
import { openSqliteStore } from '../store/openStore.ts';
import type { RecordingStatus, RecordingStore } from '../store/recordingStore.ts';
import type { StoreHandle } from '../store/storeConnection.ts';
import { readStoredBytes } from './fixtures/readRecording.ts';
import { Recorder } from './recorder.ts';

const CHECKPOINT_BYTES = 1024 * 1024;

import { DatabaseChunkStorage, type RecordingStorage } from './recordingStorage.ts';
import { verifyStoredRecording } from './recordingVerification.ts';

const { privateKey } = generateKeyPairSync('ed25519');
const publicKeyPem = createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString();

/** A storage holding given bytes, to check verification of hand-damaged recordings. */
function bytesStorage(bytes: Buffer): RecordingStorage {
  return {
    kind: 'segments',
    create: () => Promise.reject(new Error('read-only')),
    async *open() {
      // Odd-sized pieces, as a file stream would cut them anywhere.
      for (let at = 0; at < bytes.length; at += 4093) yield bytes.subarray(at, at + 4093);
    },
  };
}

describe('verifyStoredRecording', () => {
  let store: RecordingStore & StoreHandle;
  /** header, frames 1–2 covered by a checkpoint at 2, frames 3–5 after it, final checkpoint. */
  let recording: Buffer;
  /** Byte offset of each record, by layout name ('F3', 'C2', …). */
  const offsets = new Map<string, number>();

  beforeAll(async () => {
    store = await openSqliteStore(':memory:');
    const storage = new DatabaseChunkStorage(store);
    const recorder = new Recorder({
      store,
      storage,
      recordingKey: { keyId: recordingKeyId(publicKeyPem), privateKey },
      owner: 'gwi_v',
      checkpointBytes: CHECKPOINT_BYTES,
    });
    const session = await recorder.start({
      sessionId: 'ses_v',
      userId: 'u',
      resourceId: 'r',
      protocol: 'ssh',
    });
    await session.append(1, eventKinds.output, Buffer.alloc(CHECKPOINT_BYTES / 2, 1));
    await session.append(1, eventKinds.output, Buffer.alloc(CHECKPOINT_BYTES / 2, 2)); // → C2
    // C2 is written once its frames are synced, and frames appended meanwhile may precede it;
    // this layout wants it right after F2.
    while ((await store.getRecording('ses_v'))?.lastCheckpointSeq !== 2) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    for (const byte of [3, 4, 5]) await session.append(1, eventKinds.output, Buffer.from([byte]));
    await session.close();
    recording = await readStoredBytes(storage, 'ses_v');
    const reader = new RecordingReader();
    for (const record of reader.push(recording)) {
      if (record.type === 'frame') offsets.set(`F${record.event.seq}`, record.offset);
      if (record.type === 'checkpoint') {
        offsets.set(
          `C${record.checkpoint.seq}${record.checkpoint.final ? '!' : ''}`,
          record.offset,
        );
      }
    }
    expect([...offsets.keys()]).toEqual(['F1', 'F2', 'C2', 'F3', 'F4', 'F5', 'C5!']);
  });
  afterAll(async () => {
    await store.close();
  });

  const verify = (bytes: Buffer, status: RecordingStatus) =>
    verifyStoredRecording(bytesStorage(bytes), { sessionId: 'ses_v', status }, publicKeyPem);
  const at = (name: string) => offsets.get(name) as number;

  it('verifies an intact recording', async () => {
    expect(await verify(recording, 'complete')).toMatchObject({
      status: 'verified',
      verifiedThroughSeq: 5,
      firstBadSeq: null,
    });
  });

  it('calls a torn last record of an interrupted, failed or live recording partial', async () => {
    const torn = recording.subarray(0, at('F5') + 7); // cut inside frame 5
    for (const status of ['interrupted', 'failed', 'recording'] as const) {
      const result = await verify(torn, status);
      expect(result, status).toMatchObject({
        status: 'partial',
        verifiedThroughSeq: 2,
        firstBadSeq: null,
      });
      expect(result.message).toContain('frames 3–4 are unverified');
    }
  });

  it('still fails a torn end when the recording was closed cleanly: that is truncation', async () => {
    const torn = recording.subarray(0, at('C5!') + 3);
    expect(await verify(torn, 'complete')).toMatchObject({
      status: 'failed',
      verifiedThroughSeq: 2,
      firstBadSeq: 6,
    });
  });

  it('does not let a torn end excuse a frame dropped before it', async () => {
    const dropped = Buffer.concat([
      recording.subarray(0, at('F3')),
      recording.subarray(at('F4'), at('F5') + 7), // frame 3 removed, and the end torn
    ]);
    expect(await verify(dropped, 'interrupted')).toMatchObject({
      status: 'failed',
      verifiedThroughSeq: 2,
      firstBadSeq: 3,
    });
  });

  it('reports missing bytes as a failure of the whole recording', async () => {
    const empty: RecordingStorage = {
      kind: 'database',
      create: () => Promise.reject(new Error('read-only')),
      open: (sessionId) => new DatabaseChunkStorage(store).open(sessionId),
    };
    expect(
      await verifyStoredRecording(empty, { sessionId: 'ses_gone', status: 'failed' }, publicKeyPem),
    ).toMatchObject({
      status: 'failed',
      firstBadSeq: 0,
      message: expect.stringContaining('missing from storage'),
    });
  });
});
