/**
 * A gateway killed mid-session (issue #3, "Fault tests"): a child process records as fast as
 * it can and is killed with SIGKILL. What it left must verify up to its last checkpoint, byte
 * for byte, and startup recovery must mark it interrupted.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyBundle } from '../../shared/recording/recordingBundle.ts';
import { recordingKeyId, verifyRecording } from '../../shared/recording/verifyRecording.ts';
import {
  describeWithPostgres,
  freshPostgresDatabase,
} from '../../test/harness/postgresForTests.ts';
import { openPostgresStore, openSqliteStore } from '../store/openStore.ts';
import type { RecordingStore } from '../store/recordingStore.ts';
import type { StoreHandle } from '../store/storeConnection.ts';
import { readRecording, readStoredBytes } from './fixtures/readRecording.ts';
import { crashAppendData } from './fixtures/recordUntilKilled.ts';
import { Recorder } from './recorder.ts';
import { RecordingArchive } from './recordingArchive.ts';
import {
  DatabaseChunkStorage,
  type RecordingStorage,
  SegmentFileStorage,
} from './recordingStorage.ts';
import { verifyStoredRecording } from './recordingVerification.ts';

const CHILD_SCRIPT = fileURLToPath(new URL('./fixtures/recordUntilKilled.ts', import.meta.url));
const SESSION_ID = 'ses_crash';
const OWNER = 'gwi_crashed';

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGKILL');
    }
  }
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/**
 * Starts the recording child and SIGKILLs it once it has appended `mebibytes` MiB and signed a
 * checkpoint past `mebibytes - 1` MiB.
 */
async function recordThenKill(
  dataDir: string,
  databaseUrl: string | undefined,
  mebibytes: number,
): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT], {
    env: {
      ...process.env,
      WITNESS_DATA_DIR: dataDir,
      WITNESS_SESSION_ID: SESSION_ID,
      WITNESS_OWNER: OWNER,
      ...(databaseUrl ? { WITNESS_DATABASE_URL: databaseUrl } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.once('exit', (_code, signal) => resolve(signal)),
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const last = (pattern: RegExp) => Number([...out.matchAll(pattern)].at(-1)?.[1] ?? 0);
      // Appended this far, and checkpointed to within a MiB of it (the assertions' premise).
      if (
        last(/appended (\d+)/g) >= mebibytes * 16 &&
        last(/checkpoint (\d+)/g) >= (mebibytes - 1) * 16
      ) {
        resolve();
      }
    });
    void exited.then(() => reject(new Error(`the recording child exited early:\n${stderr}`)));
  });
  // Mid-stream: the child is still appending as fast as it can when the signal lands.
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
}

function describeCrash(
  name: string,
  open: (dataDir: string) => Promise<{
    databaseUrl: string | undefined;
    openStore: () => Promise<RecordingStore & StoreHandle>;
    storage: (store: RecordingStore & StoreHandle) => RecordingStorage;
  }>,
): void {
  it(`${name}: a recording killed with SIGKILL verifies up to its last checkpoint and is marked interrupted`, async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'witness-crash-'));
    dirs.push(dataDir);
    const { privateKey } = generateKeyPairSync('ed25519');
    const publicKeyPem = createPublicKey(privateKey)
      .export({ type: 'spki', format: 'pem' })
      .toString();
    await writeFile(
      join(dataDir, 'recording-key.pem'),
      privateKey.export({ type: 'pkcs8', format: 'pem' }),
      { mode: 0o600 },
    );
    const setup = await open(dataDir);
    await recordThenKill(dataDir, setup.databaseUrl, 6);

    const store = await setup.openStore();
    try {
      const storage = setup.storage(store);
      const row = await store.getRecording(SESSION_ID);
      expect(row?.status).toBe('recording'); // nobody has looked yet

      // The offline verifier on the raw bytes: the prefix up to the last checkpoint verifies;
      // past it, at most a torn record.
      const bytes = await readStoredBytes(storage, SESSION_ID);
      const offline = await verifyRecording(bytes, {
        publicKeyPem,
        expectedSessionId: SESSION_ID,
      });
      expect(offline.verifiedThroughSeq).toBeGreaterThanOrEqual(5 * 16); // ≥ 5 MiB verified
      expect(offline.verifiedThroughSeq).toBeGreaterThanOrEqual(row?.lastCheckpointSeq ?? 0);
      expect(offline.final).toBe(false);
      if (offline.status === 'failed') expect(offline.firstBadSeq).toBe(offline.frames + 1);
      else expect(offline.status).toBe('partial');

      // Every verified frame holds exactly what was appended.
      const decoded = await readRecording(storage, SESSION_ID);
      const verified = decoded.events.filter((e) => e.seq <= offline.verifiedThroughSeq);
      expect(verified).toHaveLength(offline.verifiedThroughSeq);
      for (const event of verified) {
        expect(Buffer.from(event.data).equals(crashAppendData(event.seq - 1))).toBe(true);
      }

      // Restart: recovery marks it interrupted; the API's verification calls it partial.
      const restarted = new Recorder({
        store,
        storage,
        recordingKey: { keyId: recordingKeyId(publicKeyPem), privateKey },
        owner: OWNER,
      });
      expect(await restarted.recoverInterruptedRecordings()).toEqual([SESSION_ID]);
      const recovered = await store.getRecording(SESSION_ID);
      expect(recovered).toMatchObject({ status: 'interrupted' });
      expect(
        await verifyStoredRecording(
          storage,
          recovered ?? { sessionId: SESSION_ID, status: 'interrupted' },
          publicKeyPem,
        ),
      ).toMatchObject({
        status: 'partial',
        verifiedThroughSeq: offline.verifiedThroughSeq,
        firstBadSeq: null,
      });

      // The exported bundle leaves any torn tail out, so `witness verify` offline agrees.
      const archive = new RecordingArchive([storage], publicKeyPem);
      const bundleChunks: Uint8Array[] = [];
      for await (const chunk of archive.bundle({ ...recovered!, sessionId: SESSION_ID }, {})) {
        bundleChunks.push(chunk);
      }
      const bundleReport = await verifyBundle(Buffer.concat(bundleChunks), { publicKeyPem });
      expect(bundleReport).toMatchObject({
        status: 'partial',
        ok: true,
        verifiedThroughSeq: offline.verifiedThroughSeq,
      });
    } finally {
      await store.close();
    }
  }, 60_000);
}

describe('recorder crash (SIGKILL)', () => {
  describeCrash('segment files', async (dataDir) => ({
    databaseUrl: undefined,
    openStore: () => openSqliteStore(join(dataDir, 'witness.sqlite')),
    storage: () => new SegmentFileStorage(join(dataDir, 'recordings')),
  }));
});

describeWithPostgres('recorder crash (SIGKILL), PostgreSQL deployment', () => {
  describeCrash('database chunks', async () => {
    const databaseUrl = await freshPostgresDatabase();
    return {
      databaseUrl,
      openStore: () => openPostgresStore(databaseUrl),
      storage: (store) => new DatabaseChunkStorage(store),
    };
  });
});
