/**
 * BackgroundVerifier with its real worker thread (verifyWorker.ts, loaded through tsx as in
 * `npm start`): the same verdict, index and file as in-thread, an early stop on tampering, and
 * a lost worker falling back to the main thread without losing the recording.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as delay, setImmediate as turn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  buildSshRecording,
  generateRecordingKey,
  RecordingBuilder,
} from '../../../shared/recording/fixtures/recordingFixture.ts';
import { BackgroundVerifier, VerifierWorkerLostError } from './backgroundVerifier.ts';
import { RecordingCache } from './recordingCache.ts';
import { scanRecording } from './recordingIndex.ts';
import { type VerificationJob, verifyToFileInThread } from './verificationJob.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-bgverify-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const key = generateRecordingKey();

let files = 0;
/** A fresh path for a job's file. */
function nextFile(): string {
  files += 1;
  return path.join(dir, `download-${files}.wrec`);
}

async function feed(
  starting: Promise<VerificationJob>,
  bytes: Buffer,
  chunkBytes: number,
  paced = false,
) {
  const job = await starting;
  let pushed = 0;
  for (let at = 0; at < bytes.length; at += chunkBytes) {
    const ok = job.push(Buffer.from(bytes.subarray(at, at + chunkBytes)));
    pushed = Math.min(bytes.length, at + chunkBytes);
    if (!ok) break;
    // As a download would: the worker's answers arrive between chunks.
    await (paced ? delay(1) : turn());
  }
  return { pushed, outcome: await job.finish() };
}

/** 400 output frames of 1 KiB with a checkpoint every 50, final at the end. */
function longRecording(): RecordingBuilder {
  const r = new RecordingBuilder('ses_long', key, { meta: { protocol: 'ssh', user: 'alice' } });
  r.json('m', 1, { type: 'pty-req', term: 'xterm', cols: 80, rows: 24, width: 0, height: 0 });
  for (let i = 1; i <= 400; i++) {
    r.frame('o', 1, `${String(i).padStart(6, '0')} ${'x'.repeat(1010)}\r\n`);
    if (i % 50 === 0) r.checkpoint({ final: i === 400 });
  }
  return r;
}

