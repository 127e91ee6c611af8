/**
 * The recordings store's contract, on SQLite and PostgreSQL (fixtures/storeContract.ts).
 * Recording rows, chunks and the access audit (recordingStore.ts): a recording only moves
 * forward, and recovery touches only its own instance's recordings.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  describeStoreContract,
  grant,
  newUser,
  recording,
  resource,
  session,
  T,
} from './fixtures/storeContract.ts';
import type { Store } from './store.ts';
import { StoreConflictError } from './storeConflictError.ts';

describeStoreContract('recordings', (underTest) => {
  let store: Store;
  const openAnother = () => underTest.openAnother();
  beforeEach(() => {
    store = underTest.store;
  });

  describe('recordings', () => {
    it('creates a recording row in status recording and reads it back', async () => {
      const created = await store.createRecording(recording(1));
      const expected = {
        sessionId: 'ses_1',
        userId: 'usr_1',
        resourceId: 'res_1',
        protocol: 'ssh',
        status: 'recording',
        owner: 'gwi_a',
        storage: 'segments',
        startedAt: T + 1000,
        endedAt: null,
        frames: 0,
        bytes: 0,
        lastCheckpointSeq: 0,
        lastCheckpointAt: null,
        failureReason: null,
        lastVerification: null,
      };
      expect(created).toEqual(expected);
      expect(await store.getRecording('ses_1')).toEqual(expected);
      expect(await store.getRecording('ses_404')).toBeUndefined();
      await expect(store.createRecording(recording(1))).rejects.toMatchObject({
        name: 'StoreConflictError',
        conflict: 'recordings.session_id',
      });
    });

    it('updates progress only while recording, and finishes once', async () => {
      await store.createRecording(recording(1));
      const progress = {
        frames: 12,
        bytes: 5_000_000_000, // beyond 2^32: a recording can be large
        lastCheckpointSeq: 10,
        lastCheckpointAt: T + 5000,
      };
      expect(await store.updateRecordingProgress('ses_1', progress)).toBe(true);
      expect(await store.getRecording('ses_1')).toMatchObject(progress);

      const finished = await store.finishRecording('ses_1', {
        status: 'complete',
        endedAt: T + 9000,
        progress: { ...progress, frames: 14, lastCheckpointSeq: 14 },
      });
      expect(finished).toMatchObject({ status: 'complete', endedAt: T + 9000, frames: 14 });
      // A late progress write or a second finish changes nothing.
      expect(await store.updateRecordingProgress('ses_1', progress)).toBe(false);
      expect(
        await store.finishRecording('ses_1', { status: 'failed', endedAt: T + 10_000 }),
      ).toBeUndefined();
      expect(await store.getRecording('ses_1')).toMatchObject({
        status: 'complete',
        frames: 14,
        failureReason: null,
      });
      expect(await store.updateRecordingProgress('ses_404', progress)).toBe(false);
    });

    it('keeps the stored progress when a finish gives none, and stores the failure reason', async () => {
      await store.createRecording(recording(1));
      await store.updateRecordingProgress('ses_1', {
        frames: 3,
        bytes: 300,
        lastCheckpointSeq: 2,
        lastCheckpointAt: T + 1500,
      });
      const failed = await store.finishRecording('ses_1', {
        status: 'failed',
        endedAt: T + 2000,
        failureReason: 'ENOSPC',
      });
      expect(failed).toMatchObject({
        status: 'failed',
        frames: 3,
        lastCheckpointSeq: 2,
        failureReason: 'ENOSPC',
      });
    });

    it('lists newest first with every filter', async () => {
      await store.createRecording(recording(1));
      await store.createRecording(recording(2, { userId: 'usr_2', protocol: 'postgres' }));
      await store.createRecording(recording(3, { resourceId: 'res_2' }));
      await store.createRecording(recording(4));
      await store.finishRecording('ses_4', { status: 'complete', endedAt: T + 5000 });
      const ids = async (filter: Partial<Parameters<Store['listRecordings']>[0]>) =>
        (await store.listRecordings({ limit: 100, ...filter })).map((r) => r.sessionId);
      expect(await ids({})).toEqual(['ses_4', 'ses_3', 'ses_2', 'ses_1']);
      expect(await ids({ limit: 2 })).toEqual(['ses_4', 'ses_3']);
      expect(await ids({ userId: 'usr_2' })).toEqual(['ses_2']);
      expect(await ids({ resourceId: 'res_2' })).toEqual(['ses_3']);
      expect(await ids({ status: 'complete' })).toEqual(['ses_4']);
      expect(await ids({ status: 'recording', protocol: 'ssh' })).toEqual(['ses_3', 'ses_1']);
      expect(await ids({ protocol: 'postgres' })).toEqual(['ses_2']);
      expect(await ids({ from: T + 2000, to: T + 3000 })).toEqual(['ses_3', 'ses_2']);
      expect(await ids({ from: T + 3500 })).toEqual(['ses_4']);
      expect(await ids({ to: T + 1000 })).toEqual(['ses_1']);
    });

    it("marks only this instance's unfinished recordings interrupted, across replicas", async () => {
      await store.createRecording(recording(1));
      await store.createRecording(recording(2));
      await store.createRecording(recording(3, { owner: 'gwi_b' }));
      await store.createRecording(recording(4));
      await store.finishRecording('ses_4', { status: 'complete', endedAt: T + 5000 });
      await store.updateRecordingProgress('ses_2', {
        frames: 7,
        bytes: 700,
        lastCheckpointSeq: 7,
        lastCheckpointAt: T + 2500,
      });
      const replica = await openAnother();
      expect(await replica.markUnfinishedRecordingsInterrupted('gwi_a', T + 60_000)).toEqual([
        'ses_1',
        'ses_2',
      ]);
      expect(await store.getRecording('ses_1')).toMatchObject({
        status: 'interrupted',
        endedAt: T + 1000, // never checkpointed: ended when it started, as far as is known
        failureReason: expect.stringContaining('stopped while recording'),
      });
      expect(await store.getRecording('ses_2')).toMatchObject({
        status: 'interrupted',
        endedAt: T + 2500,
      });
      expect((await store.getRecording('ses_3'))?.status).toBe('recording');
      expect((await store.getRecording('ses_4'))?.status).toBe('complete');
      expect(await store.markUnfinishedRecordingsInterrupted('gwi_a', T + 70_000)).toEqual([]);
    });

    it("ends the sessions of this instance's finished recordings at restart, across replicas", async () => {
      await store.createUser(newUser(1));
      await store.createResource(resource(1));
      await store.createGrant(grant(1));
      const live = { state: 'live' as const, startedAt: T + 1000 };
      for (const n of [1, 2, 3, 4]) await store.createSession(session(n, live));
      await store.createSession(session(5)); // pending: no recording, untouched
      await store.createRecording(recording(1));
      await store.createRecording(recording(2));
      await store.createRecording(recording(3, { owner: 'gwi_b' }));
      await store.createRecording(recording(4));
      await store.endSession('ses_4', 'closed by the client', T + 4000);
      await store.finishRecording('ses_4', { status: 'complete', endedAt: T + 4000 });

      const replica = await openAnother();
      await replica.markUnfinishedRecordingsInterrupted('gwi_a', T + 60_000);
      const ended = await replica.endSessionsRecordedBy('gwi_a', 'gateway stopped', T + 60_000);
      expect(ended.map((s) => s.id)).toEqual(['ses_1', 'ses_2']);
      for (const id of ['ses_1', 'ses_2']) {
        expect(await store.getSession(id)).toMatchObject({
          state: 'ended',
          endedAt: T + 60_000,
          endReason: 'gateway stopped',
        });
      }
      // Another replica's live session, an already ended one and a pending one stay as they were.
      expect(await store.getSession('ses_3')).toMatchObject({ state: 'live', endedAt: null });
      expect(await store.getSession('ses_4')).toMatchObject({ endReason: 'closed by the client' });
      expect((await store.getSession('ses_5'))?.state).toBe('pending');
      // A live recording of this instance (a restart run out of order) does not end its session.
      await store.createSession(session(6, live));
      await store.createRecording(recording(6));
      expect(await store.endSessionsRecordedBy('gwi_a', 'gateway stopped', T + 70_000)).toEqual([]);
    });

    it('stores recording chunks and pages through them in order, byte-exact', async () => {
      const chunks = [0, 1, 2, 3, 4].map((n) =>
        Buffer.from(Array.from({ length: 300 + n }, (_, i) => (i * 7 + n) & 0xff)),
      );
      // Written out of order on purpose: reads are ordered by chunk number.
      for (const n of [2, 0, 4, 1, 3]) await store.appendRecordingChunk('ses_1', n, chunks[n]!);
      await store.appendRecordingChunk('ses_2', 0, new Uint8Array([9, 9, 9]));
      const page1 = await store.listRecordingChunks('ses_1', -1, 2);
      expect(page1.map((c) => c.chunkNo)).toEqual([0, 1]);
      const page2 = await store.listRecordingChunks('ses_1', 1, 2);
      expect(page2.map((c) => c.chunkNo)).toEqual([2, 3]);
      const page3 = await store.listRecordingChunks('ses_1', 3, 2);
      expect(page3.map((c) => c.chunkNo)).toEqual([4]);
      expect(await store.listRecordingChunks('ses_1', 4, 2)).toEqual([]);
      const all = [...page1, ...page2, ...page3];
      for (const chunk of all) {
        expect(Buffer.isBuffer(chunk.data)).toBe(true);
        expect(chunk.data.equals(chunks[chunk.chunkNo]!)).toBe(true);
      }
      expect((await store.listRecordingChunks('ses_2', -1, 10))[0]?.data).toEqual(
        Buffer.from([9, 9, 9]),
      );
      await expect(
        store.appendRecordingChunk('ses_1', 3, Buffer.from('again')),
      ).rejects.toBeInstanceOf(StoreConflictError);
      expect(await store.listRecordingChunkSessionIds()).toEqual(['ses_1', 'ses_2']);
    });

    it('audits who read which recording, newest first', async () => {
      await store.insertRecordingAccess({
        id: 'acc_1',
        sessionId: 'ses_1',
        userId: 'usr_1',
        action: 'stream',
        at: T + 1,
      });
      await store.insertRecordingAccess({
        id: 'acc_2',
        sessionId: 'ses_1',
        userId: 'usr_2',
        action: 'export_cast',
        at: T + 2,
      });
      await store.insertRecordingAccess({
        id: 'acc_3',
        sessionId: 'ses_2',
        userId: 'usr_2',
        action: 'export_bundle',
        at: T + 3,
      });
      expect(
        (await store.listRecordingAccess({ sessionId: 'ses_1', limit: 10 })).map((a) => a.id),
      ).toEqual(['acc_2', 'acc_1']);
      expect(await store.listRecordingAccess({ userId: 'usr_2', limit: 1 })).toEqual([
        {
          id: 'acc_3',
          sessionId: 'ses_2',
          userId: 'usr_2',
          action: 'export_bundle',
          at: T + 3,
          detail: null,
        },
      ]);
    });
  });
});
