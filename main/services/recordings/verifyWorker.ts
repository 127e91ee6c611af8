/**
 * Worker thread entry: verifies, indexes and writes recording downloads off the main thread,
 * so a first open overlaps receiving (TLS, HTTP) with hashing, parsing and disk writes instead
 * of doing them in turn. The protocol is in verifyWorkerProtocol.ts; the main side is
 * backgroundVerifier.ts.
 *
 * Each job is the same single pass the main thread would run (`verifyInThread`); chunks arrive
 * in order. Each is written to the job's file (synchronously: this thread has nothing else to
 * do meanwhile, and the main thread no longer holds the download's chunks until the thread
 * pool writes them), then verified; the first chunk that fails verification is reported at
 * once, so the download stops without waiting for the rest.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { type VerificationPass, verifyInThread } from './verificationJob.ts';
import type { FromVerifyWorker, ToVerifyWorker } from './verifyWorkerProtocol.ts';

interface Job {
  pass: VerificationPass;
  failedEarly: boolean;
  fd: number;
  /** Bytes written to the file so far. */
  written: number;
}

const port = parentPort;
if (port === null) throw new Error('verifyWorker.ts runs as a worker thread');
const jobs = new Map<number, Job>();
const send = (message: FromVerifyWorker, transfer: ArrayBuffer[] = []) =>
  port.postMessage(message, transfer);

port.on('message', (message: ToVerifyWorker) => {
  try {
    handle(message);
  } catch (error) {
    const job = jobs.get(message.job);
    jobs.delete(message.job);
    if (job) closeQuietly(job.fd);
    send({ type: 'error', job: message.job, message: String(error) });
  }
});

function handle(message: ToVerifyWorker): void {
  if (message.type === 'start') {
    // The pass first: a key it refuses must not leave the file open.
    const pass = verifyInThread(message.publicKeyPem, message.sessionId);
    const fd = openSync(message.file, 'w');
    jobs.set(message.job, { pass, failedEarly: false, fd, written: 0 });
    return;
  }
  const job = jobs.get(message.job);
  if (job === undefined) return; // cancelled, or ended by an error
  if (message.type === 'chunk') {
    const { chunk, bytes } = message;
    const view = new Uint8Array(chunk, 0, bytes);
    // Written first: a failed recording is kept as far as it was received.
    for (let at = 0; at < bytes; ) {
      at += writeSync(job.fd, view, at, bytes - at, job.written + at);
    }
    job.written += bytes;
    if (!job.failedEarly && !job.pass.push(view)) {
      job.failedEarly = true;
      send({ type: 'failed', job: message.job });
    }
    // The buffer goes back to be filled again: nothing here may point into it any more.
    job.pass.releaseInput();
    send({ type: 'verified', job: message.job, bytes, chunk }, [chunk]);
  } else if (message.type === 'finish') {
    jobs.delete(message.job);
    closeSync(job.fd);
    const { report, index } = job.pass.finish();
    send({ type: 'done', job: message.job, report, index });
  } else {
    jobs.delete(message.job);
    closeQuietly(job.fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // Already closed, or the disk is gone: nothing more to save.
  }
}