describe('BackgroundVerifier', () => {
  it('verifies and indexes on the worker exactly as on the main thread', async () => {
    const logged: string[] = [];
    const verifiers = new BackgroundVerifier((line) => logged.push(line), { batchBytes: 2048 });
    try {
      for (const built of [buildSshRecording(key), longRecording()]) {
        const bytes = built.bytes();
        const file = path.join(dir, `${built.sessionId}.wrec`);
        writeFileSync(file, bytes);
        const workerFile = nextFile();
        const threadFile = nextFile();
        const inWorker = await feed(
          verifiers.start(key.publicKeyPem, built.sessionId, workerFile),
          bytes,
          700,
        );
        const inThread = await feed(
          verifyToFileInThread(key.publicKeyPem, built.sessionId, threadFile),
          bytes,
          700,
        );
        expect(inWorker.outcome.report.status).toBe('verified');
        expect(inWorker.outcome.report).toEqual(inThread.outcome.report);
        expect(inWorker.outcome.index).toEqual(await scanRecording(file));
        // Both wrote the download, byte for byte.
        expect(readFileSync(workerFile).equals(bytes)).toBe(true);
        expect(readFileSync(threadFile).equals(bytes)).toBe(true);
      }
      expect(logged).toEqual([]);
    } finally {
      await verifiers.dispose();
    }
  });

  it('a tampered frame fails at its seq, and stops the download early', async () => {
    const built = longRecording();
    const bytes = Buffer.from(built.bytes());
    const frame = built.indexOf('frame', 30);
    const at = built.offsetOf(frame) + 40; // a byte of frame 30's data
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x01, at);
    const verifiers = new BackgroundVerifier(() => {}, { batchBytes: 2048 });
    try {
      // Once the worker has loaded (a first job finished), its answers keep pace with a download.
      await feed(
        verifiers.start(key.publicKeyPem, 'ses_main', nextFile()),
        buildSshRecording(key).bytes(),
        512,
      );
      const file = nextFile();
      const { pushed, outcome } = await feed(
        verifiers.start(key.publicKeyPem, 'ses_long', file),
        bytes,
        1024,
        true,
      );
      expect(outcome.report.status).toBe('failed');
      expect(outcome.report.firstBadSeq).toBe(30);
      expect(outcome.index).toBeNull();
      // Frame 30 is ~31 KiB in; the stop comes a batch or two later, far before the end.
      expect(pushed).toBeLessThan(bytes.length / 4);
      // Every byte received is kept, the chunk the stop came on included.
      expect(readFileSync(file).equals(bytes.subarray(0, pushed))).toBe(true);
    } finally {
      await verifiers.dispose();
    }
  });

  it('fills the batch buffers the worker gives back instead of allocating one per batch', async () => {
    // The real worker, watched: the test sends the next batch once the last one came back, so
    // the count does not depend on how fast the worker runs on a loaded machine.
    let returned = 0;
    const watched = () => {
      const worker = new Worker(new URL('./verifyWorkerFromSource.mjs', import.meta.url));
      worker.on('message', (message: { type: string }) => {
        if (message.type === 'verified') returned += 1;
      });
      return worker;
    };
    const verifiers = new BackgroundVerifier(() => {}, { spawn: watched, batchBytes: 2048 });
    const allocations = vi.spyOn(Buffer, 'allocUnsafeSlow');
    try {
      const bytes = longRecording().bytes();
      const job = await verifiers.start(key.publicKeyPem, 'ses_long', nextFile());
      let sent = 0;
      for (let at = 0; at < bytes.length; at += 2048) {
        expect(job.push(Buffer.from(bytes.subarray(at, at + 2048)))).toBe(true);
        if (at + 2048 < bytes.length) sent += 1; // a full batch went out
        while (returned < sent) await delay(1);
      }
      const outcome = await job.finish();
      expect(outcome.report.status).toBe('verified');
      expect(sent).toBeGreaterThan(150);
      // One buffer, filled ~200 times (a fresh one per batch would be ~200 allocations).
      expect(allocations.mock.calls.length).toBeLessThanOrEqual(2);
    } finally {
      allocations.mockRestore();
      await verifiers.dispose();
    }
  });

  it("a file the worker cannot write fails that job only, with the disk's error", async () => {
    const verifiers = new BackgroundVerifier(() => {});
    try {
      const bytes = buildSshRecording(key).bytes();
      const unwritable = path.join(dir, 'no-such-folder', 'x.wrec');
      const failure = await feed(
        verifiers.start(key.publicKeyPem, 'ses_main', unwritable),
        bytes,
        4096,
      ).catch((error: unknown) => error);
      expect(String(failure)).toMatch(/could not verify and save the recording.*ENOENT/);
      // Not a lost worker: the same download on the main thread would fail the same way.
      expect(failure).not.toBeInstanceOf(VerifierWorkerLostError);
      // The worker itself is fine: the next download is verified on it.
      const next = await feed(
        verifiers.start(key.publicKeyPem, 'ses_main', nextFile()),
        bytes,
        4096,
      );
      expect(next.outcome.report.status).toBe('verified');
    } finally {
      await verifiers.dispose();
    }
  });

  it('a key the verifier refuses fails before any file is opened', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const verifiers = new BackgroundVerifier(() => {});
    try {
      for (const start of [
        (file: string) => verifiers.start(rsaPem, 'ses_main', file),
        (file: string) => verifyToFileInThread(rsaPem, 'ses_main', file),
      ]) {
        const file = nextFile();
        await expect(feed(start(file), buildSshRecording(key).bytes(), 4096)).rejects.toThrow(
          /Ed25519/,
        );
        expect(existsSync(file)).toBe(false);
      }
    } finally {
      await verifiers.dispose();
    }
  });

  it('a wrong key or another session fails the whole recording', async () => {
    const verifiers = new BackgroundVerifier(() => {});
    try {
      const bytes = buildSshRecording(key).bytes();
      const other = generateRecordingKey();
      const wrongKey = await feed(
        verifiers.start(other.publicKeyPem, 'ses_main', nextFile()),
        bytes,
        4096,
      );
      expect(wrongKey.outcome.report.status).toBe('failed');
      expect(wrongKey.outcome.report.firstBadSeq).toBe(0);
      const wrongSession = await feed(
        verifiers.start(key.publicKeyPem, 'ses_other', nextFile()),
        bytes,
        4096,
      );
      expect(wrongSession.outcome.report.status).toBe('failed');
    } finally {
      await verifiers.dispose();
    }
  });

  it('the Electron bundle worker (dist/main/verifyWorker.mjs, no tsx) verifies the same', async () => {
    // @ts-expect-error: a plain .mjs build script without type declarations
    const { buildMain } = (await import('../../../scripts/build-electron.mjs')) as {
      buildMain(options: { write: boolean }): Promise<{
        outputFiles: { path: string; contents: Uint8Array }[];
      }>;
    };
    const built = await buildMain({ write: false });
    const worker = built.outputFiles.find((f) => f.path.endsWith(`${path.sep}verifyWorker.mjs`));
    expect(worker, 'the bundle has a verifyWorker.mjs entry').toBeDefined();
    const file = path.join(dir, 'verifyWorker.mjs');
    writeFileSync(file, worker!.contents);
    const logged: string[] = [];
    const verifiers = new BackgroundVerifier((line) => logged.push(line), {
      spawn: () => new Worker(file),
    });
    try {
      const { outcome } = await feed(
        verifiers.start(key.publicKeyPem, 'ses_main', nextFile()),
        buildSshRecording(key).bytes(),
        300,
      );
      expect(outcome.report.status).toBe('verified');
      expect(outcome.index?.events.count).toBeGreaterThan(0);
      expect(logged).toEqual([]);
    } finally {
      await verifiers.dispose();
    }
  });

  it('holds the download while the worker is behind, and never leaves it waiting', async () => {
    // A worker that takes every chunk and verifies none of them.
    const stalled = () =>
      new Worker("require('node:worker_threads').parentPort.on('message', () => {});", {
        eval: true,
      });
    const verifiers = new BackgroundVerifier(() => {}, { spawn: stalled, batchBytes: 1 << 20 });
    const job = await verifiers.start(key.publicKeyPem, 'ses_main', nextFile());
    let pushed = 0;
    while (job.ready() === undefined) {
      expect(job.push(Buffer.alloc(1 << 20))).toBe(true);
      pushed += 1 << 20;
      expect(pushed, 'the download is held back before 10 MiB').toBeLessThan(10 << 20);
    }
    let released = false;
    const waiting = job.ready()!.then(() => {
      released = true;
    });
    await delay(200);
    expect(released).toBe(false);
    // The app closing ends the job: whoever waits to push is let go, and nothing is retried.
    await verifiers.dispose();
    await waiting;
    expect(released).toBe(true);
    await expect(job.finish()).rejects.toThrow('the app is closing');
    await expect(job.finish()).rejects.not.toBeInstanceOf(VerifierWorkerLostError);
  });

  it('a worker lost while the download waits for it does not leave the download hanging', async () => {
    // Takes chunks without verifying them, then dies while the download waits for it.
    const dying = () =>
      new Worker(
        `const { parentPort } = require('node:worker_threads');
         let chunks = 0;
         parentPort.on('message', (m) => {
           if (m.type === 'chunk' && ++chunks === 8) setTimeout(() => process.exit(4), 200);
         });`,
        { eval: true },
      );
    const verifiers = new BackgroundVerifier(() => {}, { spawn: dying, batchBytes: 1 << 20 });
    const job = await verifiers.start(key.publicKeyPem, 'ses_main', nextFile());
    let waits = 0;
    for (let i = 0; i < 24; i++) {
      job.push(Buffer.alloc(1 << 20));
      const behind = job.ready();
      if (behind) {
        waits += 1;
        await behind;
      }
    }
    expect(waits, 'the download did wait for the worker').toBeGreaterThan(0);
    await expect(job.finish()).rejects.toBeInstanceOf(VerifierWorkerLostError);
    await verifiers.dispose();
  });

  it('when the worker cannot start, verifies on the main thread and says so', async () => {
    const logged: string[] = [];
    const verifiers = new BackgroundVerifier((line) => logged.push(line), {
      spawn: () => {
        throw new Error('no threads here');
      },
    });
    const { outcome } = await feed(
      verifiers.start(key.publicKeyPem, 'ses_main', nextFile()),
      buildSshRecording(key).bytes(),
      100,
    );
    expect(outcome.report.status).toBe('verified');
    expect(logged.join('\n')).toMatch(/no threads here.*main thread/);
  });

  it('a worker lost mid-download: the cache downloads again and verifies on the main thread', async () => {
    const logged: string[] = [];
    // A worker that dies on its first chunk.
    const dying = () =>
      new Worker(
        `const { parentPort } = require('node:worker_threads');
         parentPort.on('message', (m) => { if (m.type === 'chunk') process.exit(3); });`,
        { eval: true },
      );
    const verifiers = new BackgroundVerifier((line) => logged.push(line), {
      spawn: dying,
      batchBytes: 1024,
    });
    const bytes = longRecording().bytes();
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += 4096) chunks.push(bytes.subarray(at, at + 4096));
    const cache = new RecordingCache(path.join(dir, 'cache'), verifiers);
    let downloads = 0;
    const verified = await cache.fetch(
      {
        downloadRecording: async () => {
          downloads += 1;
          return {
            body: Readable.from(chunks),
            contentType: 'application/octet-stream',
            contentLength: bytes.length,
          };
        },
      },
      {
        url: 'https://gw.test',
        recordingPublicKeyPem: key.publicKeyPem,
        recordingKeyFingerprint: 'fp',
      },
      'alice',
      'ses_long',
    );
    expect(verified.report.status).toBe('verified');
    expect(verified.bytes).toBe(bytes.length);
    expect(verified.index).not.toBeNull();
    // What the worker had not written went with it: the stream was fetched once more.
    expect(downloads).toBe(2);
    expect(readFileSync(verified.file).equals(bytes)).toBe(true);
    expect(logged.join('\n')).toMatch(/exited with code 3.*main thread/);
    // And the next download does not try the dead worker again.
    const again = await feed(
      verifiers.start(key.publicKeyPem, 'ses_main', nextFile()),
      buildSshRecording(key).bytes(),
      512,
    );
    expect(again.outcome.report.status).toBe('verified');
    await verifiers.dispose();
  });
});
