/**
 * The cold open indexes a recording in the download pass (recordingCache.ts: the verifier hands
 * each frame it accepts, with its record offset, to an IndexBuilder). That index must be the
 * very one a scan of the saved file builds, however the bytes were chunked on the way.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  buildSshRecording,
  generateRecordingKey,
} from '../../../shared/recording/fixtures/recordingFixture.ts';
import { BatchedFileWriter } from './batchedFileWriter.ts';
import { scanRecording } from './recordingIndex.ts';
import { verifyInThread } from './verificationJob.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-onepass-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const key = generateRecordingKey();

function recording(): Buffer {
  const r = buildSshRecording(key);
  return r.bytes();
}

/** The download's pass (verificationJob.ts) over `bytes`, cut into chunks of `chunkBytes`. */
async function indexInOnePass(bytes: Buffer, chunkBytes: number) {
  const pass = verifyInThread(key.publicKeyPem, 'ses_main');
  for (let at = 0; at < bytes.length; at += chunkBytes) {
    pass.push(Buffer.from(bytes.subarray(at, at + chunkBytes)));
  }
  return pass.finish();
}

describe('index built while verifying', () => {
  it('equals the scan of the file, for any chunking', async () => {
    const bytes = recording();
    const file = path.join(dir, 'ses_main.wrec');
    writeFileSync(file, bytes);
    const scanned = await scanRecording(file);
    expect(scanned.events.count).toBeGreaterThan(0);
    for (const chunkBytes of [1, 3, 7, 64, 1000, bytes.length]) {
      const { report, index } = await indexInOnePass(bytes, chunkBytes);
      expect(report.status).toBe('verified');
      expect(index).toEqual(scanned);
    }
  });
});

describe('BatchedFileWriter', () => {
  it('writes every chunk, in order, across batches', async () => {
    const file = path.join(dir, 'batched.bin');
    const handle = await open(file, 'w');
    const writer = new BatchedFileWriter(handle, 1000);
    const chunks: Buffer[] = [];
    for (let i = 0; i < 500; i++) chunks.push(Buffer.alloc(1 + (i % 37), i % 251));
    for (const chunk of chunks) await writer.write(chunk);
    await writer.flush();
    await handle.close();
    expect(readFileSync(file).equals(Buffer.concat(chunks))).toBe(true);
  });

  it('reports a write error on the next write or flush', async () => {
    const file = path.join(dir, 'readonly.bin');
    writeFileSync(file, '');
    const handle = await open(file, 'r');
    const writer = new BatchedFileWriter(handle, 10);
    await writer.write(Buffer.alloc(20)); // starts a batch on a read-only handle
    await expect(writer.flush()).rejects.toThrow();
    await handle.close();
  });
});
